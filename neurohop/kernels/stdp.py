"""Additive pair STDP with all-to-all traces and hardware-style deferred updates.

The rule of :class:`neurohop.model.synapses.STDP`, as one clock-driven step for a dense
block of synapses ``w[..., pre, post]`` with a projection delay ``d`` (also the dendritic
delay). At step ``t``, after the neurons have been updated:

1. **Potentiation** for every post neuron *seen* now (it spiked at ``t - d``):
   ``w <- clip(w + a_plus * (x_pre * table_plus[t - last_pre]), w_min, w_max)``, where
   ``x_pre`` is the pre trace right after the last pre spike. Pre spikes of step ``t``
   itself do not count yet (potentiation needs a lag > 0).
2. **Post trace:** ``x_post <- x_post * table_minus[t - last_post] + 1``, ``last_post <- t``.
3. **Depression** for every pre neuron that spikes now:
   ``w <- clip(w - a_minus * (x_post * table_minus[t - last_post]), w_min, w_max)``; a post
   seen at this same step counts at full strength (lag 0).
4. **Pre trace:** ``x_pre <- x_pre * table_plus[t - last_pre] + 1``, ``last_pre <- t``.
5. The spiking pre neurons then deliver their *updated* weights, arriving at ``t + d``.

This reproduces SpiNNaker's event-driven implementation, which applies potentiation
lazily when the next pre spike is processed: the weight a pre spike carries is the same.
Table indices are clipped to the last entry, which is 0. Traces belong to neurons, so the
state is per neuron, not per synapse. The trace and weight products go through an
:class:`STDPArithmetic` (float by default); a fixed-point target passes integer versions
(traces in its fixed-point format, weights in its integer weight units).
"""

from __future__ import annotations

import operator
from typing import Any, Callable, NamedTuple

import numpy as np

from neurohop.kernels.registry import plasticity_kernel
from neurohop.model.synapses import STDP

__all__ = [
    "STDPArithmetic",
    "FLOAT_STDP",
    "STDPConstants",
    "STDPState",
    "stdp_constants",
    "stdp_step",
    "stdp_event_step",
    "stdp_synapse_initial",
    "stdp_block_initial",
    "stdp_on_pre",
    "stdp_on_post",
    "trace_at",
    "potentiation",
    "depression",
    "bounded",
    "NEVER",
]

#: "Last spike" time of a neuron that has not spiked: far enough back to hit the table's 0.
NEVER = -(2**30)


class STDPArithmetic(NamedTuple):
    """The elementary operations of :func:`stdp_step`."""

    decay: Callable[[Any, Any], Any]  #: trace * table entry
    scale: Callable[[Any, Any], Any]  #: amplitude * trace -> weight change
    bump: Callable[[Any], Any]  #: trace + 1 (one spike added to a trace)


def _plus_one(x: Any) -> Any:
    return x + 1.0


#: Plain floating-point arithmetic (what the float backends run).
FLOAT_STDP = STDPArithmetic(operator.mul, operator.mul, _plus_one)


class STDPConstants(NamedTuple):
    a_plus: float
    a_minus: float
    w_min: float
    w_max: float
    table_plus: Any  #: exp(-n dt / tau_plus), n = 0.., last entry 0
    table_minus: Any


class STDPState(NamedTuple):
    w: Any  #: weights [..., pre, post], nA
    x_pre: Any  #: pre trace right after the last pre spike [..., pre]
    last_pre: Any  #: step of the last pre spike [..., pre] (int64)
    x_post: Any  #: post trace right after the last seen post spike [..., post]
    last_post: Any  #: step at which the last post spike was seen [..., post] (int64)


def stdp_constants(rule: STDP, dt: float) -> STDPConstants:
    return STDPConstants(
        rule.a_plus,
        rule.a_minus,
        rule.w_min,
        rule.w_max,
        rule.decay_table(rule.tau_plus, dt),
        rule.decay_table(rule.tau_minus, dt),
    )


def _lag(t: int, last: Any, table: Any) -> Any:
    return (t - last).clip(0, table.shape[0] - 1)


# The rule's operations, written once. Each takes the values of one side (neurons, or
# synapses when a backend keeps them per synapse) and is used by the clock-driven step, the
# event-driven step and the per-synapse event code of the Brian2 backend.


