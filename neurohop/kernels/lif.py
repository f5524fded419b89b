"""Discrete-time current-based LIF with exponential synapses (the SpiNNaker scheme).

One timestep of length ``dt`` (ms), in this order (Brian2 and torch both follow it):

1. **Input arrival.** ``in_e``/``in_i`` hold the summed weights (nA) of the spikes that
   arrive now (emitted at ``t - d`` over delay ``d``).
2. **Synaptic currents jump:** ``i_x <- i_x + in_x * init_x`` with
   ``init_x = tau_x/dt * (1 - exp(-dt/tau_x))``.
3. **Membrane**, unless refractory: ``a = v_rest + r_m * ((i_e - i_i) + i_offset)`` and
   ``v <- a - exp(-dt/tau_m) * (a - v)`` (exact integration over the step with the current
   held). While refractory, ``v`` is held and the counter decreases by one instead.
4. **Threshold:** a spike when ``v >= v_thresh`` (greater *or equal*).
5. **Reset:** ``v <- v_reset`` and the refractory counter is set to
   ``ceil(tau_refrac / dt)`` steps, so that many following updates are skipped.
6. **Currents decay:** ``i_x <- i_x * exp(-dt/tau_x)``.

Each arithmetic operation is written as one binary step so that every backend rounds the
same way (float64 results are then bit-identical). The steps go through a
:class:`LIFArithmetic` (plain float operations by default); a fixed-point target passes its
integer operations instead and so runs this same kernel in its own number format
(:mod:`neurohop.export.spinnaker1`).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from neurohop.kernels.registry import neuron_kernel
from neurohop.model.neurons import LIF

__all__ = ["LIFArithmetic", "FLOAT_LIF", "LIFConstants", "LIFState", "lif_constants", "lif_initial", "lif_step", "refractory_steps"]


class LIFArithmetic(NamedTuple):
    """The elementary operations of :func:`lif_step`.

    Floating point by default (:data:`FLOAT_LIF`); a fixed-point target supplies integer
    versions with its word width and rounding.
    """

    add: Callable[[Any, Any], Any]  #: a + b
    sub: Callable[[Any, Any], Any]  #: a - b
    mul: Callable[[Any, Any], Any]  #: constant * state (membrane products)
    scale: Callable[[Any, Any], Any]  #: state * fraction (synaptic input factor and decay)


#: Plain floating-point arithmetic (what the float backends run).
FLOAT_LIF = LIFArithmetic(operator.add, operator.sub, operator.mul, operator.mul)


class LIFConstants(NamedTuple):
    """Per-neuron constants of :func:`lif_step` (arrays of equal length, float64 unless noted)."""

    v_rest: Any
    v_reset: Any
    v_thresh: Any
    r_m: Any  #: membrane resistance tau_m / cm, MOhm
    exp_m: Any  #: exp(-dt / tau_m)
    init_e: Any  #: tau_e/dt (1 - exp(-dt/tau_e))
    init_i: Any
    decay_e: Any  #: exp(-dt / tau_e)
    decay_i: Any
    i_offset: Any  #: nA
    n_refrac: Any  #: refractory steps (int64)


class LIFState(NamedTuple):
    """State of a vector of LIF neurons."""

    v: Any  #: membrane potential, mV
    i_e: Any  #: excitatory synaptic current, nA
    i_i: Any  #: inhibitory synaptic current, nA
    refrac: Any  #: remaining refractory steps (integer)


def refractory_steps(tau_refrac: float, dt: float) -> int:
    """``ceil(tau_refrac / dt)``, tolerant of rounding in the ratio."""
    return int(math.ceil(tau_refrac / dt - 1e-9))


def lif_constants(models: Sequence[tuple[LIF, int]], dt: float) -> LIFConstants:
    """Concatenate the per-neuron constants of several LIF populations.

    Parameters
    ----------
    models : sequence of (LIF, size)
        Each population's model and number of neurons, in the order of the state vector.
    dt : float
        Timestep, ms.
    """
    cols: dict[str, list[np.ndarray]] = {name: [] for name in LIFConstants._fields}
    for model, size in models:
        init = lambda tau: tau / dt * (1.0 - math.exp(-dt / tau))  # noqa: E731
        values = {
            "v_rest": model.v_rest,
            "v_reset": model.v_reset,
            "v_thresh": model.v_thresh,
            "r_m": model.tau_m / model.cm,
            "exp_m": math.exp(-dt / model.tau_m),
            "init_e": init(model.tau_syn_e),
            "init_i": init(model.tau_syn_i),
            "decay_e": math.exp(-dt / model.tau_syn_e),
            "decay_i": math.exp(-dt / model.tau_syn_i),
            "i_offset": model.i_offset,
        }
        for name, value in values.items():
            cols[name].append(np.full(size, value, dtype=np.float64))
        cols["n_refrac"].append(np.full(size, refractory_steps(model.tau_refrac, dt), dtype=np.int64))
    return LIFConstants(**{name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in cols.items()})


def lif_initial(models: Sequence[tuple[LIF, int]]) -> LIFState:
    """Initial state (NumPy arrays): ``v = v_init`` (or ``v_rest``), currents 0, not refractory."""
    v = np.concatenate([np.full(size, model.v_start, dtype=np.float64) for model, size in models]) if models else np.zeros(0)
    return LIFState(v, np.zeros_like(v), np.zeros_like(v), np.zeros(v.shape, dtype=np.int64))


def lif_step(state: LIFState, in_e: Any, in_i: Any, p: LIFConstants, where: Any, arith: LIFArithmetic = FLOAT_LIF) -> tuple[Any, LIFState]:
    """Advance LIF neurons by one timestep (see the module docstring for the order).

    Parameters
    ----------
    state : LIFState
        Current state; arrays broadcast against the constants (e.g. ``[batch, n]``).
    in_e, in_i : array
        Summed weights (nA) arriving on the excitatory / inhibitory receptor this step.
    p : LIFConstants
        Per-neuron constants.
    where : callable
        ``where(cond, a, b)`` of the array library (``numpy.where`` or ``torch.where``).
    arith : LIFArithmetic
        The elementary operations (float by default).

    Returns
    -------
    spikes : boolean array
    state : LIFState
    """
    ar = arith
    i_e = ar.add(state.i_e, ar.scale(in_e, p.init_e))
    i_i = ar.add(state.i_i, ar.scale(in_i, p.init_i))
    total = ar.sub(i_e, i_i)
    total = ar.add(total, p.i_offset)
    drive = ar.mul(p.r_m, total)
    a = ar.add(p.v_rest, drive)
    gap = ar.sub(a, state.v)
    relax = ar.mul(p.exp_m, gap)
    v_free = ar.sub(a, relax)
    refractory = state.refrac > 0
    v = where(refractory, state.v, v_free)
    refrac = where(refractory, state.refrac - 1, state.refrac)
    spikes = v >= p.v_thresh
    v = where(spikes, p.v_reset, v)
    refrac = where(spikes, p.n_refrac, refrac)
    i_e = ar.scale(i_e, p.decay_e)
    i_i = ar.scale(i_i, p.decay_i)
    return spikes, LIFState(v, i_e, i_i, refrac)


neuron_kernel(LIF, "lif", lif_constants, lif_initial, lif_step)
