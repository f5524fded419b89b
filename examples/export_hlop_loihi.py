"""An HLOP-trained spiking classifier on Loihi: float accuracy vs the bit-accurate 8-bit simulation.

    python examples/export_hlop_loihi.py [--checkpoint CKPT.npz] [--bits 8] [--out BUNDLE_DIR]

Without ``--checkpoint`` a small classifier is trained first on the 8x8 digits (two
permuted tasks, one epoch; about 10 s) with ``neurohop cl run``. The checkpoint embeds the
classifier as a neurohop network (``neurohop.hlop.to_network``), which is quantised for
``loihi``; every test image of every task is classified twice: by the float network
(neurohop.hlop's own simulation) and by the integer simulation of the Lava-exact Loihi
arithmetic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from neurohop.cli import main as neurohop_cli
from neurohop.data import load_dataset
from neurohop.export.backend import quantise
from neurohop.export.bundle import write_bundle
from neurohop.export.classifier import classifier_network, predict_fixed, readout_of
from neurohop.hlop.checkpoint import load_classifier, run_classifier


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--data", default="digits", help="data set the checkpoint was trained on (digits or mnist5k)")
    ap.add_argument("--bits", type=int, default=8, help="loihi num_weight_bits")
    ap.add_argument("--out", default=None, help="also write the export bundle here")
    args = ap.parse_args()
    ckpt = args.checkpoint
    if ckpt is None:
        ckpt = str(Path(tempfile.mkdtemp()) / "hlop_digits.npz")
        cmd = ["cl", "run", "--data", "digits", "--scenario", "permuted", "--tasks", "2", "--method", "hlop", "--epochs", "1", "--save", ckpt, "--quiet", "--threads", "1"]
        if neurohop_cli(cmd) != 0:  # the `neurohop` command, run in this process
            return 1
        args.data = "digits"
    clf = load_classifier(ckpt)
    net = classifier_network(ckpt)  # the network the checkpoint embeds
    program = quantise(net, "loihi", 1.0, num_weight_bits=args.bits)
    if args.out:
        write_bundle(program, args.out, source={"kind": "classifier", "path": ckpt}, force=True)
    data = load_dataset(args.data)
    perms = clf.arrays.get("task_permutations", np.arange(data.n_features)[None, :])
    T, readout = clf.net.timesteps, readout_of(net)
    hits_float = hits_fixed = total = 0
    for k, perm in enumerate(perms):
        x, y = data.x_test[:, perm], data.y_test
        spikes = clf.net.encode(torch.as_tensor(x, dtype=torch.float32))
        pred_float = run_classifier(clf.net, spikes).logits.argmax(1).numpy()
        pred_fixed = predict_fixed(program, spikes.numpy() > 0, T, readout)
        hits_float += int((pred_float == y).sum())
        hits_fixed += int((pred_fixed == y).sum())
        total += len(y)
        print(f"task {k}: float {100 * (pred_float == y).mean():.2f}%  loihi {args.bits}-bit {100 * (pred_fixed == y).mean():.2f}%  (same answer on {100 * (pred_float == pred_fixed).mean():.1f}% of images)")
    print(f"all tasks ({total} images): float {100 * hits_float / total:.2f}%  loihi {args.bits}-bit {100 * hits_fixed / total:.2f}%  "
          f"difference {100 * (hits_fixed - hits_float) / total:+.2f} points; {len(program.report.warnings)} quantisation warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
