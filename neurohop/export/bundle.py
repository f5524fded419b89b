"""Export bundles: a directory holding a quantised network, its reports and its sources.

Layout of a bundle ``DIR`` (format ``neurohop-bundle/1``)::

    manifest.json        target (with its numbers, rules and limits), timestep, inputs and
                         outputs, every population and projection with its integer scalars
                         and the name, dtype, shape and meaning of each of its arrays
    parameters.npz       the integer arrays, keyed "populations/<name>/<param>" and
                         "projections/<name>/<array>"
    quantisation.json    the quantisation report (quantisation.txt: the same, readable)
    mapping.json         the mapping report (mapping.txt: the same, readable)
    network.npz          the float network the bundle was made from (neurohop.model.save_network)
    model.nir            the float network as a NIR graph, when NIR can represent it
    run_lava.py          loihi bundles: the bundle as a Lava program (neurohop.export.lava_script)

The manifest lists the SHA-256 of every file; :func:`read_bundle` checks them, the
shapes and dtypes of the arrays, and the target's value ranges, and names the file and key
of anything wrong. :func:`write_bundle` writes into a temporary sibling directory and
renames it into place, so a failed export leaves no half-written bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neurohop.errors import ModelFileError
from neurohop.export.common import as_json
from neurohop.export.mapping import MappingReport
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
from neurohop.export.report import QuantisationReport
from neurohop.export.targets import ARITHMETIC_MODULES, Target

__all__ = ["write_bundle", "read_bundle", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "neurohop-bundle/1"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _array_entry(key: str, arr: np.ndarray, doc: str) -> dict[str, Any]:
    return {"key": key, "dtype": str(arr.dtype), "shape": list(arr.shape), "doc": doc}


def _arithmetic_module(program: Program) -> Any:
    import importlib

    return importlib.import_module(ARITHMETIC_MODULES[program.target.arithmetic])


def _docs(program: Program) -> dict[str, str]:
    return getattr(_arithmetic_module(program), "ARRAY_DOCS", {})


def manifest_of(program: Program, source: dict[str, Any] | None = None, files: dict[str, str | None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest (JSON-able) and the arrays of ``parameters.npz`` for ``program``."""
    from neurohop import __version__

    docs = _docs(program)
    arrays: dict[str, np.ndarray] = {}
    pops = []
    columns = 0
    inputs = []
    for name in program.inputs:
        size = program.population(name).size
        inputs.append({"population": name, "size": size, "columns": [columns, columns + size]})
        columns += size
    outputs = []
    columns = 0
    for name in program.outputs:
        size = program.population(name).size
        outputs.append({"population": name, "size": size, "columns": [columns, columns + size]})
        columns += size
    for pop in program.populations:
        entry: dict[str, Any] = {"name": pop.name, "size": pop.size, "model": pop.model, "scalars": as_json(pop.scalars), "units": pop.units, "offsets": pop.offsets, "params": {}}
        for pname, arr in pop.params.items():
            key = f"populations/{pop.name}/{pname}"
            arrays[key] = np.asarray(arr)
            entry["params"][pname] = _array_entry(key, arrays[key], docs.get(f"population.{pname}", ""))
        entry["scalar_docs"] = {k: docs.get(f"population.{k}", "") for k in pop.scalars}
        pops.append(entry)
    projs = []
    for proj in program.projections:
        entry = {
            "name": proj.name, "pre": proj.pre, "post": proj.post, "pre_slice": list(proj.pre_slice), "post_slice": list(proj.post_slice),
            "receptor": proj.receptor, "plastic": proj.plastic, "weight_unit_nA": proj.weight_unit, "scalars": as_json(proj.scalars), "arrays": {},
        }
        for aname, arr in proj.arrays.items():
            key = f"projections/{proj.name}/{aname}"
            arrays[key] = np.asarray(arr)
            entry["arrays"][aname] = _array_entry(key, arrays[key], docs.get(f"projection.{aname}", ""))
        entry["scalar_docs"] = {k: docs.get(f"projection.{k}", "") for k in proj.scalars}
        projs.append(entry)
    manifest = {
        "format": BUNDLE_FORMAT,
        "created_by": f"neurohop {__version__}",
        "target": program.target.summary(),
        "timestep_ms": program.dt,
        "source": source or {},
        "inputs": inputs,
        "outputs": outputs,
        "n_inputs": program.n_inputs,
        "n_outputs": program.n_outputs,
        "run": run_section(program),
        "populations": pops,
        "projections": projs,
        "files": files or {},
    }
    return manifest, arrays


