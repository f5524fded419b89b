"""Time the torch backends on a Vogels-Abbott-style CUBA network (one thread).

3200 excitatory + 800 inhibitory LIF cells (IF_curr_exp parameters), 2% random
connectivity without autapses as FromList projections, 1 ms delays at dt 0.1 ms,
1000 Poisson sources at 20 Hz with 5% connectivity, random initial v.

    python benchmarks/profile_torch_va.py [--seconds 1] [--reps 3] [--profile]

Prints wall and process CPU seconds per simulated second (medians of the repetitions; on a
shared machine CPU time is the steadier figure), the mean rate and the peak RSS. Run one
configuration per process (``--only``) to read its own peak RSS.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import time

import numpy as np
import torch

from neurohop.backends.torch import build_torch
from neurohop.backends.torch.event import build_torch_event
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import LIF, SpikeSource
from neurohop.model.synapses import FromList

N_E, N_I, N_S = 3200, 800, 1000
DT = 0.1


def va_network(seconds: float, seed: int = 1) -> Network:
    """The network, every random draw from one seeded generator."""
    rng = np.random.default_rng(seed)
    steps = int(round(seconds * 1000 / DT))
    n = N_E + N_I
    model = LIF(cm=0.2, tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_thresh=-50.0, tau_refrac=5.0, tau_syn_e=5.0, tau_syn_i=10.0)
    times = []
    for _ in range(N_S):
        k = rng.poisson(20.0 * seconds)
        times.append(tuple(np.unique(rng.integers(0, steps, size=k)).tolist()))
    cells = Population("cells", n, model, record=("spikes",), initial={"v": rng.uniform(-60.0, -50.0, n)})
    sources = Population("noise", N_S, SpikeSource(times=tuple(times)), record=())

    def pairs(n_pre: int, p: float, offset: int = 0) -> FromList:
        mask = rng.random((n_pre, n)) < p
        pre, post = np.nonzero(mask)
        keep = (pre + offset) != post
        return FromList(pre[keep], post[keep])

    exc, inh, ext = pairs(N_E, 0.02), pairs(N_I, 0.02, N_E), pairs(N_S, 0.05)
    projections = [
        Projection("exc", "cells[0:3200]", "cells", exc, weight=0.0162, delay=10),
        Projection("inh", "cells[3200:4000]", "cells", inh, weight=0.0810, delay=10, receptor="inhibitory"),
        Projection("ext", "noise", "cells", ext, weight=0.03, delay=10),
    ]
    return Network((sources, cells), tuple(projections))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    net = va_network(args.seconds)
    steps = int(round(args.seconds * 1000 / DT))
    print(f"synapses: {sum(len(p.connector.pre_indices) for p in net.projections)}, steps {steps}")
    configs = {
        "torch f64 b1": (build_torch, dict(dtype="float64", batch=None)),
        "torch f32 b1": (build_torch, dict(dtype="float32", batch=None)),
        "torch f64 b16": (build_torch, dict(dtype="float64", batch=16)),
        "torch f32 b16": (build_torch, dict(dtype="float32", batch=16)),
        "torch_event f64": (build_torch_event, dict(dtype="float64")),
    }
    for name, (builder, opts) in configs.items():
        if args.only and args.only not in name:
            continue
        walls, cpus = [], []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            try:
                sim = builder(net, dt=DT, **opts)
            except Exception as exc:  # an older version refusing a connector
                print(f"{name:18s} refused: {exc}")
                break
            t1 = time.perf_counter()
            c1 = time.process_time()
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
            res = sim.run(steps)
            t2 = time.perf_counter()
            if args.profile:
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(15)
            walls.append(t2 - t1)
            cpus.append(time.process_time() - c1)
            B = opts.get("batch") or 1
            rate = res.spikes["cells"].sum() / (B * (N_E + N_I) * args.seconds)
            del sim, res  # one run's results alive at a time (peak RSS)
        if not walls:
            continue
        wall = statistics.median(walls) / args.seconds
        cpu = statistics.median(cpus) / args.seconds
        print(
            f"{name:18s} build {t1 - t0:5.2f} s  wall {wall:7.3f} s/sim s (per instance {wall / B:6.3f})  cpu {cpu:7.3f} (per instance {cpu / B:6.3f})"
            f"  rate {rate:5.2f} Hz  wall reps {[round(w, 2) for w in walls]}",
            flush=True,
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
