"""Reading and writing descriptions.

Two file kinds:

* **Model files** (``models/*.yaml``): a parametrised template. Sizes, weights and slices
  may be expressions in the declared parameters (``size: C + K``, ``pre: "input[C:C+K]"``).
  :func:`read_model` parses and checks one; :meth:`ModelSpec.build` turns it into a
  :class:`~neurohop.model.network.Network` for given parameter values. Extra top-level
  sections (for example ``protocol:`` of the CA3 memory) are kept for the code that owns
  them (:meth:`ModelSpec.section`).
* **Saved networks** (``*.npz``): a concrete network with all arrays (for example learned
  weights), written by :func:`save_network` and read by :func:`load_network`.

Every error names the file and the field.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from neurohop.errors import ModelError, ModelFileError
from neurohop.model.expr import evaluate
from neurohop.model.network import Network, Population, PopRef, Projection
from neurohop.model.neurons import NEURON_MODELS, SpikeSource
from neurohop.model.synapses import STDP, FromList, _parse_connector

__all__ = ["ModelSpec", "parse_ref", "read_model", "load_model", "save_network", "load_network", "load", "network_to_dict", "network_from_dict", "atomic_write"]

_TOP_KEYS = {"format", "name", "description", "reference", "parameters", "neuron_types", "plasticity", "populations", "projections", "record"}
_REF_SLICE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\[(.*):(.*)\]\s*$")


def resolve_model_path(path: str | os.PathLike[str], what: str = "model file", search: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Accept a path, or the bare name of a model file on the search path.

    The search path is ``search``, then the folders of ``NEUROHOP_PATH``, then the models that
    ship with neurohop (:mod:`neurohop.resources`).
    """
    from neurohop import resources

    p = Path(path)
    if p.is_file():
        return p
    found = resources.find("models", str(path), extra=search)
    if found is not None:
        return found
    known = resources.names("models", extra=search)
    raise ModelFileError(f"{path}: {what} not found (not a file; known model names: {known}; more folders: the {resources.ENV_VAR} environment variable)")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model file: the raw document plus its parameter declarations."""

    path: Path
    doc: Mapping[str, Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.doc.get("name", self.path.stem))

    def section(self, key: str) -> Mapping[str, Any]:
        """A top-level section owned by feature code (e.g. ``protocol``); error if missing."""
        if key not in self.doc or not isinstance(self.doc[key], Mapping):
            raise ModelFileError(f"{self.path}: missing section {key!r} (a mapping)")
        return self.doc[key]

    def parameters(self, **overrides: Any) -> dict[str, Any]:
        """Default parameters updated with ``overrides``, checked against declared limits."""
        params = dict(self.defaults)
        for key, value in overrides.items():
            if key not in params:
                raise ModelFileError(f"{self.path}: unknown parameter {key!r}; declared: {sorted(params)}")
            params[key] = value
        for key, value in params.items():
            lo, hi = self.limits.get(key, (None, None))
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ModelFileError(f"{self.path}: parameter {key}: expected a number (got {value!r})")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ModelFileError(f"{self.path}: parameter {key}: expected a value in [{lo}, {hi}] (got {value!r})")
        return params

    def build(self, **overrides: Any) -> Network:
        """Instantiate the network for the given parameter values."""
        params = self.parameters(**overrides)
        return _build_from_doc(self.path, self.doc, params)


def _err(path: Path, where: str, exc: Exception | str) -> ModelFileError:
    return ModelFileError(f"{path}: {where}: {exc}")


def read_yaml_document(path: Path, *, format: str | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; check its ``format:`` and required fields.

    Shared by every file kind of the project (models, targets, HLOP settings); errors name the
    file and the field.
    """
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path}: expected a mapping at the top level (got {type(doc).__name__})")
    if format is not None and doc.get("format") != format:
        raise ModelFileError(f"{path}: format: expected {format!r} (got {doc.get('format')!r})")
    for key in required:
        if key not in doc:
            raise ModelFileError(f"{path}: missing field {key!r}")
    return doc