def trace_at(x: Any, last: Any, t: Any, table: Any, ar: STDPArithmetic = FLOAT_STDP) -> Any:
    """A trace ``x`` (value right after its last spike at step ``last``) as seen at step ``t``."""
    return ar.decay(x, table[_lag(t, last, table)])


def bounded(w: Any, c: STDPConstants) -> Any:
    """Weights clipped to ``[w_min, w_max]`` (after every event)."""
    return w.clip(c.w_min, c.w_max)


def potentiation(x_pre: Any, last_pre: Any, t: Any, c: STDPConstants, ar: STDPArithmetic = FLOAT_STDP) -> tuple[Any, Any]:
    """Step 1: the pre trace now and the weight increase ``a_plus * x_pre_now`` it gives."""
    x_pre_now = trace_at(x_pre, last_pre, t, c.table_plus, ar)
    return x_pre_now, ar.scale(c.a_plus, x_pre_now)


def depression(x_post: Any, last_post: Any, t: Any, c: STDPConstants, ar: STDPArithmetic = FLOAT_STDP) -> Any:
    """Step 3: the weight decrease ``a_minus * x_post_now`` (a post seen at ``t`` counts fully)."""
    return ar.scale(c.a_minus, trace_at(x_post, last_post, t, c.table_minus, ar))


def stdp_synapse_initial(w: Any) -> STDPState:
    """Per-synapse state for weights ``w``: no spike seen yet on either side."""
    w = np.asarray(w, dtype=np.float64)
    never = np.full(w.shape, NEVER, dtype=np.int64)
    return STDPState(w.copy(), np.zeros(w.shape), never, np.zeros(w.shape), never.copy())


def stdp_block_initial(w: Any, fill: Any) -> STDPState:
    """State of a dense block of weights ``w`` (``[..., pre, post]``) for :func:`stdp_step`:
    one trace per pre and per post neuron, no spike seen yet."""
    lead, (n_pre, n_post) = tuple(w.shape[:-2]), tuple(w.shape[-2:])
    return STDPState(w, fill(lead + (n_pre,), 0.0, False), fill(lead + (n_pre,), NEVER, True), fill(lead + (n_post,), 0.0, False), fill(lead + (n_post,), NEVER, True))


def stdp_on_post(s: STDPState, t: Any, c: STDPConstants, ar: STDPArithmetic = FLOAT_STDP) -> STDPState:
    """Steps 1-2 for synapses whose post neuron is seen at ``t``; every field of ``s`` holds
    one value per synapse (the form of a backend that keeps traces per synapse)."""
    _, grow = potentiation(s.x_pre, s.last_pre, t, c, ar)
    x_post = ar.bump(trace_at(s.x_post, s.last_post, t, c.table_minus, ar))
    return STDPState(bounded(s.w + grow, c), s.x_pre, s.last_pre, x_post, t)


def stdp_on_pre(s: STDPState, t: Any, c: STDPConstants, ar: STDPArithmetic = FLOAT_STDP) -> STDPState:
    """Steps 3-4 for synapses whose pre neuron spikes at ``t`` (per-synapse values, as in
    :func:`stdp_on_post`); the returned weight is the one the spike delivers (step 5)."""
    w = bounded(s.w - depression(s.x_post, s.last_post, t, c, ar), c)
    x_pre = ar.bump(trace_at(s.x_pre, s.last_pre, t, c.table_plus, ar))
    return STDPState(w, x_pre, t, s.x_post, s.last_post)


