"""Reading and writing descriptions.

Two file kinds:

* **Model files** (``*.yaml``; the packaged ones in ``neurohop/resources/models/``, found by
  bare name, :func:`resolve_model_path`): a parametrised template. Sizes, weights and slices
  may be expressions in the declared parameters (``size: C + K``, ``pre: "input[C:C+K]"``).
  :func:`read_model` parses and checks one; :meth:`ModelSpec.build` turns it into a
  :class:`~neurohop.model.network.Network` for given parameter values. Extra top-level
  sections (for example ``protocol:`` of the CA3 memory) are kept for the code that owns
  them (:meth:`ModelSpec.section`).
* **Saved networks** (``*.npz``): a concrete network with all arrays (for example learned
  weights), written by :func:`save_network` and read by :func:`load_network`.

Every error names the file and the field. Files are read and written through
:mod:`neurohop.files` (``atomic_write`` and ``read_yaml_document`` are re-exported here for
older imports).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from neurohop.errors import ModelError, ModelFileError
from neurohop.files import atomic_write, check_finite, check_keys, check_memory, is_finite_number, json_member, read_npz, read_yaml_document, suggest
from neurohop.model.distributions import DISTRIBUTIONS, Distribution
from neurohop.model.expr import evaluate
from neurohop.model.network import Network, Population, PopRef, Projection
from neurohop.model.neurons import NEURON_MODELS, SpikeSource
from neurohop.model.synapses import PLASTICITY_RULES, FromList, OneToOne, PlasticityRule, connector_keys, parse_connector

__all__ = ["ModelSpec", "parse_ref", "read_model", "load_model", "save_network", "load_network", "load", "network_to_dict", "network_from_dict", "atomic_write"]

_TOP_KEYS = {"format", "name", "description", "reference", "parameters", "neuron_types", "plasticity", "populations", "projections", "record"}
#: Top-level sections owned by feature code (read through :meth:`ModelSpec.section`).
FEATURE_SECTIONS = {"protocol", "recording_map", "demo"}
_PARAM_KEYS = {"default", "min", "max", "doc"}
_POP_KEYS = {"name", "size", "neuron", "model", "times", "record", "initial", "parameters"}
_PROJ_KEYS = {"name", "pre", "post", "connector", "weight", "delay", "receptor", "plasticity"}
#: Bytes per neuron and per synapse assumed when checking that a network fits in memory
#: (state and parameters per neuron; index, weight and delay arrays plus their expansion
#: per synapse).
NEURON_BYTES = 64
SYNAPSE_BYTES = 48
#: Bytes per slot of a delay line (one per target neuron and step of the longest delay).
DELAY_BYTES = 8
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
                raise ModelFileError(f"{self.path}: unknown parameter {key!r}{suggest(key, params)} (declared: {sorted(params)})")
            params[key] = value
        for key, value in params.items():
            lo, hi = self.limits.get(key, (None, None))
            if not is_finite_number(value):
                raise ModelFileError(f"{self.path}: parameter {key}: expected a finite number (got {value!r})")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ModelFileError(f"{self.path}: parameter {key}: expected a value in [{lo}, {hi}] (got {value!r})")
        return params

    def build(self, **overrides: Any) -> Network:
        """Instantiate the network for the given parameter values."""
        params = self.parameters(**overrides)
        return _build_from_doc(self.path, self.doc, params)


def _err(path: Path, where: str, exc: Exception | str) -> ModelFileError:
    return ModelFileError(f"{path}: {where}: {exc}")


def _eval_field(value: Any, names: Mapping[str, Any], where: str) -> Any:
    """:func:`neurohop.model.expr.evaluate`, its errors raised as :class:`ModelFileError`
    (``where`` already names the file and field). Every such field is a number: a YAML
    boolean (``true``, ``yes``, ``on``) is refused rather than read as 1."""
    if isinstance(value, bool):
        raise ModelFileError(f"{where}: expected a number or an expression (got {value!r})")
    try:
        return evaluate(value, names, where)
    except ModelFileError:
        raise
    except ModelError as exc:
        raise ModelFileError(str(exc)) from None


def _check_number(path: Path, where: str, value: Any) -> None:
    if not is_finite_number(value):
        raise _err(path, where, f"expected a finite number (got {value!r})")


def read_model(path: str | os.PathLike[str]) -> ModelSpec:
    """Read and check a model file (YAML). Raises :class:`ModelFileError` naming file and field.

    Unknown keys (top level, parameters, populations, projections, connectors, plasticity
    rules, neuron types) are refused with the closest known key suggested; the default
    parameters must build a network that fits in the available memory.
    """
    p = resolve_model_path(path)
    doc = read_yaml_document(p, format="neurohop-model/1", required=("populations",))
    check_keys(doc, _TOP_KEYS | FEATURE_SECTIONS, f"{p}: ")
    for key in ("name", "description", "reference"):
        if key in doc and not isinstance(doc[key], str):
            raise _err(p, key, f"expected text (got {type(doc[key]).__name__} {doc[key]!r:.60})")
    defaults: dict[str, Any] = {}
    limits: dict[str, tuple[Any, Any]] = {}
    declared = {} if doc.get("parameters") is None else doc["parameters"]  # `parameters: 0` or `false` is an error, not empty
    if not isinstance(declared, Mapping):
        raise _err(p, "parameters", f"expected a mapping of name -> default or {{default, min, max}} (got {type(declared).__name__})")
    for key, spec in declared.items():
        where = f"parameters.{key}"
        if not isinstance(key, str) or not key.isidentifier():
            raise _err(p, where, "expected an identifier as parameter name")
        if isinstance(spec, Mapping):
            check_keys(spec, _PARAM_KEYS, f"{p}: {where}")
            if "default" not in spec:
                raise ModelFileError(f"{p}: {where}: missing 'default'")
            for bound in ("default", "min", "max"):
                if spec.get(bound) is not None:
                    _check_number(p, f"{where}.{bound}", spec[bound])
            defaults[key] = spec["default"]
            limits[key] = (spec.get("min"), spec.get("max"))
        else:
            _check_number(p, where, spec)
            defaults[key] = spec
    model = ModelSpec(p, doc, defaults, limits)
    if "populations" in doc and not isinstance(doc["populations"], list):
        raise ModelFileError(f"{p}: populations: expected a list")
    model.build()  # check the defaults build a valid network
    return model


def load_model(path: str | os.PathLike[str], **params: Any) -> Network:
    """Read a model file and build its network with the given parameters."""
    return read_model(path).build(**params)


def _neuron_from_spec(path: Path, where: str, spec: Any, types: Mapping[str, Any], names: Mapping[str, Any], depth: int = 0) -> Any:
    if not isinstance(spec, Mapping):
        raise _err(path, where, f"expected a mapping of neuron parameters (got {type(spec).__name__})")
    spec = dict(spec)
    if "like" in spec:
        base = spec.pop("like")
        if not isinstance(base, str) or base not in types or depth > 8:
            raise _err(path, f"{where}.like", f"names no neuron type{suggest(str(base), types)} (known: {sorted(types)}; at most 8 levels)")
        if not isinstance(types[base], Mapping):
            raise _err(path, f"neuron_types.{base}", f"expected a mapping of neuron parameters (got {type(types[base]).__name__})")
        merged = dict(types[base])
        merged.update(spec)
        return _neuron_from_spec(path, where, merged, types, names, depth + 1)
    kind = spec.pop("model", "lif")
    if not isinstance(kind, str) or kind not in NEURON_MODELS or kind == "spike_source":
        known = sorted(k for k in NEURON_MODELS if k != "spike_source")
        raise _err(path, f"{where}.model", f"unknown neuron model {kind!r}{suggest(str(kind), known)} (supported: {known})")
    cls = NEURON_MODELS[kind]
    fields_ = {f.name: f for f in dataclasses.fields(cls) if f.init}
    check_keys(spec, fields_, f"{path}: {where}")
    # text choices (CubaLIF.reset) are taken as written, numbers may be expressions
    text_fields = {k for k, f in fields_.items() if f.type in ("str", str)}
    values = {k: (v if k in text_fields else _eval_field(v, names, f"{path}: {where}.{k}")) for k, v in spec.items()}
    try:
        return cls(**values)
    except (ModelError, OverflowError) as exc:
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
    start = _eval_field(a, names, f"{path}: {where}") if a.strip() else 0
    stop = _eval_field(b, names, f"{path}: {where}") if b.strip() else None
    return PopRef(name, int(start), None if stop is None else int(stop))


def _mapping(path: Path, where: str, value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _err(path, where, f"expected {what} (got {type(value).__name__})")
    return value


def _int_array(value: Any, where: str) -> np.ndarray:
    """An array of whole numbers (index pairs, delays) as int64; refuses fractions, NaN, overflow."""
    a = np.asarray(value)
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.size and a.max() >= 2**63:
            raise ModelError(f"{where}: expected whole numbers below 2**63 (got {a.max()})")
        return a.astype(np.int64)
    if a.dtype.kind == "b" or (a.size and a.dtype.kind != "f"):
        raise ModelError(f"{where}: expected whole numbers (got dtype {a.dtype})")
    if a.size and not (np.all(np.isfinite(a)) and np.all(np.abs(a) < 2**62) and np.all(a == np.round(a))):
        raise ModelError(f"{where}: expected whole numbers (got non-integer, non-finite or huge values)")
    return a.astype(np.int64)


def _whole(value: Any, where: str) -> Any:
    return value if np.isscalar(value) or value is None else _int_array(value, where)


def _connector(spec: Any, where: str, names: Mapping[str, Any] | None = None) -> Any:
    """``parse_connector`` with ``from_list`` pairs checked as whole numbers first and, in a
    model file (``names`` given), ``fixed_probability``'s ``p`` and ``seed`` read as expressions."""
    if isinstance(spec, Mapping) and spec.get("kind") == "from_list" and "pairs" in spec:
        spec = dict(spec)
        spec["pairs"] = _int_array(spec["pairs"], f"{where}.connector.pairs")
    if names is not None and isinstance(spec, Mapping) and spec.get("kind") == "fixed_probability":
        spec = dict(spec)
        for key in ("p", "seed"):
            if key in spec:
                spec[key] = _eval_field(spec[key], names, f"{where}.connector.{key}")
    return parse_connector(spec)


