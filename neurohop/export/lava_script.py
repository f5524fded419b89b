"""A loihi bundle as a Lava program: the ``run_lava.py`` script written into every loihi bundle.

Lava (lava-nc 0.10.0) reproduces a loihi bundle bit for bit with its ``fixed_pt`` process
models, provided the bundle is read the way those models expect. :func:`lava_script` writes
that reading down once, as a self-contained Python script (numpy and lava only; it runs in
Lava's own Python 3.10 environment and never imports neurohop):

* one ``LIF`` per neuron population with the bundle's ``du``, ``dv``, ``vth``,
  ``bias_mant``, ``bias_exp`` and initial ``u``, ``v``;
* one ``Dense`` (or ``DelayDense`` where the bundle stores ``delays``) per group of
  projections, on *whole* populations: the ``[post_slice, pre_slice]`` blocks of the
  projections between the same two populations with the same ``sign_mode``,
  ``weight_exp``, ``num_weight_bits`` and delay kind are placed into one ``[post, pre]``
  matrix when their post rows do not overlap (Lava shifts each Dense's per-neuron sum by
  ``weight_exp`` once, as neurohop shifts each projection's sum, so projections that reach
  the same neuron stay separate processes);
* ``sign_mode`` as Lava's ``SignMode`` enum (Lava reads a plain int as no sign mode at all
  and clips inhibitory weights to 0); ``delays`` as the platform ``int`` dtype (``DelayDense``
  refuses int32);
* a ``RingBuffer`` per input population, fed ``[n, T]`` (``hw run`` inputs are ``[T, n]``),
  zero-padded to the steps run (a ring buffer repeats its data);
* ``Monitor`` probes of every population's spikes, ``u`` and ``v``;
* ``Loihi2SimCfg(select_tag="fixed_pt")`` (Lava's default picks the floating-point models),
  one ``run`` per connected group of processes (a population linked to nothing else is not
  reached by another process's ``run``);
* the result written in ``hw run --record-state``'s ``.npz`` format.

The script checks the SHA-256 of ``parameters.npz`` against the one it was written for.
:func:`find_lava_python` locates an interpreter with Lava; :func:`compare_runs` compares the
script's output with ``hw run``'s. The script's text is the template in
:mod:`neurohop.export.lava_template`.
"""

from __future__ import annotations

import os
import pprint
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neurohop.errors import InputError, ModelFileError
from neurohop.export.lava_template import SCRIPT_TEMPLATE

__all__ = [
    "LAVA_RUN_CONFIG", "LAVA_VERSION", "SCRIPT_NAME", "lava_plan", "lava_script", "lava_manifest_section",
    "write_lava_script", "find_lava_python", "compare_runs",
]

