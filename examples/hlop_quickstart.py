"""Learn three permuted 8x8-digit tasks in a row, with and without HLOP, and compare forgetting.

Run: python examples/hlop_quickstart.py [--tasks 3] [--epochs 3] [--train dsr]

The same network (64-100-100 LIF, 10 timesteps, shared head; the packaged model file ``hlop_digits``) and
the same seed learn the tasks once by plain fine-tuning (``baseline``) and once with Hebbian
orthogonal projection (``hlop``). Prints each accuracy matrix (rows: after task i; columns:
task j), ACC and BWT, and the lateral circuits' diagnostics. Takes a few seconds on one core.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from neurohop.data import load_dataset, make_tasks
from neurohop.hlop import read_config, run_continual


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train", default="dsr", help="bptt, dsr, ottt, fa or ss")
    args = ap.parse_args()
    torch.set_num_threads(1)  # small matrices: one thread is as fast

    config = read_config("hlop_digits", {"train.epochs": args.epochs})
    tasks = make_tasks(load_dataset("digits"), "permuted", args.tasks, np.random.default_rng(0))
    results = {m: run_continual(tasks, m, args.train, config, seed=0) for m in ("baseline", "hlop")}

    for method, r in results.items():
        print(f"{method} / {args.train}: ACC {r.acc:.1f}%  BWT {r.bwt:+.1f} points  ({r.wall_time_s:.1f} s)")
        for row in r.accuracy_matrix:
            print("   " + " ".join("   -  " if np.isnan(v) else f"{v:6.1f}" for v in row))
    for layer in results["hlop"].diagnostics["layers"]:
        print(
            f"lateral circuit {layer['name']}: {layer['rows_total'][-1]} of {layer['width']} neurons, "
            f"energy captured {layer['energy_captured'][-1]:.3f} (SVD optimum {layer['energy_optimal'][-1]:.3f}), "
            f"eigenvalues of H^T H in [{layer['eig_min'][-1]:.3f}, {layer['eig_max'][-1]:.3f}]"
        )
    gain = results["hlop"].bwt - results["baseline"].bwt
    print(f"HLOP forgets {gain:.1f} points less than fine-tuning")


if __name__ == "__main__":
    main()
