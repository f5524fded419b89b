"""Discrete-time current-based LIF in Loihi's CUBA form (:class:`~neurohop.model.neurons.CubaLIF`).

One timestep, in this order (Brian2 and torch both follow it; the integer simulators of
the ``loihi`` and ``xylo`` targets run this same kernel with their own arithmetic):

1. **Input arrival.** ``in_e``/``in_i`` hold the summed weights of the spikes that arrive
   now (emitted at ``t - d`` over delay ``d``).
2. **Current:** ``u <- decay(u, decay_u) + (in_e - in_i)`` with ``decay_u = 1 - dt/tau_syn``
   (forward Euler; ``tau_syn = dt`` gives ``u = input of this step``).
3. **Voltage**, with the *new* current: ``v <- (decay(v, decay_v) + u) + bias`` with
   ``decay_v = 1 - dt/tau_mem`` (1 for ``tau_mem = inf``).
4. **Threshold:** a spike when ``v > v_th`` (strictly greater).
5. **Reset:** ``v <- v_reset`` (hard) or ``v <- v - v_th`` (subtractive). ``u`` is not reset
   and there is no refractory period.

The elementary operations go through a :class:`CUBAArithmetic`: plain float operations
by default; a fixed-point target supplies integer versions (truncating decays, input
alignment shifts, wrapping or saturating words).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from neurohop.errors import BuildError
from neurohop.kernels.registry import neuron_kernel
from neurohop.model.neurons import CubaLIF

__all__ = ["CUBAArithmetic", "FLOAT_CUBA", "CUBAConstants", "CUBAState", "cuba_constants", "cuba_initial", "cuba_step"]


class CUBAArithmetic(NamedTuple):
    """The elementary operations of :func:`cuba_step`.

    ``fire`` and ``reset`` default to the comparison and the ``where`` selection of the
    kernel; a differentiable arithmetic (HLOP's classifier, :mod:`neurohop.hlop.neurons`)
    supplies a spike function with a surrogate gradient (0.0/1.0 values) and a reset written
    with products, ``(1 - z) v + z v_reset`` or ``(1 - z) v + z (v - v_th)``.
    """

    decay: Callable[[Any, Any], Any]  #: state * per-step retention
    integrate_u: Callable[[Any, Any], Any]  #: decayed u + net input
    integrate_v: Callable[[Any, Any, Any], Any]  #: (decayed v + u) + bias
    sub: Callable[[Any, Any], Any]  #: v - v_th (subtractive reset)
    fire: Callable[[Any, Any], Any] = operator.gt  #: spikes of v against v_th: v > v_th
    #: ``reset(spikes, v, constants) -> v``; None: ``where(spikes, v - v_th or v_reset, v)``
    reset: Callable[[Any, Any, Any], Any] | None = None


def _integrate_v(decayed: Any, u: Any, bias: Any) -> Any:
    return (decayed + u) + bias


#: Plain floating-point arithmetic (what the float backends run).
FLOAT_CUBA = CUBAArithmetic(operator.mul, operator.add, _integrate_v, operator.sub)


class CUBAConstants(NamedTuple):
    """Per-neuron constants of :func:`cuba_step` (arrays of equal length)."""

    decay_u: Any  #: 1 - dt/tau_syn
    decay_v: Any  #: 1 - dt/tau_mem
    bias: Any
    v_th: Any
    v_reset: Any
    subtract: Any  #: bool: subtractive reset


class CUBAState(NamedTuple):
    """State of a vector of CUBA neurons."""

    u: Any  #: synaptic current
    v: Any  #: membrane potential


def retention(tau: float, dt: float, owner: str) -> float:
    """Per-step forward-Euler retention ``1 - dt/tau`` (1 for ``tau = inf``).

    Raises :class:`BuildError` when ``tau < dt`` (the retention would be negative).
    """
    if math.isinf(tau):
        return 1.0
    if tau < dt:
        raise BuildError(f"{owner}: must be >= dt={dt} ms so that the per-step retention 1 - dt/tau is >= 0 (got {tau})")
    return 1.0 - dt / tau


def cuba_constants(models: Sequence[tuple[CubaLIF, int]], dt: float) -> CUBAConstants:
    """Concatenate the per-neuron constants of several CUBA populations (see :func:`cuba_step`)."""
    cols: dict[str, list[np.ndarray]] = {name: [] for name in CUBAConstants._fields}
    for model, size in models:
        values = {
            "decay_u": retention(model.tau_syn, dt, "CubaLIF.tau_syn"),
            "decay_v": retention(model.tau_mem, dt, "CubaLIF.tau_mem"),
            "bias": model.bias,
            "v_th": model.v_th,
            "v_reset": model.v_reset,
        }
        for name, value in values.items():
            cols[name].append(np.full(size, value, dtype=np.float64))
        cols["subtract"].append(np.full(size, model.reset == "subtract", dtype=bool))
    return CUBAConstants(**{name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in cols.items()})


def cuba_initial(models: Sequence[tuple[CubaLIF, int]]) -> CUBAState:
    """Initial state (NumPy arrays): ``u = 0``, ``v = v_init``."""
    v = np.concatenate([np.full(size, model.v_init, dtype=np.float64) for model, size in models]) if models else np.zeros(0)
    return CUBAState(np.zeros_like(v), v)


def cuba_step(state: CUBAState, in_e: Any, in_i: Any, p: CUBAConstants, where: Any, arith: CUBAArithmetic = FLOAT_CUBA) -> tuple[Any, CUBAState]:
    """Advance CUBA neurons by one timestep (see the module docstring for the order).

    Parameters
    ----------
    state : CUBAState
        Arrays broadcasting against the constants (e.g. ``[batch, n]``).
    in_e, in_i : array
        Summed weights arriving on the excitatory / inhibitory receptor this step.
    p : CUBAConstants
    where : callable
        ``numpy.where`` or ``torch.where``.
    arith : CUBAArithmetic
        The elementary operations (float by default).

    Returns
    -------
    spikes : boolean array (what ``arith.fire`` returns: 0.0/1.0 for a differentiable one)
    state : CUBAState
    """
    ar = arith
    net = in_e - in_i
    u = ar.integrate_u(ar.decay(state.u, p.decay_u), net)
    v = ar.integrate_v(ar.decay(state.v, p.decay_v), u, p.bias)
    spikes = ar.fire(v, p.v_th)
    if ar.reset is None:
        v = where(spikes, where(p.subtract, ar.sub(v, p.v_th), p.v_reset), v)
    else:
        v = ar.reset(spikes, v, p)
    return spikes, CUBAState(u, v)


neuron_kernel(CubaLIF, "cuba", cuba_constants, cuba_initial, cuba_step)