#: The Lava version the bundle's arithmetic was checked against.
LAVA_VERSION = "0.10.0"
#: How Lava must be configured to run a loihi bundle bit-accurately.
LAVA_RUN_CONFIG = 'Loihi2SimCfg(select_tag="fixed_pt")'
#: File name of the script inside a loihi bundle.
SCRIPT_NAME = "run_lava.py"
#: Lava's SignMode member names by the integer the bundle stores.
SIGN_MODE_NAMES = {1: "MIXED", 2: "EXCITATORY", 3: "INHIBITORY"}
#: Environment variable naming a Python interpreter that has lava-nc installed.
LAVA_PYTHON_ENV = "NEUROHOP_LAVA_PYTHON"


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def lava_plan(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The Lava processes of a loihi bundle, as plain data (what the script embeds).

    Parameters
    ----------
    manifest : mapping
        A loihi bundle's ``manifest.json``.

    Returns
    -------
    dict
        ``populations`` (name, size, source flag, scalars, array keys), ``connections`` (one
        per Dense/DelayDense process: pre, post, process class, SignMode name, scalars and
        the projection blocks it holds), ``inputs``, ``outputs``, ``timestep_ms``, ``target``.
    """
    target = manifest.get("target", {})
    if not isinstance(target, dict) or target.get("arithmetic") != "loihi":
        got = target.get("name") if isinstance(target, dict) else target
        raise ModelFileError(f"manifest.json: target: expected a loihi bundle, which Lava runs (got target {got!r})")
    pops = []
    sizes: dict[str, int] = {}
    for p in manifest["populations"]:
        sizes[p["name"]] = int(p["size"])
        entry: dict[str, Any] = {"name": p["name"], "size": int(p["size"]), "source": p["model"] == "source"}
        if not entry["source"]:
            entry["scalars"] = {k: int(p["scalars"][k]) for k in ("du", "dv", "vth")}
            entry["arrays"] = {k: p["params"][k]["key"] for k in ("bias_mant", "bias_exp", "u", "v")}
        pops.append(entry)
    connections: list[dict[str, Any]] = []
    for proj in manifest["projections"]:
        sc = proj["scalars"]
        mode = int(sc["sign_mode"])
        delayed = "delays" in proj["arrays"]
        key = (proj["pre"], proj["post"], mode, int(sc["weight_exp"]), int(sc["num_weight_bits"]), delayed)
        block = {
            "projection": proj["name"], "pre_slice": [int(x) for x in proj["pre_slice"]], "post_slice": [int(x) for x in proj["post_slice"]],
            "weights": proj["arrays"]["weights"]["key"], "delays": proj["arrays"]["delays"]["key"] if delayed else None,
        }
        post_rows = (block["post_slice"][0], block["post_slice"][1])
        for conn in connections:
            if conn["_key"] == key and not any(_overlaps(post_rows, (b["post_slice"][0], b["post_slice"][1])) for b in conn["blocks"]):
                conn["blocks"].append(block)
                break
        else:
            connections.append({
                "_key": key, "name": f"conn{len(connections)}_{proj['name']}", "pre": proj["pre"], "post": proj["post"],
                "shape": [sizes[proj["post"]], sizes[proj["pre"]]], "process": "DelayDense" if delayed else "Dense",
                "sign_mode": SIGN_MODE_NAMES[mode], "weight_exp": int(sc["weight_exp"]), "num_weight_bits": int(sc["num_weight_bits"]),
                "blocks": [block],
            })
    for conn in connections:
        del conn["_key"]
    return {
        "target": target.get("name"),
        "timestep_ms": manifest.get("timestep_ms"),
        "inputs": [{"population": e["population"], "columns": list(e["columns"])} for e in manifest["inputs"]],
        "outputs": [e["population"] for e in manifest["outputs"]],
        "populations": pops,
        "connections": connections,
    }


def lava_manifest_section(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What a loihi bundle's manifest says about running it in Lava (``manifest["lava"]``)."""
    plan = lava_plan(manifest)
    return {
        "version": LAVA_VERSION,
        "run_config": LAVA_RUN_CONFIG,
        "script": SCRIPT_NAME,
        "processes": {
            "LIF": [p["name"] for p in plan["populations"] if not p["source"]],
            "Dense/DelayDense": [{"process": c["process"], "pre": c["pre"], "post": c["post"], "sign_mode": f"SignMode.{c['sign_mode']}", "projections": [b["projection"] for b in c["blocks"]]} for c in plan["connections"]],
        },
        "notes": [
            f"run with run_cfg={LAVA_RUN_CONFIG}; Lava's default configuration picks the floating-point models",
            "sign_mode: pass lava.utils.weightutils.SignMode(value), not the int (an int is read as no sign mode and clips inhibitory weights to 0)",
            "delays: pass as the platform int dtype (delays.astype(int)); DelayDense refuses int32",
            "weights and delays are [post_slice, pre_slice] blocks; Dense needs whole [post, pre] matrices",
            "RingBuffer data is [n, T] (hw run input transposed), zero-padded to the steps run",
            "a population connected to no other process needs its own run",
        ],
    }


def _pretty(obj: Any) -> str:
    """``obj`` (plain data) as a Python literal the reader can follow."""
    return pprint.pformat(obj, indent=1, width=120, sort_dicts=False)


def _doc_safe(text: str) -> str:
    """Text that cannot end or escape the script's docstring (names and paths are free text)."""
    return text.replace("\\", "/").replace('"', "'")


def lava_script(manifest: Mapping[str, Any], parameters_sha256: str, bundle: str | None = None) -> str:
    """The text of ``run_lava.py`` for a loihi bundle.

    Parameters
    ----------
    manifest : mapping
        The bundle's manifest.
    parameters_sha256 : str
        SHA-256 of the bundle's ``parameters.npz`` (the script refuses any other).
    bundle : str, optional
        Default bundle directory baked into the script; None: the script's own directory
        (the copy written inside the bundle).
    """
    plan = lava_plan(manifest)
    source = manifest.get("source", {}) if isinstance(manifest.get("source"), dict) else {}
    run = manifest.get("run", {}) if isinstance(manifest.get("run"), dict) else {}
    notes = []
    if run.get("steps") is not None:
        notes.append(f"This bundle: run {run['steps']} steps ({run.get('steps_doc', '')}).".replace(" ()", ""))
    readout = run.get("readout")
    if isinstance(readout, dict) and readout.get("population"):
        notes.append(f"Readout: {readout.get('variable', 'spikes')} of population {readout['population']!r} {readout.get('when', '')}.".replace(" .", "."))
    title = _doc_safe(f" (exported from {str(source['path'])!r})") if source.get("path") else ""
    tail = [
        "'target', 'timestep_ms', 'runner'. --steps longer than the input runs the extra steps without input.", *notes,
        f"The arrays are read from DIR/parameters.npz (default: {bundle or 'this script' + chr(39) + 's directory'}).",
    ]
    text = SCRIPT_TEMPLATE.format(
        title=title, lava_version=LAVA_VERSION, created_by=_doc_safe(str(manifest.get("created_by", "neurohop"))), script=SCRIPT_NAME,
        n_inputs=sum(e["columns"][1] - e["columns"][0] for e in plan["inputs"]), inputs=_doc_safe(", ".join(e["population"] for e in plan["inputs"]) or "(none)"),
        run_note=_doc_safe(textwrap.fill(" ".join(tail), 88)), sha=parameters_sha256, bundle=bundle,
        plan=_pretty(plan),
    )
    return text


def write_lava_script(bundle: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write ``run_lava.py`` for the loihi bundle ``bundle`` to ``out`` (atomically).

    The copy is byte-identical to the bundle's own ``run_lava.py`` when ``out`` is inside
    the bundle; elsewhere it names the bundle's absolute path as its default.

    Raises
    ------
    ModelFileError
        ``bundle`` is not a (valid) bundle or not a loihi bundle.
    InputError
        ``out`` cannot be written.
    """
    from neurohop.export.bundle import read_bundle, sha256_file
    from neurohop.files import atomic_write

    root = Path(bundle)
    _, _, manifest = read_bundle(root, load_network=False)
    if manifest.get("target", {}).get("arithmetic") != "loihi":
        raise ModelFileError(f"{root}: a {manifest.get('target', {}).get('name')!r} bundle; Lava runs loihi bundles only (export with target loihi)")
    target = Path(out)
    if target.is_dir():
        raise InputError(f"out: {target} is a directory (expected a file name such as run_lava.py)")
    inside = target.resolve().parent == root.resolve()
    text = lava_script(manifest, sha256_file(root / "parameters.npz"), None if inside else str(root.resolve()))
    try:
        atomic_write(target, lambda tmp: tmp.write_text(text), suffix=".py")
    except OSError as exc:
        raise InputError(f"out: cannot write {target}: {exc.strerror or exc}") from None
    return target


# --------------------------------------------------------------------------- checking against Lava


def find_lava_python() -> tuple[str | None, str]:
    """A Python interpreter with lava-nc, and how it was found (or why none was).

    Uses ``$NEUROHOP_LAVA_PYTHON`` when set; otherwise tries ``~/.venvs/lava/bin/python``
    and ``python3.10`` on the ``PATH``. The interpreter must import ``lava.proc.lif.process``.
    """
    env = os.environ.get(LAVA_PYTHON_ENV)
    if env:
        candidates = [env]
    else:
        candidates = [str(Path.home() / ".venvs" / "lava" / "bin" / "python")]
        found = shutil.which("python3.10")
        if found:
            candidates.append(found)
    tried = []
    for cand in candidates:
        if not cand or not Path(cand).exists():
            tried.append(f"{cand} (not found)")
            continue
        try:
            res = subprocess.run([cand, "-c", "import lava.proc.lif.process"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{cand} ({type(exc).__name__})")
            continue
        if res.returncode == 0:
            return cand, f"{cand}" + (f" (from ${LAVA_PYTHON_ENV})" if cand == env else "")
        tried.append(f"{cand} (no lava)")
    return None, f"no Python with lava-nc found (set ${LAVA_PYTHON_ENV}; tried: {', '.join(tried) or 'nothing'})"


def compare_runs(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Mismatching entries per array between two ``hw run --record-state`` results.

    Compares every ``spikes``, ``spikes/<population>`` and ``state/<population>/<var>`` array
    of ``expected``; an array missing from ``got`` or of another shape counts all its entries.
    """
    out: dict[str, int] = {}
    for key, arr in expected.items():
        if not (key == "spikes" or key.startswith("spikes/") or key.startswith("state/")):
            continue
        a = np.asarray(arr)
        b = np.asarray(got[key]) if key in got else None
        if b is None or b.shape != a.shape:
            out[key] = int(a.size) or 1
            continue
        out[key] = int(np.count_nonzero(a != b))
    return out

