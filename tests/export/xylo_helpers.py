"""Random Xylo networks for the xylo tests (structure from neurohop, optional random integer parameters)."""

from __future__ import annotations

import numpy as np

from neurohop.export.program import Program
from neurohop.model import AllToAll, CubaLIF, Network, Population, Projection, SpikeSource


def random_network(seed: int) -> tuple[Network, np.random.Generator]:
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(2, 17))
    hidden = [int(rng.integers(3, 20)) for _ in range(int(rng.integers(1, 4)))]
    n_out = int(rng.integers(1, 9))
    cuba = lambda: CubaLIF(tau_syn=float(rng.choice([2.0, 4.0, 8.0])), tau_mem=float(rng.choice([2.0, 4.0, 16.0, 32.0])), v_th=1.0, reset="subtract")  # noqa: E731
    pops = [Population("in", n_in, SpikeSource())] + [Population(f"h{k}", n, cuba()) for k, n in enumerate(hidden)] + [Population("out", n_out, cuba())]
    projs = []
    for k, n in enumerate(hidden):
        projs.append(Projection(f"in_h{k}", "in", f"h{k}", AllToAll(), rng.uniform(0.0, 0.8, (n_in, n))))
        projs.append(Projection(f"h{k}_out", f"h{k}", "out", AllToAll(), rng.uniform(0.0, 0.3, (n, n_out))))
        for m, n2 in enumerate(hidden):
            if rng.random() < 0.7:
                projs.append(Projection(f"h{k}_h{m}", f"h{k}", f"h{m}", AllToAll(), rng.uniform(0.0, 0.2, (n, n2)), 1, "inhibitory" if rng.random() < 0.4 else "excitatory"))
    return Network(tuple(pops), tuple(projs)), rng


def randomise(program: Program, rng: np.random.Generator, activity: str) -> None:
    """Random integer parameters in place; 'high' activity brings multi-spike steps and saturation."""
    shifts = {m: int(rng.integers(0, {"low": 4, "mid": 9, "high": 16}[activity])) for m in ("in", "rec", "out")}
    for proj in program.projections:
        w = rng.integers(-128, 128, proj.arrays["weight"].size)
        w[rng.random(w.size) < 0.3] = 0
        if activity == "low":
            w = w // 4
        proj.arrays["weight"][:] = w
        proj.scalars["weight_shift"] = shifts[proj.scalars["matrix"]]
    for pop in program.populations:
        if pop.is_source:
            continue
        n = pop.size
        pop.params["dash_syn"][:] = rng.integers(0, 16, n)
        pop.params["dash_mem"][:] = rng.integers(0, 16, n)
        top = {"low": 4000, "mid": 800, "high": 60}[activity]
        pop.params["threshold"][:] = rng.integers(0, top, n)
        pop.params["bias"][:] = rng.integers(-top // 8 - 1, top // 8 + 1, n)
