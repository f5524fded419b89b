"""Benchmark of the CA3 content-addressable memory (prints figures; writes JSON with --json).

Measures, side by side in one run on this machine:

1. the functional replay of the SpiNNaker recording on every backend: wall time of build +
   run and of the run alone, and the mismatch count;
2. torch throughput with B = 1, 64, 1024 batched instances of that replay;
3. float32 against float64 (torch): mismatches on the recording and differing spikes over
   random operation sequences;
4. recall quality against operation spacing: the share of answers equal to an ideal memory
   for random workloads, at the minimum legal spacing and with extra steps.

Usage: python benchmarks/bench_cam.py [--json OUT.json] [--recording PATH] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neurohop  # noqa: E402
from neurohop.backends.base import spike_array  # noqa: E402
from neurohop.cam import ContentAddressableMemory, Operation, bits_to_vector  # noqa: E402
from neurohop.cam.reference import ideal_answers, matches  # noqa: E402
from neurohop.cam.replay import load_recording, replay  # noqa: E402
from neurohop.model import load_model  # noqa: E402
from neurohop.resources import recording_path  # noqa: E402
from neurohop.testing import random_operations  # noqa: E402

#: The SpiNNaker recording that ships with neurohop (neurohop/resources/recordings/).
DEFAULT_RECORDING = recording_path()


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def replay_timings(path: Path, repeats: int) -> list[dict]:
    rec = load_recording(path)
    net = load_model("ca3_cam", C=rec.cue_size, K=rec.content_size)
    src = spike_array(rec.cue_input + rec.content_input, rec.steps, rec.cue_size + rec.content_size)
    rows = []
    for name, opts in [("torch", {"dtype": "float64"}), ("torch", {"dtype": "float32"}), ("brian2", {"target": "numpy"}), ("brian2", {"target": "cython"})]:
        t0 = time.perf_counter()
        report = replay(path, backend=name, **opts)
        first = time.perf_counter() - t0
        total = best_of(lambda: replay(path, backend=name, **opts), repeats)

        def run_only() -> None:
            sim = neurohop.build(net, backend=name, **opts)
            sim.run(1, {"input": src[:1]})  # the first run includes one-off preparation
            t = time.perf_counter()
            sim.run(rec.steps - 1, {"input": src[1:]})
            run_only.elapsed = time.perf_counter() - t  # type: ignore[attr-defined]

        runs = []
        for _ in range(repeats):
            run_only()
            runs.append(run_only.elapsed)  # type: ignore[attr-defined]
        rows.append(
            {
                "backend": name, **opts, "mismatches": report["mismatches"], "compared_spikes": report["compared_spikes"],
                "first_call_s": round(first, 3), "build_and_run_s": round(total, 4), "run_only_s": round(min(runs), 4),
                "steps": rec.steps, "ms_per_step_run_only": round(1000 * min(runs) / (rec.steps - 1), 4),
            }
        )
    return rows


def batch_throughput(path: Path, batches: list[int], repeats: int, device: str) -> list[dict]:
    rec = load_recording(path)
    net = load_model("ca3_cam", C=rec.cue_size, K=rec.content_size)
    src = spike_array(rec.cue_input + rec.content_input, rec.steps, rec.cue_size + rec.content_size)
    want = {name: trains for name, trains in rec.recorded.items()}
    rows = []
    for dtype in ("float64", "float32"):
        for B in batches:
            inputs = {"input": np.repeat(src[:, None, :], B, axis=1)}
            result = {}

            def once() -> None:
                sim = neurohop.build(net, backend="torch", batch=B, device=device, dtype=dtype)
                result["res"] = sim.run(rec.steps, inputs)

            seconds = best_of(once, repeats)
            res = result["res"]
            C = rec.cue_size
            bad = 0
            for name, trains in want.items():
                pop, lo = ("output", 0) if name == "out_cue" else ("output", C) if name == "out_cont" else (name, 0)
                arr = res.spikes[pop][:, :, lo : lo + len(trains)]
                ref = spike_array(trains, rec.steps, len(trains))
                bad += int((arr != ref[:, None, :]).sum())
            rows.append(
                {
                    "dtype": dtype, "batch": B, "device": device, "seconds": round(seconds, 4),
                    "replays_per_s": round(B / seconds, 1), "instance_steps_per_s": round(B * rec.steps / seconds, 1),
                    "mismatches_all_instances": bad,
                }
            )
    return rows


def float32_agreement(seeds: int) -> dict:
    total = differing = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        C, K = int(rng.integers(2, 10)), int(rng.integers(3, 16))
        ops = random_operations(rng, C, K, 20)
        a, b = ContentAddressableMemory(C, K), ContentAddressableMemory(C, K, dtype="float32")
        a.run_schedule(ops)
        b.run_schedule(ops)
        ra, rb = a.record(), b.record()
        for pop in ra.spikes:
            total += int(ra.spikes[pop].sum())
            differing += int((ra.spikes[pop] != rb.spikes[pop]).sum())
    return {"sequences": seeds, "operations_each": 20, "spikes_float64": total, "differing_spike_entries": differing}


def quality_vs_spacing(seeds: int, extras: list[int]) -> list[dict]:
    """Learn every cue once (random order), re-learn two (forgetting), recall by cue and by 1-2 bit fragments."""
    rows = []
    for extra in extras:
        stats = {"learn": [0, 0], "recall_by_cue": [0, 0], "recall_by_content": [0, 0]}
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            C, K = int(rng.integers(3, 8)), int(rng.integers(6, 12))
            ops = []
            for cue in list(rng.permutation(C)) + list(rng.permutation(C)[:2]):
                vec = (rng.random(K) < 0.3).astype(int)
                vec[rng.integers(K)] = 1
                ops.append(Operation("learn", int(cue), tuple(vec.tolist())))
            ops += [Operation("recall_by_cue", int(c)) for c in rng.permutation(C)]
            for _ in range(4):
                ops.append(Operation("recall_by_content", None, bits_to_vector(sorted(set(rng.integers(0, K, int(rng.integers(1, 3))).tolist())), K)))
            mem = ContentAddressableMemory(C, K, extra_spacing=extra)
            res = mem.run_schedule(ops)
            for r, e in zip(res, ideal_answers([r.operation for r in res], K)):
                s = stats[r.operation.kind]
                s[0] += matches(r, e)
                s[1] += 1
        rows.append({"extra_spacing_steps": extra, **{k: {"ideal": a, "total": b, "share": round(a / b, 3)} for k, (a, b) in stats.items()}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--recording", default=str(DEFAULT_RECORDING))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="1,64,1024")
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    path = Path(args.recording)
    machine = {
        "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": args.device,
    }
    print(f"# neurohop CA3 CAM benchmark on {machine['platform']}, {machine['cpu_count']} CPUs, torch {machine['torch']} ({machine['torch_threads']} threads)")
    print(f"# recording: {path}")
    out: dict = {"machine": machine, "recording": str(path)}

    out["replay"] = replay_timings(path, args.repeats)
    print("\n## functional replay (best of %d)" % args.repeats)
    print(f"{'backend':<24}{'mismatch':>9}{'first call s':>13}{'build+run s':>12}{'run s':>9}{'ms/step':>9}")
    for r in out["replay"]:
        label = r["backend"] + " " + (r.get("dtype") or r.get("target"))
        print(f"{label:<24}{r['mismatches']:>9}{r['first_call_s']:>13}{r['build_and_run_s']:>12}{r['run_only_s']:>9}{r['ms_per_step_run_only']:>9}")

    batches = [int(b) for b in args.batches.split(",")]
    out["batched"] = batch_throughput(path, batches, args.repeats, args.device)
    print(f"\n## torch batched replay on {args.device} (build + run, best of {args.repeats})")
    print(f"{'dtype':<9}{'B':>6}{'seconds':>10}{'replays/s':>11}{'inst-steps/s':>14}{'mismatches':>12}")
    for r in out["batched"]:
        print(f"{r['dtype']:<9}{r['batch']:>6}{r['seconds']:>10}{r['replays_per_s']:>11}{r['instance_steps_per_s']:>14}{r['mismatches_all_instances']:>12}")

    out["float32_vs_float64"] = float32_agreement(args.seeds)
    f = out["float32_vs_float64"]
    print(f"\n## float32 vs float64 on {f['sequences']} random sequences of {f['operations_each']} operations: "
          f"{f['differing_spike_entries']} differing spike entries of {f['spikes_float64']} spikes")

    out["quality_vs_spacing"] = quality_vs_spacing(args.seeds, [0, 1, 3, 13])
    print(f"\n## answers equal to an ideal memory ({args.seeds} random workloads; learn all cues, re-learn 2, recall)")
    print(f"{'extra steps':>11}{'learn':>12}{'by cue':>12}{'by content':>13}")
    for r in out["quality_vs_spacing"]:
        cells = [f"{r[k]['ideal']}/{r[k]['total']}" for k in ("learn", "recall_by_cue", "recall_by_content")]
        print(f"{r['extra_spacing_steps']:>11}{cells[0]:>12}{cells[1]:>12}{cells[2]:>13}")

    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