def run_section(program: Program) -> dict[str, Any]:
    """How long to run a bundle and where its result is (``manifest["run"]``).

    A classifier (``network.metadata["classifier"]``: its timesteps and readout) is run for
    its timesteps plus the readout's latency, and read from the readout's potential ``v``
    after the last step; other networks run as long as their input, read from the output
    populations' spikes.
    """
    meta = program.network.metadata if program.network is not None and isinstance(program.network.metadata, dict) else {}
    latency = {str(k): int(v) for k, v in dict(meta.get("latency_steps", {}) or {}).items()}
    clf = meta.get("classifier")
    if isinstance(clf, dict) and clf.get("readout") in latency and "timesteps" in clf:
        readout, T = str(clf["readout"]), int(clf["timesteps"])
        pop = program.population(readout)
        return {
            "steps": T + latency[readout], "input_steps": T,
            "steps_doc": f"the classifier's {T} input steps (rows of the input) plus the readout's latency of {latency[readout]} step(s); give --steps {T + latency[readout]}",
            "readout": {
                "population": readout, "variable": "v", "when": "after the last step",
                "meaning": f"integer potential, {pop.units.get('v', 1.0):.6g} model units each; its argmax over the neurons is the predicted class (logits = v x unit / {T})",
            },
            "latency_steps": latency,
        }
    out: dict[str, Any] = {"steps": None, "steps_doc": "the input's number of rows (hw run's default)", "readout": {"populations": list(program.outputs), "variable": "spikes"}}
    if latency:
        out["latency_steps"] = latency
        out["steps_doc"] += "; outputs of a graph read from NIR run latency_steps late (run T + latency steps)"
    return out


