"""Reading export bundles: the manifest validated and checksummed, the arrays checked, a :class:`Program` rebuilt.

:func:`read_manifest` validates a bundle's ``manifest.json`` (the rules and the schema are in
:mod:`neurohop.export.manifest`) and verifies the checksum of every file;
:func:`read_bundle` then reads only checksummed regular files inside the bundle, checks the
shapes and dtypes of the arrays (from the ``.npy`` headers, before any data is
decompressed) and the target's value ranges, and names the file and key of anything wrong.
Both are also importable from :mod:`neurohop.export.bundle`, which writes bundles.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neurohop.errors import ModelFileError
from neurohop.export.manifest import MAX_MANIFEST_BYTES, member_path, validate_manifest, verify_checksums
from neurohop.export.manifest import parse_manifest as _parse_manifest
from neurohop.export.manifest import read_member as _read_member
from neurohop.export.mapping import MappingReport
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
from neurohop.export.report import QuantisationReport
from neurohop.export.targets import ARITHMETIC_MODULES, Target

__all__ = ["read_bundle", "read_manifest"]


def read_manifest(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a bundle, validated, with every file's checksum verified.

    Raises :class:`~neurohop.errors.ModelFileError` for anything that is not a closed,
    consistent bundle (see :func:`validate_manifest` and :func:`verify_checksums`).
    """
    root = Path(bundle)
    path = root / "manifest.json"
    if not root.is_dir():
        raise ModelFileError(f"{root}: not a bundle directory (expected a directory written by `neurohop export`)")
    if not os.path.lexists(path):
        raise ModelFileError(f"{path}: missing; {root} is not a neurohop bundle")
    manifest = _parse_manifest(_read_member(root, "manifest.json", MAX_MANIFEST_BYTES), path)
    validate_manifest(manifest, path)
    verify_checksums(root, manifest)
    return manifest


def _target_from(summary: dict[str, Any], where: str) -> Target:
    try:
        arith = summary["arithmetic"]
        if arith not in ARITHMETIC_MODULES:
            raise ModelFileError(f"{where}.arithmetic: expected one of {sorted(ARITHMETIC_MODULES)} (got {arith!r})")
        from neurohop.export.targets import check_target_values

        if not isinstance(summary["numbers"], dict) or not isinstance(summary["limits"], dict):
            raise TypeError("'numbers' and 'limits' must be mappings")
        check_target_values(f"{where}.", summary["numbers"], summary["limits"])
        step = summary.get("timestep_ms")
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step < float("inf")):
            raise ModelFileError(f"{where}.timestep_ms: expected a positive number of ms or null (got {step!r})")
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
    files = manifest["files"]
    target = _target_from(manifest["target"], f"{mpath}: target")
    dt = manifest["timestep_ms"]
    ppath = member_path(root, files["parameters"])
    entries = [e for p in manifest["populations"] for e in p.get("params", {}).values()]
    entries += [e for p in manifest["projections"] for e in p.get("arrays", {}).values()]
    arrays = _load_arrays(ppath, entries)

    def get(entry: dict[str, Any], where: str) -> np.ndarray:
        return arrays[entry["key"]]

    pops = []
    for i, p in enumerate(manifest["populations"]):
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
    for i, p in enumerate(manifest["projections"]):
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
    report = _read_report(root, files["quantisation"], QuantisationReport.from_dict, "quantisation report")
    network = None
    if load_network and files.get("network"):
        from neurohop.model.io import load_network as _load

        network = _load(member_path(root, files["network"]))
    program = Program(target, float(dt), pops, projs, inputs, outputs, report, network)
    from neurohop.export.plugin import arithmetic_of

    arithmetic_of(target).validate(program, str(ppath))
    mapping = _read_report(root, files["mapping"], MappingReport.from_dict, "mapping report")
    return program, mapping, manifest


def _read_report(root: Path, name: str, parse: Any, what: str) -> Any:
    """A verified JSON report of the bundle, parsed and rendered once to prove it is well formed."""
    path = root / name
    try:
        report = parse(_parse_manifest(_read_member(root, name, MAX_MANIFEST_BYTES), path))
        report.format_text()
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path}: malformed {what}: {type(exc).__name__}: {exc}") from None
    return report


def _load_arrays(path: Path, entries: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The arrays named by the manifest's ``entries``, each checked against its declared dtype and
    shape from the .npy header before its data is decompressed (members not named are never read)."""
    import zipfile
    import zlib

    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
            for entry in entries:
                key = entry["key"]
                if key in out:
                    continue
                member = f"{key}.npy"
                if member not in members:
                    raise ModelFileError(f"{path}: missing array {key!r} (named in manifest.json)")
                with zf.open(member) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ModelFileError(f"{path}: {key}: unsupported .npy version {version}")
                    if list(shape) != list(entry["shape"]) or str(dtype) != entry["dtype"]:
                        raise ModelFileError(f"{path}: {key}: expected {entry['dtype']} {entry['shape']} as the manifest says (got {dtype} {list(shape)})")
                with zf.open(member) as fh:  # read_array parses the header again
                    arr = np.lib.format.read_array(fh, allow_pickle=False)
                if arr.shape != tuple(shape) or arr.dtype != dtype:
                    raise ModelFileError(f"{path}: {key}: truncated array data")
                out[key] = arr
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: cannot read the parameter arrays: {type(exc).__name__}: {exc}") from None
    return out
