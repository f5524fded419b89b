"""A Vogels-Abbott-style current-based recurrent network, written as an ordinary PyNN script,
run on neurohop (``neurohop.pynn``) and on NEST (``pyNN.nest``): firing rates, CV of the
inter-spike intervals and wall time of each, one thread on each side, several repetitions,
median.

    python benchmarks/bench_pynn_nest.py [--small] [--n N] [--time MS] [--reps R] [--backend torch] [--json OUT.json]

The network (after Vogels & Abbott 2005 and Brette et al. 2007, CUBA): N IF_curr_exp cells,
80% excitatory, 20% inhibitory, FixedProbabilityConnector(2%) between all of them,
every cell driven by its own Poisson source, membrane potentials initialised uniformly
between reset and threshold. Both simulators get the same script; only ``sim`` differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

CELL = dict(cm=0.2, tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_thresh=-50.0, tau_refrac=5.0, tau_syn_E=5.0, tau_syn_I=10.0, i_offset=0.0)
W_EXC = 0.0162   # nA: 0.27 nS at 60 mV from the excitatory reversal (the CUBA benchmark)
W_INH = -0.09    # nA: 4.5 nS at 20 mV from the inhibitory reversal
W_EXT = 0.1      # nA from each Poisson input spike
RATE_EXT = 300.0  # Hz per Poisson source
P_CONN = 0.02
DELAY = 0.1      # ms (one timestep)
DT = 0.1         # ms


def build_and_run(sim: Any, n: int, t_stop: float, seed: int, **setup: Any) -> dict[str, Any]:
    """The PyNN script: build, run, return spikes and timings."""
    from pyNN.random import NumpyRNG, RandomDistribution

    t0 = time.perf_counter()
    sim.setup(timestep=DT, min_delay=DELAY, **setup)
    rng = NumpyRNG(seed=seed)
    n_exc = int(0.8 * n)
    cells = sim.Population(n, sim.IF_curr_exp(**CELL), label="cells")
    cells.initialize(v=RandomDistribution("uniform", (CELL["v_reset"], CELL["v_thresh"]), rng=rng))
    exc, inh = cells[:n_exc], cells[n_exc:]
    noise = sim.Population(n, sim.SpikeSourcePoisson(rate=RATE_EXT), label="noise")
    sim.Projection(noise, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=W_EXT, delay=DELAY), receptor_type="excitatory")
    conn = sim.FixedProbabilityConnector(P_CONN, allow_self_connections=False, rng=rng)
    sim.Projection(exc, cells, conn, sim.StaticSynapse(weight=W_EXC, delay=DELAY), receptor_type="excitatory")
    sim.Projection(inh, cells, conn, sim.StaticSynapse(weight=W_INH, delay=DELAY), receptor_type="inhibitory")
    cells.record("spikes")
    t1 = time.perf_counter()
    sim.run(t_stop)
    t2 = time.perf_counter()
    trains = [np.asarray(st.magnitude, dtype=float) for st in cells.get_data("spikes").segments[-1].spiketrains]
    sim.end()
    return {"trains": trains, "n_exc": n_exc, "build_s": t1 - t0, "run_s": t2 - t1, "wall_s": time.perf_counter() - t0}


def statistics_of(trains: list[np.ndarray], n_exc: int, t_stop: float, skip: float = 100.0) -> dict[str, float]:
    """Mean rate (Hz) of excitatory and inhibitory cells and the mean CV of ISI (cells with >= 3 spikes), after ``skip`` ms."""
    def rate(ts):
        return float(np.mean([np.sum(t >= skip) for t in ts]) / ((t_stop - skip) / 1000.0))

    cvs = []
    for t in trains:
        isi = np.diff(t[t >= skip])
        if isi.size >= 2 and isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return {"rate_exc_hz": rate(trains[:n_exc]), "rate_inh_hz": rate(trains[n_exc:]), "cv_isi": float(np.mean(cvs)) if cvs else float("nan"),
            "spikes": int(sum(t.size for t in trains))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run: 1000 cells, 500 ms, 2 repetitions")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--time", type=float, default=1000.0, help="simulated time, ms")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backend", default="torch", help="neurohop backend (torch, brian2, ...)")
    parser.add_argument("--no-nest", action="store_true", help="run neurohop only")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.small:
        args.n, args.time, args.reps = 1000, 500.0, 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import neurohop.pynn as nh

    sides: list[tuple[str, Any, dict[str, Any]]] = [(f"neurohop.pynn ({args.backend})", nh, {"backend": args.backend})]
    if not args.no_nest:
        try:
            import pyNN.nest as nest_sim
        except ImportError as exc:
            print(f"pyNN.nest is not available ({exc}); install nest-simulator (pip install '.[peers]') or pass --no-nest", file=sys.stderr)
            return 2
        sides.append(("pyNN.nest (NEST)", nest_sim, {"threads": 1}))
    print(f"Vogels-Abbott CUBA-style network: {args.n} IF_curr_exp cells, p = {P_CONN}, Poisson drive {RATE_EXT} Hz x {W_EXT} nA, "
          f"dt = {DT} ms, {args.time} ms simulated, {args.reps} repetitions (median), 1 thread each; {platform.machine()}, {os.cpu_count()} CPUs")
    report: dict[str, Any] = {"n": args.n, "time_ms": args.time, "reps": args.reps, "dt_ms": DT, "sides": {}}
    for label, sim, setup in sides:
        runs = [build_and_run(sim, args.n, args.time, seed=100 + r, **setup) for r in range(args.reps)]
        stats = [statistics_of(r["trains"], r["n_exc"], args.time) for r in runs]
        row = {
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "build_s": statistics.median(r["build_s"] for r in runs),
            "run_s": statistics.median(r["run_s"] for r in runs),
            "rate_exc_hz": statistics.median(s["rate_exc_hz"] for s in stats),
            "rate_inh_hz": statistics.median(s["rate_inh_hz"] for s in stats),
            "cv_isi": statistics.median(s["cv_isi"] for s in stats),
        }
        report["sides"][label] = row
        print(f"  {label:28s} rate exc {row['rate_exc_hz']:6.2f} Hz  inh {row['rate_inh_hz']:6.2f} Hz  CV ISI {row['cv_isi']:.3f}  "
              f"wall {row['wall_s']:7.2f} s (build {row['build_s']:.2f} s, run {row['run_s']:.2f} s)")
    if len(report["sides"]) == 2:
        (a, ra), (b, rb) = report["sides"].items()
        report["wall_ratio_neurohop_over_nest"] = ra["wall_s"] / rb["wall_s"]
        report["run_ratio_neurohop_over_nest"] = ra["run_s"] / rb["run_s"]
        print(f"  neurohop / NEST wall time: {report['wall_ratio_neurohop_over_nest']:.2f}x (run phase only: {report['run_ratio_neurohop_over_nest']:.2f}x)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
