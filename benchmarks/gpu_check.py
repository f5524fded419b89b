"""CUDA checks and figures in one short run, for a machine with a GPU.

    PYTHONPATH=. python benchmarks/gpu_check.py [--device cuda] [--json OUT.json] [--quick]

What it checks (each part reports and goes on if another fails; exit status 1 if any failed):

1. ``replay``: the SpiNNaker recording of the CA3 memory replayed on torch (float64, float32)
   and torch_event on the GPU: mismatches (expected 0, as on the CPU).
2. ``identity``: random networks (``neurohop.testing``) on torch, CPU against GPU, float64:
   identical spikes; the largest state difference is printed (exact on the 1/64 nA grid).
3. ``cam_batch``: batched replays of the recording (B = 1 024 and 8 192) on the GPU against
   the CPU of the same machine: replays per second, every instance with 0 mismatches.
4. ``attractor``: the CA3 attractor memory (N = 1 024 and 4 096) storing patterns and recalling
   B = 1 024 half cues on the GPU, float64 and float32: cues per second, recalled sets equal to
   the CPU's on the first cues.
5. ``fixed``: the integer simulators (``fixed:loihi``, ``fixed:xylo``) with their float64
   products on the GPU: identical to the CPU, steps per second (``bench_export.bench_speed``).
6. ``hlop``: three permuted 8x8-digit tasks, HLOP with DSR training on the GPU and the CPU:
   ACC, BWT and wall time of each.
7. ``pytest``: the tests that run only where CUDA is present (``-k cuda``).

It needs torch with CUDA, numpy, pyyaml, tqdm, matplotlib and scikit-learn; nothing else of
neurohop's dependencies (no Brian2, Dask or NIR).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import neurohop  # noqa: E402
from neurohop.resources import recording_path  # noqa: E402


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def check_replay(device: str) -> dict[str, Any]:
    from neurohop.cam.replay import replay

    rows = []
    for backend, dtype in (("torch", "float64"), ("torch", "float32"), ("torch_event", "float64")):
        rep = replay(recording_path(), backend=backend, device=device, dtype=dtype)
        rows.append({"backend": backend, "dtype": dtype, "mismatches": rep["mismatches"], "compared": rep["compared_spikes"]})
        print(f"  replay {backend} {dtype} on {device}: {rep['mismatches']} mismatches of {rep['compared_spikes']} recorded spikes")
    return {"rows": rows, "ok": all(r["mismatches"] == 0 for r in rows)}


def check_identity(device: str, networks: int) -> dict[str, Any]:
    from neurohop.testing import random_inputs, random_network

    worst, differing = 0.0, 0
    for seed in range(networks):
        rng = np.random.default_rng(seed)
        net = random_network(rng)
        inputs = random_inputs(rng, net, 200)
        a = neurohop.build(net, backend="torch", device="cpu").run(200, inputs)
        b = neurohop.build(net, backend="torch", device=device).run(200, inputs)
        differing += sum(int((a.spikes[p] != b.spikes[p]).sum()) for p in a.spikes)
        for p, states in a.states.items():
            for v, arr in states.items():
                worst = max(worst, float(np.max(np.abs(arr - b.states[p][v]))) if arr.size else 0.0)
    print(f"  {networks} random networks, 200 steps, CPU vs {device}: {differing} differing spikes, largest state difference {worst:.3g}")
    return {"networks": networks, "differing_spikes": differing, "max_state_diff": worst, "ok": differing == 0}


def check_cam_batch(device: str, quick: bool) -> dict[str, Any]:
    from bench_cam import batch_throughput

    batches = [1024] if quick else [1024, 8192]
    rows = {d: batch_throughput(recording_path(), batches, 3, d) for d in ("cpu", device)}
    for d, rs in rows.items():
        for r in rs:
            print(f"  CA3 batched replay on {d}: {r}")
    return {"rows": rows, "ok": True}


def check_attractor(device: str, quick: bool) -> dict[str, Any]:
    from neurohop.cam import AttractorMemory
    from neurohop.cam.attractor import make_cues, random_patterns, theory

    out = []
    ok = True
    for n, k, m in ((1024, 10, 1000),) if quick else ((1024, 10, 1000), (4096, 12, 4000)):
        rng = np.random.default_rng(0)
        patterns = random_patterns(rng, m, n, k)
        cues, targets = make_cues(rng, patterns[:1024], n, theory.correct_bits(k, 0.5))
        sets = {}
        runs = [(device, "float64"), (device, "float32")] + ([("cpu", "float64")] if n <= 1024 else [])
        for dev, dtype in runs:
            mem = AttractorMemory(n, k, device=dev, dtype=dtype)
            t0 = time.perf_counter()
            mem.store(patterns)
            store_s = time.perf_counter() - t0
            few = 64 if dev == "cpu" else len(cues)
            recall_s, res = timed(lambda: mem.recall(cues[:few], targets[:few]), repeats=3 if dev != "cpu" else 1)
            sets[(dev, dtype)] = [tuple(s) for s in res.sets]
            row = {"n": n, "k": k, "m": m, "device": dev, "dtype": dtype, "store_s": store_s, "cues": few, "cues_per_s": few / recall_s, "mean_false": res.mean_false, "mean_missing": res.mean_missing}
            out.append(row)
            print(f"  attractor N={n} k={k} M={m} {dev} {dtype}: store {store_s:.2f} s, recall {few / recall_s:,.0f} cues/s (B={few}), missing {res.mean_missing:.2f}, false {res.mean_false:.2f}")
        if ("cpu", "float64") in sets:  # the CPU comparison at the smaller size only (storing is slow there)
            same = sets[(device, "float64")][:64] == sets[("cpu", "float64")]
            ok = ok and same
            print(f"  attractor N={n}: first 64 recalled sets equal on {device} and cpu: {same}")
    return {"rows": out, "ok": ok}


def check_fixed(device: str) -> dict[str, Any]:
    from bench_export import bench_speed

    rows = {d: bench_speed(200, 3, batch=64, device=d) for d in ("cpu", device)}
    for d, r in rows.items():
        print(f"  integer simulators, batch 64, on {d}: {json.dumps(r, default=str)[:600]}")
    return {"rows": rows, "ok": True}


def check_hlop(device: str) -> dict[str, Any]:
    from neurohop.data import load_dataset, make_tasks
    from neurohop.hlop import read_config, run_continual

    config = read_config("hlop_digits", {"train.epochs": 2})
    out = {}
    for dev in (device, "cpu"):
        tasks = make_tasks(load_dataset("digits"), "permuted", 3, np.random.default_rng(0))
        r = run_continual(tasks, "hlop", "dsr", config, seed=0, device=dev)
        out[dev] = {"acc": r.acc, "bwt": r.bwt, "wall_s": r.wall_time_s}
        print(f"  HLOP digits x3 dsr on {dev}: ACC {r.acc:.2f} BWT {r.bwt:+.2f} in {r.wall_time_s:.1f} s")
    return {"rows": out, "ok": abs(out[device]["acc"] - out["cpu"]["acc"]) < 5.0}


def check_pytest() -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda", "tests/conformance", "tests/export/test_export_exact_products.py", "tests/attractor/test_attractor_memory.py"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    print("  " + "\n  ".join(tail))
    return {"returncode": proc.returncode, "tail": tail, "ok": proc.returncode == 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these parts")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device; nothing to check (--device cpu runs the same script as a dry run)")
        return 2
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"gpu_check: torch {torch.__version__}, {name}, numpy {np.__version__}, {torch.get_num_threads()} CPU threads, checking {args.device}")
    parts: dict[str, Callable[[], dict[str, Any]]] = {  # the long parts last
        "replay": lambda: check_replay(args.device),
        "identity": lambda: check_identity(args.device, 5 if args.quick else 20),
        "pytest": check_pytest,
        "fixed": lambda: check_fixed(args.device),
        "hlop": lambda: check_hlop(args.device),
        "cam_batch": lambda: check_cam_batch(args.device, args.quick),
        "attractor": lambda: check_attractor(args.device, args.quick),
    }
    results: dict[str, Any] = {}
    for name, fn in parts.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}]", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # report and go on: one failing part must not hide the others
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
            print(f"  FAILED: {type(exc).__name__}: {exc}")
            print(traceback.format_exc()[-1500:])
        results[name]["seconds"] = time.perf_counter() - t0
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    failed = [n for n, r in results.items() if not r.get("ok")]
    print(f"gpu_check: {len(results) - len(failed)} of {len(results)} parts ok" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