def _per_neuron_spec(path: Path, where: str, value: Any, names: Mapping[str, Any]) -> dict[str, Any]:
    """A population's ``initial`` / ``parameters`` section of a model file: each entry a
    seeded distribution ``{uniform: [low, high], seed: s}`` (arguments and seed may be
    expressions) or a list of numbers, one per neuron."""
    out: dict[str, Any] = {}
    for key, given in _mapping(path, where, value, "a mapping of name -> distribution or list of values").items():
        here = f"{path}: {where}.{key}"
        if isinstance(given, Mapping):
            spec: dict[str, Any] = {}
            for k, v in given.items():
                if k in DISTRIBUTIONS:
                    if not isinstance(v, list):
                        raise ModelFileError(f"{here}.{k}: expected a list of arguments [{', '.join(DISTRIBUTIONS[k])}] (got {v!r})")
                    spec[k] = [_eval_field(x, names, f"{here}.{k}") for x in v]
                elif k == "seed":
                    spec[k] = _eval_field(v, names, f"{here}.seed")
                else:
                    spec[k] = v  # refused, with the supported kinds, by Distribution.from_spec
            try:
                out[key] = Distribution.from_spec(spec)
            except ModelError as exc:
                raise ModelFileError(f"{here}: {exc}") from None
        elif isinstance(given, list):
            out[key] = [_eval_field(x, names, f"{here}") for x in given]
        else:
            raise ModelFileError(f"{here}: expected a distribution such as {{uniform: [low, high], seed: 1}} or a list of values, one per neuron (got {given!r})")
    return out


