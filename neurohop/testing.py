"""Generators of random networks and inputs for conformance tests and benchmarks.

Weights are drawn on a grid of 1/64 nA so that sums of fixed weights are exact in
floating point whatever the order of summation (backends sum in different orders).
"""

from __future__ import annotations

import numpy as np

from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import LIF, SpikeSource
from neurohop.model.synapses import STDP, AllToAll, FromList, OneToOne

__all__ = ["random_network", "random_inputs", "random_operations"]


def _grid(rng: np.random.Generator, lo: float, hi: float, step: float = 1 / 64) -> float:
    return float(np.round(rng.uniform(lo, hi) / step) * step)


def random_network(rng: np.random.Generator, n_sources: int = 2, n_populations: int = 3, max_size: int = 12, plastic: bool = True, record_states: bool = True) -> Network:
    """A random network of LIF populations driven by spike sources.

    Parameters
    ----------
    rng : numpy.random.Generator
        All randomness comes from here.
    n_sources, n_populations : int
        Number of source and LIF populations.
    max_size : int
        Largest population size.
    plastic : bool
        Whether some projections get random STDP rules.
    record_states : bool
        Record ``v``, ``i_e``, ``i_i`` of every LIF population as well as spikes.
    """
    pops: list[Population] = []
    for k in range(n_sources):
        pops.append(Population(f"src{k}", int(rng.integers(1, max_size + 1)), SpikeSource()))
    for k in range(n_populations):
        v_rest = _grid(rng, -70, -50, 0.5)
        model = LIF(
            cm=_grid(rng, 0.1, 1.0, 0.01),
            tau_m=_grid(rng, 1.0, 20.0, 0.25),
            v_rest=v_rest,
            v_reset=v_rest - _grid(rng, 0, 5, 0.5),
            v_thresh=v_rest + _grid(rng, 2, 10, 0.5),
            tau_refrac=float(rng.integers(0, 4)),
            tau_syn_e=_grid(rng, 0.3, 5.0, 0.1),
            tau_syn_i=_grid(rng, 0.3, 5.0, 0.1),
            i_offset=_grid(rng, -0.2, 0.4, 1 / 64) if rng.random() < 0.3 else 0.0,
        )
        record = ("spikes", "v", "i_e", "i_i") if record_states else ("spikes",)
        pops.append(Population(f"pop{k}", int(rng.integers(1, max_size + 1)), model, record))
    targets = [p for p in pops if not p.is_source]
    projs: list[Projection] = []
    for k in range(int(rng.integers(n_populations + 1, 3 * n_populations + 2))):
        pre = pops[int(rng.integers(len(pops)))]
        post = targets[int(rng.integers(len(targets)))]
        choice = rng.integers(4)
        if choice == 0 and pre.size == post.size:
            conn, n_syn = OneToOne(), pre.size
        elif choice == 1:
            conn, n_syn = AllToAll(), pre.size * post.size
        elif choice == 2 and pre.size == post.size and pre.size > 1:
            conn, n_syn = AllToAll(False), pre.size * (post.size - 1)
        else:
            n_syn = int(rng.integers(1, pre.size * post.size + 1))
            conn = FromList(rng.integers(0, pre.size, n_syn), rng.integers(0, post.size, n_syn))
        exc = rng.random() < 0.7
        scale = 3.0 if exc else 2.0
        rule = None
        if plastic and rng.random() < 0.35 and not isinstance(conn, FromList):
            rule = STDP(
                tau_plus=_grid(rng, 1, 10, 0.5), tau_minus=_grid(rng, 1, 10, 0.5), a_plus=_grid(rng, 0, 1), a_minus=_grid(rng, 0, 1),
                w_min=0.0, w_max=_grid(rng, 0.5, scale),
            )
            weight = np.round(rng.uniform(0, rule.w_max, n_syn) * 64) / 64
            delay = int(rng.integers(1, 4))
        else:
            weight = np.round(rng.uniform(0, scale, n_syn) * 64) / 64
            delay = rng.integers(1, 5, n_syn) if rng.random() < 0.5 else int(rng.integers(1, 5))
        projs.append(Projection(f"proj{k}", pre.name, post.name, conn, weight, delay, "excitatory" if exc else "inhibitory", rule))
    return Network(tuple(pops), tuple(projs), name="random")


def random_inputs(rng: np.random.Generator, net: Network, steps: int, rate: float = 0.15) -> dict[str, np.ndarray]:
    """Bernoulli spike trains ``[steps, n]`` for every source population of ``net``."""
    return {p.name: rng.random((steps, p.size)) < rate for p in net.sources}


def random_operations(rng: np.random.Generator, cue_size: int, content_size: int, n: int, p_bit: float = 0.3) -> list:
    """A random workload for the CA3 memory: learns (40%), recalls by cue (30%) and by content (30%).

    Contents and fragments have each bit set with probability ``p_bit`` and at least one.
    Operations carry no start step (the memory places them at the earliest legal one).
    """
    from neurohop.cam.memory import Operation

    ops = []
    for _ in range(n):
        kind = str(rng.choice(["learn", "recall_by_cue", "recall_by_content"], p=[0.4, 0.3, 0.3]))
        vec = (rng.random(content_size) < p_bit).astype(int)
        vec[rng.integers(content_size)] = 1
        cue = int(rng.integers(cue_size))
        ops.append(Operation(kind, None if kind == "recall_by_content" else cue, None if kind == "recall_by_cue" else tuple(vec.tolist())))
    return ops