def read_model(path: str | os.PathLike[str]) -> ModelSpec:
    """Read and check a model file (YAML). Raises :class:`ModelFileError` naming file and field."""
    p = resolve_model_path(path)
    doc = read_yaml_document(p, format="neurohop-model/1", required=("populations",))
    defaults: dict[str, Any] = {}
    limits: dict[str, tuple[Any, Any]] = {}
    for key, spec in (doc.get("parameters") or {}).items():
        if isinstance(spec, Mapping):
            if "default" not in spec:
                raise ModelFileError(f"{p}: parameters.{key}: missing 'default'")
            defaults[key] = spec["default"]
            limits[key] = (spec.get("min"), spec.get("max"))
        else:
            defaults[key] = spec
    model = ModelSpec(p, doc, defaults, limits)
    if "populations" in doc and not isinstance(doc["populations"], list):
        raise ModelFileError(f"{p}: populations: expected a list")
    model.build()  # check the defaults build a valid network
    return model


def load_model(path: str | os.PathLike[str], **params: Any) -> Network:
    """Read a model file and build its network with the given parameters."""
    return read_model(path).build(**params)


def _neuron_from_spec(path: Path, where: str, spec: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]], names: Mapping[str, Any], depth: int = 0) -> Any:
    spec = dict(spec)
    if "like" in spec:
        base = spec.pop("like")
        if base not in types or depth > 8:
            raise _err(path, where, f"'like: {base}' names no neuron type; known: {sorted(types)}")
        merged = dict(types[base])
        merged.update(spec)
        return _neuron_from_spec(path, where, merged, types, names, depth + 1)
    kind = spec.pop("model", "lif")
    if kind not in NEURON_MODELS:
        raise _err(path, f"{where}.model", f"unknown neuron model {kind!r}; supported: {sorted(NEURON_MODELS)}")
    cls = NEURON_MODELS[kind]
    values = {k: evaluate(v, names, f"{path}: {where}.{k}") for k, v in spec.items()}
    allowed = set(cls.__dataclass_fields__)
    for k in values:
        if k not in allowed:
            raise _err(path, f"{where}.{k}", f"unknown parameter of {kind!r}; expected one of {sorted(allowed)}")
    try:
        return cls(**values)
    except ModelError as exc:
        raise _err(path, where, exc) from None


def parse_ref(path: Path | str, where: str, ref: Any, names: Mapping[str, Any]) -> PopRef:
    """Parse ``"pop"`` or ``"pop[a:b]"`` where ``a``/``b`` may be expressions in ``names``."""
    if not isinstance(ref, str):
        raise _err(path, where, f"expected 'population' or 'population[a:b]' (got {ref!r})")
    m = _REF_SLICE.match(ref)
    if not m:
        try:
            return PopRef.parse(ref)
        except ModelError as exc:
            raise _err(path, where, exc) from None
    name, a, b = m.groups()
    start = evaluate(a, names, f"{path}: {where}") if a.strip() else 0
    stop = evaluate(b, names, f"{path}: {where}") if b.strip() else None
    return PopRef(name, int(start), None if stop is None else int(stop))


