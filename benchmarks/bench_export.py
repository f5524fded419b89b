"""Measured figures of neurohop.export: printed with their settings, nothing hard-coded.

    python benchmarks/bench_export.py [--checkpoint CKPT.npz] [--tasks 3] [--epochs 1] [--bits 8 6 4] [--json OUT.json]
    python benchmarks/bench_export.py --only speed [--steps 200] [--batch B] [--device cuda] [--repeats 5]

1. CA3 memory on ``fixed:spinnaker1``: replay of the shared SpiNNaker recording
   (mismatching spikes) and the wall time of one replay, next to the float torch backend.
2. HLOP-trained permuted-MNIST classifier on ``loihi``: accuracy of the float network
   (neurohop.hlop's own simulation) and of the bit-accurate integer simulation at each
   weight precision, over the test images of every task. Without ``--checkpoint`` the
   classifier is trained first with ``neurohop cl run`` (settings printed).
3. Integer-simulator speed: steps per second of a random CubaLIF network on each target,
   next to the float torch backend, with the exact float products (float32 or float64,
   whichever holds every partial sum) and with the int64 products they replace
   (``--only speed`` runs just this part; ``--batch``, ``--device``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import neurohop
from neurohop.cam.replay import replay
from neurohop.errors import NeurohopError
from neurohop.export.backend import quantise
from neurohop.export.classifier import classifier_network, predict_fixed, readout_of
from neurohop.export.mapping import map_program
from neurohop.model import AllToAll, CubaLIF, Network, Population, Projection, SpikeSource
from neurohop.resources import recording_path

ROOT = Path(__file__).resolve().parents[1]
#: The SpiNNaker recording that ships with neurohop (neurohop/resources/recordings/).
RECORDING = recording_path()


def median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_ca3(repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"recording": str(RECORDING)}
    for backend in ("fixed:spinnaker1", "torch"):
        result = replay(RECORDING, backend=backend)
        out[backend] = {
            "compared_spikes": result["compared_spikes"], "mismatches": result["mismatches"],
            "replay_wall_s": median_time(lambda: replay(RECORDING, backend=backend), repeats),
        }
    return out


def train_classifier(tasks: int, epochs: int, train: str, seed: int) -> tuple[str, dict[str, Any]]:
    path = str(Path(tempfile.mkdtemp()) / "hlop_pmnist.npz")
    cmd = [sys.executable, "-m", "neurohop", "cl", "run", "--data", "mnist5k", "--scenario", "permuted", "--tasks", str(tasks), "--method", "hlop",
           "--train", train, "--epochs", str(epochs), "--seed", str(seed), "--save", path, "--quiet", "--threads", str(torch.get_num_threads())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"training failed: {proc.stderr[-2000:]}")
    return path, {"command": " ".join(["neurohop", *cmd[3:]]), "train_wall_s": time.perf_counter() - t0, "summary": proc.stdout.strip().splitlines()[0]}


def bench_classifier(checkpoint: str, bits: list[int]) -> dict[str, Any]:
    from neurohop.data import load_dataset
    from neurohop.hlop.checkpoint import load_classifier, run_classifier

    clf = load_classifier(checkpoint)
    data_name = str(clf.meta.get("info", {}).get("data", "mnist5k"))
    data = load_dataset(data_name)
    net = classifier_network(checkpoint)  # the network the checkpoint embeds
    readout, T = readout_of(net), clf.net.timesteps
    perms = clf.arrays.get("task_permutations", np.arange(data.n_features)[None, :])
    out: dict[str, Any] = {
        "checkpoint": checkpoint, "data": data_name, "tasks": int(len(perms)), "test_images_per_task": int(len(data.y_test)),
        "layers": [p.size for p in net.populations if not p.is_source], "timesteps": T, "beta": clf.net.config.beta,
        "latency_steps": net.metadata["latency_steps"], "float": {}, "loihi": {},
    }
    encoded = []
    hits = 0
    for perm in perms:
        x = torch.as_tensor(data.x_test[:, perm], dtype=torch.float32)
        spikes = clf.net.encode(x)
        pred = run_classifier(clf.net, spikes).logits.argmax(1).numpy()
        hits += int((pred == data.y_test).sum())
        encoded.append((spikes.numpy() > 0, pred))
    total = len(perms) * len(data.y_test)
    out["float"] = {"accuracy_pct": 100.0 * hits / total}
    for b in bits:
        program = quantise(net, "loihi", 1.0, num_weight_bits=b)
        mapping = map_program(program)
        t0 = time.perf_counter()
        hits_b, same = 0, 0
        for spikes, pred_float in encoded:
            pred = predict_fixed(program, spikes, T, readout)
            hits_b += int((pred == data.y_test).sum())
            same += int((pred == pred_float).sum())
        wall = time.perf_counter() - t0
        out["loihi"][str(b)] = {
            "accuracy_pct": 100.0 * hits_b / total, "difference_points": 100.0 * (hits_b - hits) / total,
            "same_prediction_pct": 100.0 * same / total, "warnings": len(program.report.warnings),
            "weights_to_zero": sum(e.zeroed for e in program.report.entries),
            "cores": mapping.totals["cores"], "simulation_wall_s": wall, "images": total,
        }
    for target in ("xylo", "spinnaker1"):
        try:
            quantise(net, target, 1.0)
            out[target] = "fits"
        except NeurohopError as exc:
            out[target] = f"refused: {exc}"
    return out


def bench_speed(steps: int, repeats: int, batch: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """Steps per second of the export benchmark network on each backend, side by side.

    For the fixed backends the exact float matrix products (the default where every
    partial sum fits in the significand) are timed next to the int64 products they replace
    (forced by setting ``intmath.FLOAT64_EXACT`` to 0). ``build_run`` includes building
    (quantising, for the fixed backends); ``run`` is the simulation alone.
    """
    from neurohop.export import intmath

    rng = np.random.default_rng(0)
    net = Network(
        (Population("in", 16, SpikeSource()), Population("h", 200, CubaLIF(tau_syn=2.0, tau_mem=8.0, v_th=1.0)), Population("o", 8, CubaLIF(tau_syn=1.0, tau_mem=4.0, v_th=1.0))),
        (Projection("a", "in", "h", AllToAll(), rng.uniform(0, 0.5, (16, 200))), Projection("r", "h", "h", AllToAll(False), rng.uniform(0, 0.02, 200 * 199), 1, "inhibitory"),
         Projection("b", "h", "o", AllToAll(), rng.uniform(0, 0.1, (200, 8)))),
    )
    shape = (steps, 16) if batch is None else (steps, batch, 16)
    inp = {"in": rng.random(shape) < 0.2}
    out: dict[str, Any] = {"network": "16 inputs -> 200 CubaLIF (recurrent) -> 8 CubaLIF", "steps": steps, "batch": batch, "device": device}
    exact = intmath.FLOAT64_EXACT
    cases = [("torch", "torch", exact), ("fixed:loihi", "fixed:loihi", exact), ("fixed:loihi int64", "fixed:loihi", 0), ("fixed:xylo", "fixed:xylo", exact), ("fixed:xylo int64", "fixed:xylo", 0)]
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in cases}
    # repetitions interleaved across the backends, so that every backend sees the same load
    for _ in range(repeats):
        for label, backend, bound in cases:
            intmath.FLOAT64_EXACT = bound
            try:
                t0 = time.perf_counter()
                sim = neurohop.build(net, backend=backend, batch=batch, device=device)
                t1 = time.perf_counter()
                sim.run(steps, inp)
                runs[label].append((time.perf_counter() - t0, time.perf_counter() - t1))
            finally:
                intmath.FLOAT64_EXACT = exact
    for label, _, _ in cases:
        both, run = (float(np.median([r[i] for r in runs[label]])) for i in (0, 1))
        out[label] = {"steps_per_s": steps / both, "run_steps_per_s": steps / run, "wall_s": both, "run_wall_s": run}
    return out


def print_speed(speed: dict[str, Any], repeats: int) -> None:
    batch = "" if speed["batch"] is None else f", batch {speed['batch']}"
    print(f"\n[3] simulation speed, {speed['network']}, {speed['steps']} steps{batch}, device {speed['device']} (median of {repeats})")
    ref = speed["torch"]
    print(f"  {'backend':<20} {'build+run steps/s':>18} {'x torch':>8} {'run steps/s':>12} {'x torch':>8}")
    for label in ("torch", "fixed:loihi", "fixed:loihi int64", "fixed:xylo", "fixed:xylo int64"):
        r = speed[label]
        print(f"  {label:<20} {r['steps_per_s']:>18.0f} {r['steps_per_s'] / ref['steps_per_s']:>8.2f} {r['run_steps_per_s']:>12.0f} {r['run_steps_per_s'] / ref['run_steps_per_s']:>8.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="HLOP classifier checkpoint (default: train one)")
    ap.add_argument("--tasks", type=int, default=3, help="permuted-MNIST tasks when training")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per task when training")
    ap.add_argument("--train", default="dsr", help="HLOP training method when training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bits", type=int, nargs="+", default=[8, 6, 4], help="loihi weight precisions")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the figures as JSON")
    ap.add_argument("--only", choices=["speed"], default=None, help="run only this part")
    ap.add_argument("--steps", type=int, default=200, help="steps of the speed benchmark")
    ap.add_argument("--batch", type=int, default=None, help="batch of the speed benchmark (default: none)")
    ap.add_argument("--device", default="cpu", help="device of the speed benchmark (cpu or cuda)")
    args = ap.parse_args()
    settings = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__, "neurohop": neurohop.__version__,
        "torch_threads": torch.get_num_threads(), "machine": platform.machine(), "processor": platform.processor() or "unknown",
    }
    print("settings:", json.dumps(settings))
    results: dict[str, Any] = {"settings": settings}
    if args.only == "speed":
        results["speed"] = bench_speed(args.steps, args.repeats, args.batch, args.device)
        print_speed(results["speed"], args.repeats)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
        return 0

    ca3 = bench_ca3(args.repeats)
    results["ca3_spinnaker1"] = ca3
    print("\n[1] CA3 memory, replay of the SpiNNaker recording")
    for backend in ("fixed:spinnaker1", "torch"):
        r = ca3[backend]
        print(f"  {backend:<17} {r['compared_spikes']} recorded spikes, {r['mismatches']} mismatches, {r['replay_wall_s']:.3f} s per replay (median of {args.repeats})")

    ckpt = args.checkpoint
    if ckpt is None:
        ckpt, info = train_classifier(args.tasks, args.epochs, args.train, args.seed)
        results["training"] = info
        print(f"\n    trained: {info['command']} ({info['train_wall_s']:.0f} s): {info['summary']}")
    clf = bench_classifier(ckpt, args.bits)
    results["hlop_loihi"] = clf
    print(f"\n[2] HLOP classifier {clf['layers']} on {clf['data']}, {clf['tasks']} permuted tasks x {clf['test_images_per_task']} test images, T = {clf['timesteps']}, beta = {clf['beta']}")
    print(f"  float (neurohop.hlop)      accuracy {clf['float']['accuracy_pct']:.2f}%")
    for b, r in clf["loihi"].items():
        print(f"  loihi {b}-bit weights       accuracy {r['accuracy_pct']:.2f}%  ({r['difference_points']:+.2f} points; same prediction on {r['same_prediction_pct']:.1f}%; "
              f"{r['weights_to_zero']} weights to 0; {r['cores']} cores; simulated {r['images']} images in {r['simulation_wall_s']:.1f} s)")
    for target in ("xylo", "spinnaker1"):
        print(f"  {target}: {clf[target]}")

    speed = bench_speed(args.steps, args.repeats, args.batch, args.device)
    results["speed"] = speed
    print_speed(speed, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