def check_network_memory(pops: Sequence[Population], projs: Sequence[Projection], where: str) -> None:
    """Refuse a network whose neurons and synapses would not fit in the available memory.

    Counts neurons and synapses from the sizes and connectors alone (nothing is allocated;
    :meth:`~neurohop.model.synapses.Connector.estimate`, the expected count for a random connector),
    at :data:`NEURON_BYTES` per neuron, :data:`SYNAPSE_BYTES` per synapse and :data:`DELAY_BYTES`
    per delay-line slot (target neurons x longest delay), and compares with
    :func:`neurohop.files.available_memory`. Raises :class:`~neurohop.errors.CapacityError`.
    """
    sizes = {p.name: int(p.size) for p in pops}
    neurons = sum(sizes.values())
    synapses = 0
    delay_slots = 0  # Python integers throughout: exact, whatever the sizes
    for proj in projs:
        if proj.pre.population not in sizes or proj.post.population not in sizes:
            continue  # reported by Network
        try:
            a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
            b0, b1 = proj.post.resolve(sizes[proj.post.population])
        except ModelError:
            continue  # reported by Network
        n_pre, n_post = a1 - a0, b1 - b0
        if isinstance(proj.connector, OneToOne):
            synapses += min(n_pre, n_post)  # unequal sides are reported by Network
        else:  # from the sizes alone: exact for all-to-all and lists, expected for fixed_probability
            synapses += proj.connector.estimate(n_pre, n_post)
        delay = proj.delay if np.isscalar(proj.delay) else (int(np.max(proj.delay)) if np.size(proj.delay) else 1)
        delay_slots += int(delay) * (b1 - b0)
    check_memory(
        neurons * NEURON_BYTES + int(synapses) * SYNAPSE_BYTES + delay_slots * DELAY_BYTES,
        f"a network of {_count(neurons)} neurons and {_count(synapses)} synapses",
        where,
    )