def _build_from_doc(path: Path, doc: Mapping[str, Any], params: Mapping[str, Any]) -> Network:
    names = dict(params)
    types = doc.get("neuron_types") or {}
    if not isinstance(types, Mapping):
        raise _err(path, "neuron_types", "expected a mapping of name -> parameters")
    rules: dict[str, STDP] = {}
    for key, spec in (doc.get("plasticity") or {}).items():
        spec = dict(spec)
        rule = spec.pop("rule", "stdp")
        if rule != "stdp":
            raise _err(path, f"plasticity.{key}.rule", f"unknown rule {rule!r}; supported: ['stdp']")
        try:
            rules[key] = STDP(**{k: evaluate(v, names, f"{path}: plasticity.{key}.{k}") for k, v in spec.items()})
        except TypeError as exc:
            raise _err(path, f"plasticity.{key}", exc) from None
        except ModelError as exc:
            raise _err(path, f"plasticity.{key}", exc) from None
    record_all = doc.get("record", "all")
    pops = []
    for i, spec in enumerate(doc.get("populations") or []):
        where = f"populations[{i}]"
        if not isinstance(spec, Mapping) or "name" not in spec or "size" not in spec:
            raise _err(path, where, "expected a mapping with 'name' and 'size'")
        where = f"populations[{i}] ({spec['name']})"
        size = evaluate(spec["size"], names, f"{path}: {where}.size")
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if "neuron" in spec:
            if spec["neuron"] not in types:
                raise _err(path, f"{where}.neuron", f"unknown neuron type {spec['neuron']!r}; known: {sorted(types)}")
            model = _neuron_from_spec(path, f"neuron_types.{spec['neuron']}", types[spec["neuron"]], types, names)
        elif spec.get("model") == "spike_source":
            model = SpikeSource(tuple(spec.get("times", ())))
        else:
            raise _err(path, where, "expected 'neuron: TYPE' or 'model: spike_source'")
        record = spec.get("record")
        if record is None:
            record = ("spikes",) if record_all in ("all", "spikes") else ()
        try:
            pops.append(Population(str(spec["name"]), size, model, tuple(record) if not isinstance(record, str) else (record,)))
        except ModelError as exc:
            raise _err(path, where, exc) from None
    projs = []
    for i, spec in enumerate(doc.get("projections") or []):
        where = f"projections[{i}]"
        if not isinstance(spec, Mapping):
            raise _err(path, where, "expected a mapping")
        for key in ("name", "pre", "post", "connector"):
            if key not in spec:
                raise _err(path, where, f"missing field {key!r}")
        where = f"projections[{i}] ({spec['name']})"
        plastic = spec.get("plasticity")
        if plastic is not None and plastic not in rules:
            raise _err(path, f"{where}.plasticity", f"unknown rule {plastic!r}; declared: {sorted(rules)}")
        try:
            projs.append(
                Projection(
                    name=str(spec["name"]),
                    pre=parse_ref(path, f"{where}.pre", spec["pre"], names),
                    post=parse_ref(path, f"{where}.post", spec["post"], names),
                    connector=_parse_connector(spec["connector"]),
                    weight=evaluate(spec.get("weight", 0.0), names, f"{path}: {where}.weight"),
                    delay=evaluate(spec.get("delay", 1), names, f"{path}: {where}.delay"),
                    receptor=spec.get("receptor", "excitatory"),
                    plasticity=rules[plastic] if plastic else None,
                )
            )
        except ModelFileError:
            raise
        except ModelError as exc:
            raise _err(path, where, exc) from None
    try:
        return Network(tuple(pops), tuple(projs), name=str(doc.get("name", path.stem)), metadata={"model_file": str(path), "parameters": dict(params)})
    except ModelError as exc:
        raise _err(path, "network", exc) from None


# ---------------------------------------------------------------------------------------
# Concrete networks <-> plain dicts (+ arrays), used by save/load and by exporters.