def write_bundle(program: Program, out: str | os.PathLike[str], *, source: dict[str, Any] | None = None, mapping: MappingReport | None = None, nir: bool = True, force: bool = False) -> Path:
    """Write ``program`` as a bundle directory ``out`` (see the module docstring).

    Parameters
    ----------
    program : Program
    out : path
        The bundle directory; must not exist unless ``force``.
    source : dict, optional
        Provenance (what was exported, with which options).
    mapping : MappingReport, optional
        Computed when not given.
    nir : bool
        Also write ``model.nir`` when the network is representable in NIR.
    force : bool
        Replace an existing bundle (only after the new one is complete).
    """
    from neurohop.export.mapping import map_program
    from neurohop.model.io import save_network

    target = Path(out)
    if target.exists() and not force:
        raise ModelFileError(f"{target}: already exists; choose another --out or pass --force to replace it")
    if target.exists() and not (target / "manifest.json").exists():
        raise ModelFileError(f"{target}: exists and is not a neurohop bundle; refusing to replace it")
    mapping = mapping or map_program(program)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        files: dict[str, str | None] = {"parameters": "parameters.npz", "quantisation": "quantisation.json", "mapping": "mapping.json", "network": None, "nir": None}
        (tmp / "quantisation.json").write_text(json.dumps(program.report.to_dict(), indent=1))
        (tmp / "quantisation.txt").write_text(program.report.format_text() + "\n")
        (tmp / "mapping.json").write_text(json.dumps(as_json(mapping.to_dict()), indent=1))
        (tmp / "mapping.txt").write_text(mapping.format_text() + "\n")
        if program.network is not None:
            save_network(program.network, tmp / "network.npz")
            files["network"] = "network.npz"
            if nir:
                from neurohop.export.nir_io import NIRConversionError, write_nir

                try:
                    write_nir(program.network, tmp / "model.nir", dt=program.dt)
                    files["nir"] = "model.nir"
                except NIRConversionError as exc:
                    files["nir_skipped"] = str(exc)
        manifest, arrays = manifest_of(program, source, files)
        with open(tmp / "parameters.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
        bundle_files = getattr(_arithmetic_module(program), "bundle_files", None)
        if bundle_files is not None:  # files a target adds (loihi: run_lava.py), listed in the manifest
            bundle_files(manifest, tmp)
        manifest["checksums"] = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(as_json(manifest), indent=1))
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _need(doc: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise ModelFileError(f"{where}: missing field {key!r}")
    return doc[key]


def read_manifest(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a bundle, checked for format and file checksums."""
    root = Path(bundle)
    path = root / "manifest.json"
    if not root.is_dir():
        raise ModelFileError(f"{root}: not a bundle directory (expected a directory written by `neurohop export`)")
    if not path.exists():
        raise ModelFileError(f"{path}: missing; {root} is not a neurohop bundle")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise ModelFileError(f"{path}: format: expected {BUNDLE_FORMAT!r} (got {manifest.get('format') if isinstance(manifest, dict) else manifest!r})")
    for name, digest in dict(manifest.get("checksums", {})).items():
        f = root / name
        if not f.exists():
            raise ModelFileError(f"{f}: listed in manifest.json but missing")
        if _sha256(f) != digest:
            raise ModelFileError(f"{f}: checksum differs from manifest.json (the file was changed or truncated)")
    return manifest


def _target_from(summary: dict[str, Any], where: str) -> Target:
    try:
        arith = summary["arithmetic"]
        if arith not in ARITHMETIC_MODULES:
            raise ModelFileError(f"{where}.arithmetic: expected one of {sorted(ARITHMETIC_MODULES)} (got {arith!r})")
        return Target(
            name=str(summary["name"]), title=str(summary.get("title", summary["name"])), arithmetic=arith,
            timestep_ms=summary.get("timestep_ms"), neuron_models=(), plasticity_rules=(),
            numbers=dict(summary["numbers"]), rules=dict(summary["rules"]), limits=dict(summary["limits"]),
            quantisation=dict(summary.get("quantisation", {})), choices=dict(summary.get("modelling_choices", {})),
            path=Path(str(summary.get("file", "<bundle>"))),
        )
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{where}: malformed target description: missing or wrong field {exc}") from None


def read_bundle(bundle: str | os.PathLike[str], load_network: bool = True) -> tuple[Program, MappingReport, dict[str, Any]]:
    """Read a bundle into a :class:`Program`; also return its mapping report and manifest.

    Raises :class:`~neurohop.errors.ModelFileError` naming the file and key of anything
    missing, changed or inconsistent.
    """
    root = Path(bundle)
    manifest = read_manifest(root)
    mpath = root / "manifest.json"
    target = _target_from(_need(manifest, "target", str(mpath)), f"{mpath}: target")
    dt = _need(manifest, "timestep_ms", str(mpath))
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or dt <= 0:
        raise ModelFileError(f"{mpath}: timestep_ms: expected a positive number (got {dt!r})")
    ppath = root / "parameters.npz"
    try:
        with np.load(ppath, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{ppath}: cannot read the parameter arrays: {exc}") from None

    def get(entry: dict[str, Any], where: str) -> np.ndarray:
        key = _need(entry, "key", where)
        if key not in arrays:
            raise ModelFileError(f"{ppath}: missing array {key!r} (listed at {mpath}: {where})")
        arr = arrays[key]
        if list(arr.shape) != list(entry.get("shape", arr.shape)) or str(arr.dtype) != entry.get("dtype", str(arr.dtype)):
            raise ModelFileError(f"{ppath}: {key}: expected {entry.get('dtype')} {entry.get('shape')} as the manifest says (got {arr.dtype} {list(arr.shape)})")
        return arr

    pops = []
    for i, p in enumerate(_need(manifest, "populations", str(mpath))):
        where = f"populations[{i}]"
        try:
            name, size, model = str(p["name"]), int(p["size"]), str(p["model"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{mpath}: {where}: missing or wrong field {exc}") from None
        params = {k: get(v, f"{where}.params.{k}") for k, v in dict(p.get("params", {})).items()}
        for k, arr in params.items():
            if arr.shape != (size,):
                raise ModelFileError(f"{ppath}: populations/{name}/{k}: expected one value per neuron, shape [{size}] (got {list(arr.shape)})")
        pops.append(PopulationProgram(name, size, model, params, dict(p.get("scalars", {})), {k: float(v) for k, v in dict(p.get("units", {})).items()}, {k: float(v) for k, v in dict(p.get("offsets", {})).items()}))
    names = {p.name for p in pops}
    projs = []
    for i, p in enumerate(_need(manifest, "projections", str(mpath))):
        where = f"projections[{i}]"
        try:
            proj = ProjectionProgram(
                str(p["name"]), str(p["pre"]), str(p["post"]), (int(p["pre_slice"][0]), int(p["pre_slice"][1])), (int(p["post_slice"][0]), int(p["post_slice"][1])),
                str(p["receptor"]), {k: get(v, f"{where}.arrays.{k}") for k, v in dict(p.get("arrays", {})).items()},
                dict(p.get("scalars", {})), float(p.get("weight_unit_nA", 1.0)), bool(p.get("plastic", False)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{mpath}: {where}: missing or wrong field {exc}") from None
        for side in (proj.pre, proj.post):
            if side not in names:
                raise ModelFileError(f"{mpath}: {where} ({proj.name}): refers to unknown population {side!r}; known: {sorted(names)}")
        projs.append(proj)
    try:
        inputs = [str(e["population"]) for e in manifest["inputs"]]
        outputs = [str(e["population"]) for e in manifest["outputs"]]
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{mpath}: inputs/outputs: missing or wrong field {exc}") from None
    for n in inputs + outputs:
        if n not in names:
            raise ModelFileError(f"{mpath}: inputs/outputs: unknown population {n!r}; known: {sorted(names)}")
    qpath = root / "quantisation.json"
    try:
        report = QuantisationReport.from_dict(json.loads(qpath.read_text())) if qpath.exists() else QuantisationReport(target.name)
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise ModelFileError(f"{qpath}: cannot read the quantisation report: {exc}") from None
    network = None
    files = dict(manifest.get("files", {}))
    if load_network and files.get("network"):
        from neurohop.model.io import load_network as _load

        network = _load(root / str(files["network"]))
    program = Program(target, float(dt), pops, projs, inputs, outputs, report, network)
    import importlib

    module = importlib.import_module(ARITHMETIC_MODULES[target.arithmetic])
    validate = getattr(module, "validate", None)
    if validate is not None:
        validate(program, str(ppath))
    mpath2 = root / "mapping.json"
    try:
        mapping = MappingReport.from_dict(json.loads(mpath2.read_text())) if mpath2.exists() else MappingReport(target.name)
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{mpath2}: cannot read the mapping report: {exc}") from None
    return program, mapping, manifest