def stdp_step(
    state: STDPState, t: int, pre_spikes: Any, post_seen: Any, c: STDPConstants, where: Any, mask: Any = None, arith: STDPArithmetic = FLOAT_STDP
) -> STDPState:
    """One step of the rule (see the module docstring).

    Parameters
    ----------
    state : STDPState
    t : int
        Current step.
    pre_spikes : boolean array [..., pre]
        Pre spikes emitted at ``t``.
    post_seen : boolean array [..., post]
        Post spikes emitted at ``t - d``.
    c : STDPConstants
        Tables must live on the same device / library as the state.
    where : callable
        ``numpy.where`` or ``torch.where``.
    mask : boolean array [pre, post], optional
        Which synapses exist; absent ones keep their weight (0).
    arith : STDPArithmetic
        The trace and weight products (float by default).
    """
    ar = arith
    w, x_pre, last_pre, x_post, last_post = state
    seen = post_seen[..., None, :]
    if mask is not None:
        seen = seen & mask
    x_pre_now, grow = potentiation(x_pre, last_pre, t, c, ar)
    w = where(seen, bounded(w + grow[..., :, None], c), w)

    x_post = where(post_seen, ar.bump(trace_at(x_post, last_post, t, c.table_minus, ar)), x_post)
    last_post = where(post_seen, t, last_post)

    fire = pre_spikes[..., :, None]
    if mask is not None:
        fire = fire & mask
    shrink = depression(x_post, last_post, t, c, ar)
    w = where(fire, bounded(w - shrink[..., None, :], c), w)

    x_pre = where(pre_spikes, ar.bump(x_pre_now), x_pre)
    last_pre = where(pre_spikes, t, last_pre)
    return STDPState(w, x_pre, last_pre, x_post, last_post)


def stdp_event_step(
    state: STDPState, t: int, pre_idx: Any, post_idx: Any, pre_spikes: Any, post_seen: Any, c: STDPConstants, where: Any, mask: Any = None, arith: STDPArithmetic = FLOAT_STDP
) -> STDPState:
    """Event-driven form of :func:`stdp_step` for one (unbatched) instance.

    The same operations (:func:`potentiation`, :func:`depression`, :func:`trace_at`,
    :func:`bounded`) in the same order, restricted to the synapses they can change: the
    *columns* of the post neurons seen now (potentiation) and the *rows* of the pre neurons
    spiking now (depression). The cost is O((#pre spikes + #posts seen) x n) instead of
    O(n_pre x n_post), and the result equals :func:`stdp_step` exactly (tested on random
    sequences). The weight matrix ``state.w`` ``[pre, post]`` is updated **in place** (the
    caller owns it); the traces are returned as new arrays.

    Parameters
    ----------
    state : STDPState
        Unbatched: ``w [pre, post]``, traces ``[pre]`` / ``[post]``.
    t : int
        Current step.
    pre_idx, post_idx : integer arrays
        Indices of the pre neurons spiking at ``t`` / the post neurons seen at ``t``
        (emitted at ``t - d``); the same information as ``pre_spikes`` / ``post_seen``.
    pre_spikes, post_seen : boolean arrays [pre] / [post]
    c, where, mask, arith
        As in :func:`stdp_step`.
    """
    ar = arith
    w, x_pre, last_pre, x_post, last_post = state
    x_pre_now, grow = potentiation(x_pre, last_pre, t, c, ar)
    if len(post_idx):
        old = _take(w, post_idx, 1)
        new = bounded(old + grow[:, None], c)
        _put(w, post_idx, 1, new if mask is None else where(_take(mask, post_idx, 1), new, old))
        x_post = where(post_seen, ar.bump(trace_at(x_post, last_post, t, c.table_minus, ar)), x_post)
        last_post = where(post_seen, t, last_post)
    if len(pre_idx):
        shrink = depression(x_post, last_post, t, c, ar)
        old = _take(w, pre_idx, 0)
        new = bounded(old - shrink[None, :], c)
        _put(w, pre_idx, 0, new if mask is None else where(_take(mask, pre_idx, 0), new, old))
        x_pre = where(pre_spikes, ar.bump(x_pre_now), x_pre)
        last_pre = where(pre_spikes, t, last_pre)
    return STDPState(w, x_pre, last_pre, x_post, last_post)


def _take(a: Any, idx: Any, axis: int) -> Any:
    """Rows (axis 0) or columns (axis 1) ``idx`` of a 2-D array (torch's index_select when available)."""
    if hasattr(a, "index_select"):
        return a.index_select(axis, idx)
    return a[idx, :] if axis == 0 else a[:, idx]


def _put(a: Any, idx: Any, axis: int, values: Any) -> None:
    """Write rows or columns ``idx`` of ``a`` in place."""
    if hasattr(a, "index_copy_"):
        a.index_copy_(axis, idx, values)
    elif axis == 0:
        a[idx, :] = values
    else:
        a[:, idx] = values


plasticity_kernel(STDP, "stdp", stdp_constants, stdp_step, stdp_event_step, stdp_synapse_initial, stdp_on_pre, stdp_on_post, block_initial=stdp_block_initial)