def network_to_dict(net: Network) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Describe ``net`` as a JSON-able dict plus a dict of named arrays it refers to."""
    arrays: dict[str, np.ndarray] = {}

    def put(key: str, value: Any) -> Any:
        if np.isscalar(value):
            return value
        arrays[key] = np.asarray(value)
        return {"array": key}

    pops = []
    for pop in net.populations:
        entry: dict[str, Any] = {"name": pop.name, "size": pop.size, "record": list(pop.record)}
        if isinstance(pop.model, SpikeSource):
            entry["model"] = {"model": "spike_source", "times": [list(t) for t in pop.model.times]}
        else:
            entry["model"] = pop.model.to_dict()
        if pop.initial:
            entry["initial"] = {var: put(f"{pop.name}.initial.{var}", values) for var, values in pop.initial.items()}
        if pop.parameters:
            entry["parameters"] = {name: put(f"{pop.name}.parameters.{name}", values) for name, values in pop.parameters.items()}
        pops.append(entry)
    projs = []
    for proj in net.projections:
        entry = {
            "name": proj.name,
            "pre": str(proj.pre),
            "post": str(proj.post),
            "receptor": proj.receptor,
            "weight": put(f"{proj.name}.weight", proj.weight),
            "delay": put(f"{proj.name}.delay", proj.delay),
            "plasticity": proj.plasticity.to_dict() if proj.plasticity else None,
        }
        if isinstance(proj.connector, FromList):
            entry["connector"] = {"kind": "from_list", "pairs": put(f"{proj.name}.pairs", np.stack([proj.connector.pre_indices, proj.connector.post_indices], 1))}
        else:
            entry["connector"] = proj.connector.to_dict()
        projs.append(entry)
    meta = json.loads(json.dumps(dict(net.metadata), default=str))
    return {"format": "neurohop-network/1", "name": net.name, "metadata": meta, "populations": pops, "projections": projs}, arrays


def network_from_dict(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray], source: str = "<dict>") -> Network:
    """Inverse of :func:`network_to_dict`; errors name ``source`` and the field."""

    def get(value: Any, where: str) -> Any:
        if isinstance(value, Mapping) and "array" in value:
            if value["array"] not in arrays:
                raise ModelFileError(f"{source}: {where}: refers to missing array {value['array']!r}")
            return np.asarray(arrays[value["array"]])
        return value

    if doc.get("format") != "neurohop-network/1":
        raise ModelFileError(f"{source}: format: expected 'neurohop-network/1' (got {doc.get('format')!r})")
    try:
        pops = []
        for i, p in enumerate(doc["populations"]):
            spec = dict(p["model"])
            kind = spec.pop("model")
            if kind == "spike_source":
                model = SpikeSource(tuple(tuple(t) for t in spec.get("times", ())))
            elif kind in NEURON_MODELS:
                model = NEURON_MODELS[kind](**spec)
            else:
                raise ModelFileError(f"{source}: populations[{i}].model: unknown model {kind!r}")
            initial = {var: get(value, f"populations[{i}].initial.{var}") for var, value in dict(p.get("initial", {})).items()}
            per_neuron = {name: get(value, f"populations[{i}].parameters.{name}") for name, value in dict(p.get("parameters", {})).items()}
            pops.append(Population(p["name"], int(p["size"]), model, tuple(p.get("record", ("spikes",))), initial, per_neuron))
        projs = []
        for i, p in enumerate(doc["projections"]):
            conn = dict(p["connector"])
            if conn.get("kind") == "from_list":
                conn["pairs"] = get(conn["pairs"], f"projections[{i}].connector.pairs")
            rule = p.get("plasticity")
            if rule is not None:
                rule = dict(rule)
                rule.pop("rule", None)
                rule = STDP(**rule)
            projs.append(
                Projection(
                    name=p["name"],
                    pre=p["pre"],
                    post=p["post"],
                    connector=_parse_connector(conn),
                    weight=get(p["weight"], f"projections[{i}].weight"),
                    delay=get(p["delay"], f"projections[{i}].delay"),
                    receptor=p["receptor"],
                    plasticity=rule,
                )
            )
        return Network(tuple(pops), tuple(projs), name=doc.get("name", "network"), metadata=doc.get("metadata", {}))
    except ModelFileError:
        raise
    except ModelError as exc:
        raise ModelFileError(f"{source}: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{source}: malformed network description: missing or wrong field {exc}") from None


def atomic_write(path: str | os.PathLike[str], write: Any, suffix: str = "") -> Path:
    """Write a file through a temporary sibling and rename it, so no half-written file remains.

    ``write`` is called with the temporary path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def save_network(net: Network, path: str | os.PathLike[str]) -> Path:
    """Save a concrete network (with all its arrays) to an ``.npz`` file."""
    doc, arrays = network_to_dict(net)
    payload = {"network_json": np.array(json.dumps(doc))}
    payload.update({f"array:{k}": v for k, v in arrays.items()})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    return atomic_write(path, write, suffix=".npz")


def load_network(path: str | os.PathLike[str]) -> Network:
    """Load a network saved by :func:`save_network`."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            if "network_json" not in data.files:
                raise ModelFileError(f"{p}: not a neurohop network file (no 'network_json' entry)")
            doc = json.loads(str(data["network_json"]))
            arrays = {k[len("array:"):]: data[k] for k in data.files if k.startswith("array:")}
    except ModelFileError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{p}: cannot read a saved network: {exc}") from None
    return network_from_dict(doc, arrays, source=str(p))


def load(path: str | os.PathLike[str], **params: Any) -> Network:
    """Load a model file (``.yaml``/``.yml``, with parameters) or a saved network (``.npz``)."""
    p = Path(path)
    if p.suffix == ".npz":
        if params:
            raise ModelFileError(f"{p}: a saved network takes no parameters (got {sorted(params)})")
        return load_network(p)
    return load_model(p, **params)
