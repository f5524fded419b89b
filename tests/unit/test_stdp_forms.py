"""One STDP rule, three forms: the clock-driven step, the event-driven step and the
per-synapse event operations (from which the Brian2 code is generated) give bit-identical
weights and traces on random spike sequences, for every registered plasticity rule."""

from __future__ import annotations

import numpy as np
import pytest

from neurohop.kernels import PLASTICITY_KERNELS
from neurohop.kernels.stdp import NEVER, STDPState
from neurohop.model.synapses import STDP


def _random_rule(cls: type, rng: np.random.Generator) -> STDP:
    assert cls is STDP, f"add a random-parameter generator for {cls.__name__}"
    w_max = float(rng.uniform(0.2, 1.0))
    # small w_max and large steps make clipping at both bounds frequent
    return STDP(tau_plus=float(rng.uniform(0.5, 8)), tau_minus=float(rng.uniform(0.5, 8)), a_plus=float(rng.uniform(0, 0.6)), a_minus=float(rng.uniform(0, 0.6)), w_min=float(rng.uniform(0, 0.1)), w_max=w_max)


def _sequences(rng: np.random.Generator, steps: int, n_pre: int, n_post: int, delay: int) -> tuple[np.ndarray, np.ndarray]:
    pre = rng.random((steps, n_pre)) < rng.uniform(0.05, 0.4)
    post = rng.random((steps, n_post)) < rng.uniform(0.05, 0.4)
    seen = np.zeros_like(post)
    seen[delay:] = post[:-delay] if delay else post  # a post emitted at t - d is seen at t
    # force lag-0 coincidences: a pre spike in the very step a post is seen
    seen[steps // 2, :] = True
    pre[steps // 2, :] = True
    return pre, seen


@pytest.mark.parametrize("rule_cls", list(PLASTICITY_KERNELS))
@pytest.mark.parametrize("seed", range(8))
def test_the_three_forms_agree_bit_for_bit(rule_cls: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    kernel = PLASTICITY_KERNELS[rule_cls]
    rule = _random_rule(rule_cls, rng)
    n_pre, n_post, steps, delay = int(rng.integers(1, 7)), int(rng.integers(1, 7)), 120, int(rng.integers(1, 5))
    c = kernel.constants(rule, float(rng.choice([0.5, 1.0])))
    pre, seen = _sequences(rng, steps, n_pre, n_post, delay)
    mask = rng.random((n_pre, n_post)) < 0.8 if seed % 2 else None
    w0 = rng.uniform(rule.w_min, rule.w_max, (n_pre, n_post))
    if mask is not None:
        w0 = np.where(mask, w0, 0.0)

    def fresh() -> STDPState:
        return STDPState(w0.copy(), np.zeros(n_pre), np.full(n_pre, NEVER, dtype=np.int64), np.zeros(n_post), np.full(n_post, NEVER, dtype=np.int64))

    dense, event = fresh(), fresh()
    # per synapse: every field [pre, post], as a backend keeping traces per synapse holds them
    syn = STDPState(w0.copy(), np.zeros((n_pre, n_post)), np.full((n_pre, n_post), NEVER, dtype=np.int64), np.zeros((n_pre, n_post)), np.full((n_pre, n_post), NEVER, dtype=np.int64))
    exists = np.ones((n_pre, n_post), dtype=bool) if mask is None else mask
    clipped = 0
    for t in range(steps):
        dense = kernel.step(dense, t, pre[t], seen[t], c, np.where, mask)
        event = kernel.event_step(event, t, np.flatnonzero(pre[t]), np.flatnonzero(seen[t]), pre[t], seen[t], c, np.where, mask)
        # post events before pre events within a step
        for j in np.flatnonzero(seen[t]):
            rows = np.flatnonzero(exists[:, j])
            new = kernel.on_post(STDPState(*(f[rows, j] for f in syn)), t, c)
            for f, v in zip(syn, new):
                f[rows, j] = v
        for i in np.flatnonzero(pre[t]):
            cols = np.flatnonzero(exists[i])
            new = kernel.on_pre(STDPState(*(f[i, cols] for f in syn)), t, c)
            for f, v in zip(syn, new):
                f[i, cols] = v
        clipped += int(np.sum((dense.w == rule.w_max) | (dense.w == rule.w_min)))
        assert dense.w.tobytes() == event.w.tobytes(), f"step {t}: event-driven weights differ"
        assert syn.w.tobytes() == dense.w.tobytes(), f"step {t}: per-synapse weights differ"
        for name in ("x_pre", "last_pre", "x_post", "last_post"):
            assert getattr(dense, name).tobytes() == getattr(event, name).tobytes(), f"step {t}: {name}"
    # the per-synapse traces of existing synapses are the neuron traces
    ii, jj = np.nonzero(exists)
    np.testing.assert_array_equal(syn.x_pre[ii, jj], dense.x_pre[ii])
    np.testing.assert_array_equal(syn.x_post[ii, jj], dense.x_post[jj])
    assert clipped > 0, "the random sequences should reach a weight bound"
    assert not np.array_equal(dense.w, w0), "the weights should have changed"
