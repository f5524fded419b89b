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

The manifest lists the SHA-256 of every file; :func:`read_bundle` (in
:mod:`neurohop.export.bundle_read`, importable from here) validates the manifest
and reads only checksummed regular files inside the bundle (the rules and the schema are in
:mod:`neurohop.export.manifest`), checks the shapes and dtypes of the arrays and the
target's value ranges, and names the file and key of anything wrong. :func:`write_bundle`
writes into a temporary sibling directory and renames it into place, so a failed or
interrupted export (SIGINT, SIGTERM, SIGHUP) leaves no half-written bundle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from neurohop.errors import ModelFileError
from neurohop.export.common import as_json
from neurohop.export.mapping import MappingReport
from neurohop.export.program import Program

__all__ = ["write_bundle", "read_bundle", "read_manifest", "BUNDLE_FORMAT", "manifest_of", "run_section", "sha256_file"]

BUNDLE_FORMAT = "neurohop-bundle/1"


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _array_entry(key: str, arr: np.ndarray, doc: str) -> dict[str, Any]:
    return {"key": key, "dtype": str(arr.dtype), "shape": list(arr.shape), "doc": doc}


def _docs(program: Program) -> dict[str, str]:
    from neurohop.export.plugin import arithmetic_of

    return dict(arithmetic_of(program.target).array_docs)


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


def _umask_modes() -> tuple[int, int]:
    """The modes a new file and a new folder get under the current umask (0666 and 0777 minus it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask, 0o777 & ~mask


class _Terminated(BaseException):
    """Raised in the main thread by a SIGTERM or SIGHUP received while a bundle is written."""


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While writing, turn SIGTERM and SIGHUP into an exception so the temporary folder is removed
    (SIGINT already raises KeyboardInterrupt); the previous handlers are restored afterwards and a
    caught signal is re-raised with its previous disposition."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        caught.append(signum)
        raise _Terminated(signum)

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {}
    for n in names:
        sig = getattr(signal, n)
        if signal.getsignal(sig) == signal.SIG_DFL:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    except _Terminated:
        pass
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, prev)
    if caught:
        os.kill(os.getpid(), caught[0])  # default disposition again: the process ends as it would have


def _write_contents(program: Program, tmp: Path, source: dict[str, Any] | None, mapping: MappingReport, nir: bool) -> None:
    from neurohop.model.io import save_network

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
    from neurohop.export.plugin import arithmetic_of

    arithmetic_of(program.target).bundle_files(manifest, tmp)  # files a target adds (loihi: run_lava.py), listed in the manifest
    manifest["checksums"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
    (tmp / "manifest.json").write_text(json.dumps(as_json(manifest), indent=1))


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

    target = Path(out)
    if os.path.lexists(target) and not force:
        raise ModelFileError(f"{target}: already exists; choose another output folder or pass force=True to replace it")
    if os.path.lexists(target) and (target.is_symlink() or not (target / "manifest.json").is_file()):
        raise ModelFileError(f"{target}: exists and is not a neurohop bundle; refusing to replace it")
    mapping = mapping or map_program(program)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _signals_raise():
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        old: Path | None = None
        try:
            _write_contents(program, tmp, source, mapping, nir)
            file_mode, dir_mode = _umask_modes()  # mkdtemp and mkstemp create 0700 and 0600
            os.chmod(tmp, dir_mode)
            for p in tmp.iterdir():
                os.chmod(p, file_mode)
            if os.path.lexists(target):
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                old.rmdir()
                os.replace(target, old)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and old.exists() and not os.path.lexists(target):
                os.replace(old, target)  # put the previous bundle back
            raise
        finally:
            if old is not None and old.exists() and os.path.lexists(target):
                shutil.rmtree(old, ignore_errors=True)
    return target


# reading lives in its own module; these names stay importable from here
from neurohop.export.bundle_read import read_bundle, read_manifest  # noqa: E402
