"""Benchmark of the CA3 attractor memory: measured capacity against theory, and speed.

    PYTHONPATH=. python benchmarks/bench_attractor.py --grid full --json bench_attractor.json
    PYTHONPATH=. python benchmarks/bench_attractor.py --grid small --perf-n 1024   # minutes

Capacity: for N in the grid, k = round(log2 N) and k = round(5% N), cue fractions 0.5 and
1.0, M_cap (mean missing + false <= 1 bit) from :func:`neurohop.cam.attractor.capacity.run_sweep`
on a Dask LocalCluster, with M_max (Willshaw), their ratio, bits per synapse and 0.138 N.

Performance (per N in ``--perf-n``): wall seconds per simulated second of storage and of
recall on each backend; torch (event-driven) recall throughput in cues per second at
B = 1, 64, 1024; the ratio of a recall step's time to the memory-bandwidth floor of one
dense recurrent step (N^2 x bytes per weight / bandwidth measured with a large tensor copy);
and batched torch recall (B = 1024) against sequential Brian2 recall of the same network.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neurohop.cam.attractor import AttractorMemory, make_cues, random_patterns  # noqa: E402
from neurohop.cam.attractor import theory  # noqa: E402
from neurohop.cam.attractor.capacity import run_sweep  # noqa: E402
from neurohop.files import atomic_write  # noqa: E402

GRIDS = {"full": [256, 1024, 4096], "medium": [256, 1024], "small": [256]}


def bandwidth_gbs(nbytes: int = 512 * 2**20, repeats: int = 5) -> float:
    """Copy bandwidth (read + write) of a large float64 tensor, GB/s (best of ``repeats``)."""
    a = torch.ones(nbytes // 8, dtype=torch.float64)
    b = torch.empty_like(a)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - t)
    return 2 * nbytes / best / 1e9


def capacity_grid(ns: list[int], probes: int, workers: int, seed: int) -> list[dict[str, Any]]:
    settings = []
    for n in ns:
        for k in sorted({max(1, round(math.log2(n))), max(1, round(0.05 * n))}):
            for cue in (0.5, 1.0):
                settings.append((n, k, cue, 0))
    return run_sweep(settings, workers=workers, probes=probes, seed=seed, progress=True)


def _stored_memory(n: int, k: int, m: int, backend: str, **opts: Any) -> tuple[AttractorMemory, float]:
    mem = AttractorMemory(n, k, backend=backend, **opts)
    patterns = random_patterns(np.random.default_rng(0), m, n, k)
    t = time.perf_counter()
    mem.store(patterns)
    return mem, time.perf_counter() - t


def perf(n: int, store_m: int, brian2: bool, brian2_cues: int, brian2_store: int, bw: float) -> dict[str, Any]:
    k = max(1, round(math.log2(n)))
    c = theory.correct_bits(k, 0.5)
    p = AttractorMemory(n, k).protocol
    out: dict[str, Any] = {"n": n, "k": k, "stored_patterns": store_m, "correct_cue_bits": c}
    print(f"\n== performance at N={n}, k={k}, {store_m} stored patterns, half cues ==", flush=True)
    mem, wall = _stored_memory(n, k, store_m, "torch")
    sim_s = store_m * p.store_spacing * p.timestep_ms / 1000
    out["torch_store_wall_per_sim_s"] = wall / sim_s
    print(f"torch (event) storage: {wall:.2f} s for {sim_s:.2f} s simulated -> {wall / sim_s:.2f} wall s per simulated s ({wall / store_m * 1e3:.2f} ms per pattern)", flush=True)
    rng = np.random.default_rng(1)
    cues, targets = make_cues(rng, mem.patterns[rng.choice(store_m, 1024)], n, c)
    floor_s = n * n * 8 / (bw * 1e9)
    out["dense_step_floor_s"] = floor_s
    out["torch_recall"] = {}
    for dtype in ("float64", "float32"):
        if dtype == "float32":
            mem32, _ = _stored_memory(n, k, store_m, "torch", dtype="float32")
            run_mem = mem32
        else:
            run_mem = mem
        for B in (1, 64, 1024):
            run_mem.batch = B
            reps = max(1, 64 // B) if B < 64 else 1
            run_mem.recall(cues[:B], targets[:B])  # warm-up
            t = time.perf_counter()
            for _ in range(reps):
                res = run_mem.recall(cues[:B], targets[:B])
            wall = (time.perf_counter() - t) / reps
            step = wall / p.recall_steps
            row = {
                "cues_per_s": B / wall,
                "wall_per_sim_s": wall / (p.recall_steps * p.timestep_ms / 1000),
                "step_s": step,
                "step_over_dense_floor": step / floor_s,
                "mean_error": res.mean_error,
            }
            out["torch_recall"][f"{dtype}_B{B}"] = row
            print(f"torch (event, {dtype}) recall B={B:>4}: {row['cues_per_s']:>9.1f} cues/s, {row['wall_per_sim_s']:.3f} wall s per sim s (of the batch), step {step * 1e3:.2f} ms = {row['step_over_dense_floor']:.2f} x the dense-step floor {floor_s * 1e3:.3f} ms, error {res.mean_error:.2f}", flush=True)
    if brian2:
        try:
            mb = min(store_m, brian2_store)
            bmem = AttractorMemory(n, k, backend="brian2", target="cython")
            t = time.perf_counter()
            bmem.store(mem.patterns[:mb])
            wall = time.perf_counter() - t
            sim_s = mb * p.store_spacing * p.timestep_ms / 1000
            out["brian2_store_patterns"] = mb
            out["brian2_store_wall_per_sim_s"] = wall / sim_s
            print(f"brian2 (cython) storage of {mb} patterns: {wall:.2f} s for {sim_s:.2f} s simulated -> {wall / sim_s:.2f} wall s per simulated s", flush=True)
            tmem = AttractorMemory(n, k)
            tmem.store(mem.patterns[:mb])
            cue_b, tgt_b = make_cues(rng, mem.patterns[rng.choice(mb, brian2_cues)], n, c)
            t = time.perf_counter()
            bmem.recall(cue_b[:1], tgt_b[:1])  # builds the frozen recall network
            build = time.perf_counter() - t
            t = time.perf_counter()
            bres = bmem.recall(cue_b, tgt_b)
            wall = time.perf_counter() - t
            sim_s = brian2_cues * p.recall_spacing * p.timestep_ms / 1000
            same = bres.sets == tmem.recall(cue_b, tgt_b).sets
            out["brian2_recall"] = {"cues": brian2_cues, "cues_per_s": brian2_cues / wall, "wall_per_sim_s": wall / sim_s, "build_and_first_cue_s": build, "same_sets_as_torch": same}
            ratio = out["torch_recall"]["float64_B1024"]["cues_per_s"] / (brian2_cues / wall)
            out["batched_torch_B1024_over_sequential_brian2"] = ratio
            out["batched_torch_B1024_float32_over_sequential_brian2"] = out["torch_recall"]["float32_B1024"]["cues_per_s"] / (brian2_cues / wall)
            print(f"brian2 (cython) sequential recall: {brian2_cues / wall:.1f} cues/s ({wall / sim_s:.2f} wall s per sim s; recall network built in {build:.1f} s, not counted); same recalled sets as torch: {same}", flush=True)
            print(f"batched torch (B=1024, float64) / sequential brian2 cue throughput: {ratio:.1f}x (float32: {out['batched_torch_B1024_float32_over_sequential_brian2']:.1f}x)", flush=True)
        except MemoryError as exc:  # pragma: no cover - machine dependent
            out["brian2_recall"] = {"skipped": f"out of memory: {exc}"}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", choices=sorted(GRIDS) + ["none"], default="full", help="capacity grid: full (N=256,1024,4096), medium, small, none")
    ap.add_argument("--probes", type=int, default=200, help="recalls per checkpoint")
    ap.add_argument("--workers", type=int, default=2, help="Dask LocalCluster worker processes")
    ap.add_argument("--perf-n", type=int, nargs="*", default=[1024, 4096], help="N of the performance runs (none: skip)")
    ap.add_argument("--store-m", type=int, default=500, help="patterns stored (torch) before the performance recalls")
    ap.add_argument("--brian2-store", type=int, default=50, help="patterns stored on Brian2 (slow) for its figures")
    ap.add_argument("--brian2-max-n", type=int, default=4096, help="largest N run on Brian2")
    ap.add_argument("--brian2-cues", type=int, default=64, help="cues recalled sequentially on Brian2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="bench_attractor.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(), "torch": torch.__version__, "torch_threads": 1, "python": platform.python_version()},
        "settings": vars(args),
    }
    start = time.perf_counter()
    if args.grid != "none":
        print(f"== capacity grid {args.grid}: N in {GRIDS[args.grid]}, k = log2 N and 5% N, cue 0.5 and 1.0, {args.probes} probes per checkpoint ==", flush=True)
        rows = capacity_grid(GRIDS[args.grid], args.probes, args.workers, args.seed)
        report["capacity"] = rows
        print(f"{'N':>5} {'k':>4} {'cue':>4} {'c':>4} {'M_cap':>7} {'M_max':>9} {'ratio':>6} {'bits/syn':>8} {'0.138N':>7} {'>0.138N':>8}")
        for r in rows:
            print(f"{r['n']:>5} {r['k']:>4} {r['cue_fraction']:>4.1f} {r['correct_bits']:>4} {r['m_cap']:>7} {r['m_max_willshaw']:>9.1f} {r['ratio']:>6.3f} {r['bits_per_synapse']:>8.4f} {r['hopfield_0138n']:>7.1f} {str(r['above_hopfield']):>8}", flush=True)
    bw = bandwidth_gbs()
    report["bandwidth_gbs"] = bw
    print(f"\nmeasured copy bandwidth: {bw:.2f} GB/s (512 MiB float64 copy, read + write)", flush=True)
    report["performance"] = [perf(n, args.store_m, n <= args.brian2_max_n, args.brian2_cues, args.brian2_store, bw) for n in args.perf_n]
    report["wall_s"] = time.perf_counter() - start
    atomic_write(args.json, lambda tmp: tmp.write_text(json.dumps(report, indent=1, default=str)))
    print(f"\nwrote {args.json} ({report['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