def _count(n: int) -> str:
    """A count for a message: ``1.2e+07``, or ``about 10^3010`` where a float cannot hold it."""
    return f"{n:.3g}" if int(n).bit_length() <= 1023 else f"about 10^{len(str(int(n))) - 1}"


def _build_from_doc(path: Path, doc: Mapping[str, Any], params: Mapping[str, Any]) -> Network:
    names = dict(params)
    types = _mapping(path, "neuron_types", doc.get("neuron_types"), "a mapping of name -> parameters")
    rules: dict[str, PlasticityRule] = {}
    for key, spec in _mapping(path, "plasticity", doc.get("plasticity"), "a mapping of name -> rule").items():
        spec = dict(_mapping(path, f"plasticity.{key}", spec, "a mapping of rule parameters"))
        rule = spec.pop("rule", "stdp")
        if not isinstance(rule, str) or rule not in PLASTICITY_RULES:
            raise _err(path, f"plasticity.{key}.rule", f"unknown rule {rule!r}; supported: {list(PLASTICITY_RULES)}")
        cls = PLASTICITY_RULES[rule]
        check_keys(spec, {f.name for f in dataclasses.fields(cls)}, f"{path}: plasticity.{key}")
        try:
            rules[key] = cls(**{k: _eval_field(v, names, f"{path}: plasticity.{key}.{k}") for k, v in spec.items()})
        except (TypeError, ModelError, OverflowError) as exc:
            raise _err(path, f"plasticity.{key}", exc) from None
    record_all = doc.get("record", "all")
    if record_all not in ("all", "spikes", "none", None):
        raise _err(path, "record", f"expected 'all', 'spikes' or 'none' (got {record_all!r})")
    pops = []
    populations = [] if doc.get("populations") is None else doc["populations"]  # `populations: 0` or `false` is an error, not empty
    if not isinstance(populations, list):
        raise _err(path, "populations", f"expected a list (got {type(populations).__name__})")
    for i, spec in enumerate(populations):
        where = f"populations[{i}]"
        if not isinstance(spec, Mapping) or "name" not in spec or "size" not in spec:
            raise _err(path, where, "expected a mapping with 'name' and 'size'")
        where = f"populations[{i}] ({spec['name']})"
        check_keys(spec, _POP_KEYS, f"{path}: {where}")
        size = _eval_field(spec["size"], names, f"{path}: {where}.size")
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if "neuron" in spec and "model" in spec:
            raise _err(path, where, "expected either 'neuron: TYPE' or 'model: spike_source' (got both)")
        if "times" in spec and spec.get("model") != "spike_source":
            raise _err(path, f"{where}.times", "only a population with 'model: spike_source' takes fixed spike times")
        if "neuron" in spec:
            if not isinstance(spec["neuron"], str) or spec["neuron"] not in types:
                raise _err(path, f"{where}.neuron", f"unknown neuron type {spec['neuron']!r}{suggest(str(spec['neuron']), types)} (known: {sorted(types)})")
            model = _neuron_from_spec(path, f"neuron_types.{spec['neuron']}", types[spec["neuron"]], types, names)
        elif spec.get("model") == "spike_source":
            times = spec.get("times", ())
            if not isinstance(times, (list, tuple)):
                raise _err(path, f"{where}.times", f"expected a list of spike-time lists (got {type(times).__name__})")
            try:
                model = SpikeSource(tuple(times))
            except (ModelError, OverflowError) as exc:
                raise _err(path, f"{where}.times", exc) from None
        else:
            raise _err(path, where, "expected 'neuron: TYPE' or 'model: spike_source'")
        record = spec.get("record")
        if record is None:
            record = ("spikes",) if record_all in ("all", "spikes") else ()
        if not isinstance(record, (str, list, tuple)) or not all(isinstance(r, str) for r in ([record] if isinstance(record, str) else record)):
            raise _err(path, f"{where}.record", f"expected a state name or a list of them (got {record!r})")
        per_neuron = {key: _per_neuron_spec(path, f"{where}.{key}", spec.get(key), names) for key in ("initial", "parameters")}
        try:
            pops.append(Population(str(spec["name"]), size, model, tuple(record) if not isinstance(record, str) else (record,), **per_neuron))
        except ModelError as exc:
            raise _err(path, where, exc) from None
    projs = []
    projections = [] if doc.get("projections") is None else doc["projections"]  # `projections: 0` or `false` is an error, not empty
    if not isinstance(projections, list):
        raise _err(path, "projections", f"expected a list (got {type(projections).__name__})")
    for i, spec in enumerate(projections):
        where = f"projections[{i}]"
        if not isinstance(spec, Mapping):
            raise _err(path, where, "expected a mapping")
        check_keys(spec, _PROJ_KEYS, f"{path}: {where}")
        for key in ("name", "pre", "post", "connector"):
            if key not in spec:
                raise _err(path, where, f"missing field {key!r}")
        where = f"projections[{i}] ({spec['name']})"
        if isinstance(spec["connector"], Mapping):
            check_keys(spec["connector"], connector_keys(), f"{path}: {where}.connector")
        plastic = spec.get("plasticity")
        if plastic is not None and (not isinstance(plastic, str) or plastic not in rules):
            raise _err(path, f"{where}.plasticity", f"unknown rule {plastic!r}{suggest(str(plastic), rules)} (declared: {sorted(rules)})")
        try:
            projs.append(
                Projection(
                    name=str(spec["name"]),
                    pre=parse_ref(path, f"{where}.pre", spec["pre"], names),
                    post=parse_ref(path, f"{where}.post", spec["post"], names),
                    connector=_connector(spec["connector"], f"{path}: {where}", names),
                    weight=_eval_field(spec.get("weight", 0.0), names, f"{path}: {where}.weight"),
                    delay=_eval_field(spec.get("delay", 1), names, f"{path}: {where}.delay"),
                    receptor=spec.get("receptor", "excitatory"),
                    plasticity=rules[plastic] if plastic else None,
                )
            )
        except ModelFileError:
            raise
        except (ModelError, TypeError, ValueError, OverflowError) as exc:
            raise _err(path, where, exc) from None
    check_network_memory(pops, projs, f"{path}: parameters {dict(params)}")
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

    if not isinstance(doc, Mapping) or doc.get("format") != "neurohop-network/1":
        got = doc.get("format") if isinstance(doc, Mapping) else type(doc).__name__
        raise ModelFileError(f"{source}: format: expected 'neurohop-network/1' (got {got!r})")
    try:
        pops = []
        for i, p in enumerate(doc["populations"]):
            if not isinstance(p, Mapping) or not isinstance(p.get("model"), Mapping):
                raise ModelFileError(f"{source}: populations[{i}]: expected a mapping with a 'model' mapping")
            spec = dict(p["model"])
            kind = spec.pop("model")
            if kind == "spike_source":
                model = SpikeSource(tuple(tuple(t) for t in spec.get("times", ())))
            elif kind in NEURON_MODELS:
                model = NEURON_MODELS[kind](**spec)
            else:
                raise ModelFileError(f"{source}: populations[{i}].model: unknown model {kind!r}")
            size = p["size"]
            if isinstance(size, bool) or not isinstance(size, int):
                raise ModelFileError(f"{source}: populations[{i}].size: expected an integer >= 1 (got {size!r})")
            record = p.get("record", ("spikes",))
            if not isinstance(record, (list, tuple)) or not all(isinstance(r, str) for r in record):
                raise ModelFileError(f"{source}: populations[{i}].record: expected a list of state names (got {record!r})")
            initial = {var: get(value, f"populations[{i}].initial.{var}") for var, value in dict(p.get("initial", {})).items()}
            per_neuron = {name: get(value, f"populations[{i}].parameters.{name}") for name, value in dict(p.get("parameters", {})).items()}
            pops.append(Population(p["name"], size, model, tuple(record), initial, per_neuron))
        projs = []
        for i, p in enumerate(doc["projections"]):
            if not isinstance(p, Mapping):
                raise ModelFileError(f"{source}: projections[{i}]: expected a mapping (got {type(p).__name__})")
            conn = dict(p["connector"])
            if conn.get("kind") == "from_list":
                conn["pairs"] = get(conn["pairs"], f"projections[{i}].connector.pairs")
            rule = p.get("plasticity")
            if rule is not None:
                rule = dict(rule)
                kind = rule.pop("rule", "stdp")
                if kind not in PLASTICITY_RULES:
                    raise ModelFileError(f"{source}: projections[{i}].plasticity.rule: unknown rule {kind!r} (supported: {list(PLASTICITY_RULES)})")
                rule = PLASTICITY_RULES[kind](**rule)
            projs.append(
                Projection(
                    name=p["name"],
                    pre=p["pre"],
                    post=p["post"],
                    connector=_connector(conn, f"projections[{i}]"),
                    weight=get(p["weight"], f"projections[{i}].weight"),
                    delay=_whole(get(p["delay"], f"projections[{i}].delay"), f"projections[{i}].delay"),
                    receptor=p["receptor"],
                    plasticity=rule,
                )
            )
        check_network_memory(pops, projs, source)
        name, metadata = doc.get("name", "network"), doc.get("metadata", {})
        if not isinstance(name, str) or not isinstance(metadata, Mapping):
            raise ModelFileError(f"{source}: name/metadata: expected a text name and a mapping (got {type(name).__name__}, {type(metadata).__name__})")
        return Network(tuple(pops), tuple(projs), name=name, metadata=metadata)
    except ModelFileError:
        raise
    except ModelError as exc:
        raise ModelFileError(f"{source}: {exc}") from None
    except KeyError as exc:
        raise ModelFileError(f"{source}: malformed network description: missing field {exc}") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ModelFileError(f"{source}: malformed network description: {' '.join(str(exc).split())[:200]}") from None


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
    """Load a network saved by :func:`save_network`.

    The container is read by :func:`neurohop.files.read_npz` (every malformed archive becomes
    a :class:`~neurohop.errors.FileFormatError` naming the file); a non-finite number in any
    array is refused naming the array and its first bad index.
    """
    p = Path(path)
    data = read_npz(p, what="saved network")
    if "network_json" not in data:
        raise ModelFileError(f"{p}: network_json: missing (not a neurohop network file)")
    # infinite time constants and thresholds (CubaLIF) are valid; each model checks its numbers
    doc = json_member(data, "network_json", str(p), allow_nonfinite=True)
    arrays = {k[len("array:"):]: v for k, v in data.items() if k.startswith("array:")}
    for key, value in arrays.items():
        check_finite(value, f"array {key!r}", str(p))
    return network_from_dict(doc, arrays, source=str(p))


def load(path: str | os.PathLike[str], **params: Any) -> Network:
    """Load a model file (``.yaml``/``.yml``, with parameters) or a saved network (``.npz``)."""
    p = Path(path)
    if p.suffix == ".npz":
        if params:
            raise ModelFileError(f"{p}: a saved network takes no parameters (got {sorted(params)})")
        return load_network(p)
    return load_model(p, **params)
