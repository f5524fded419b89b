"""Shared builders for the export tests."""

from __future__ import annotations

import math

import numpy as np

from neurohop.model import AllToAll, CubaLIF, Network, Population, Projection, SpikeSource


def grid(rng: np.random.Generator, lo: float, hi: float, step: float = 1 / 64) -> float:
    return float(np.round(rng.uniform(lo, hi) / step) * step)


def random_cuba_network(rng: np.random.Generator, n_pops: int = 3, max_size: int = 7, n_proj: int = 7, weight_scale: float = 1.5, exact: bool = False, record: tuple[str, ...] = ("spikes", "u", "v")) -> Network:
    """Random CubaLIF network driven by one source.

    ``exact=True`` draws time constants that are powers of two times dt=1 ms and weights,
    thresholds and biases on a 1/64 grid, so that every float conversion is exact.
    """
    pops = [Population("src", int(rng.integers(1, max_size)), SpikeSource())]
    for k in range(n_pops):
        if exact:
            ts, tm = float(rng.choice([1.0, 2.0, 4.0])), float(rng.choice([1.0, 4.0, 8.0]))
        else:
            ts, tm = float(rng.choice([1.0, 1.5, 2.0, 5.0])), float(rng.choice([1.0, 3.0, 10.0, math.inf]))
        model = CubaLIF(
            tau_syn=ts, tau_mem=tm, v_th=grid(rng, 0.5, 2.0), v_reset=grid(rng, -0.5, 0.25) if rng.random() < 0.5 else 0.0,
            bias=grid(rng, -0.1, 0.2) if rng.random() < 0.3 else 0.0, reset=str(rng.choice(["hard", "subtract"])) if not exact else "hard",
        )
        pops.append(Population(f"c{k}", int(rng.integers(1, max_size + 1)), model, record))
    projs = []
    for k in range(n_proj):
        pre = pops[int(rng.integers(len(pops)))]
        post = pops[1 + int(rng.integers(len(pops) - 1))]
        n = pre.size * post.size
        weights = np.round(rng.uniform(0, weight_scale, n) * 64) / 64
        delay = rng.integers(1, 4, n) if rng.random() < 0.5 else int(rng.integers(1, 4))
        projs.append(Projection(f"p{k}", pre.name, post.name, AllToAll(), weights, delay, "excitatory" if rng.random() < 0.7 else "inhibitory"))
    return Network(tuple(pops), tuple(projs), name="random_cuba")
