"""The classifier's neuron and input encoder: the time semantics every HLOP network relies on.

One timestep of a LIF layer (:func:`layer_step`), in this order:

1. integration  ``v <- beta * v + I``  with ``I = W x (+ b)`` the input current of this step;
2. threshold    ``z = 1  if  v > v_th  else 0``  (strict comparison);
3. reset        ``v <- 0`` (hard, the default) or ``v <- v - v_th`` (subtractive,
   ``network.reset``) where ``z = 1``.

The step is the shared CUBA kernel (:func:`neurohop.kernels.cuba.cuba_step`, the neuron the
backends and the fixed-point targets run) with ``tau_syn = dt`` and no bias, run with injected
torch operations (:func:`surrogate_arithmetic`) that make the spike and the reset differentiable;
the float results are bit-identical to writing the three lines out.

``beta`` is the per-step decay (``exp(-dt / tau_mem)``, dimensionless), ``v`` and ``v_th`` are in
the unit of the input current (weights times spikes), the initial potential is 0, and there is
no refractory period and no synaptic delay: spikes of layer ``l`` at step ``t`` drive layer
``l + 1`` at the same step ``t``. For ``beta < 1`` this is the update of Norse's box LIF cell
(``norse.torch.functional.lif_box.lif_box_feed_forward_step`` with ``v_leak = v_reset = 0``,
``dt * tau_mem_inv = 1 - beta``) with the input current scaled by ``1 / (1 - beta)``, so that
it enters with unit gain; spike generation and reset are Norse's own functions (its
``threshold``, whose surrogate gradient BPTT uses, and its ``reset_value`` / ``reset_subtract``). The form
``v <- beta * v + W x`` is what fixed-point neuromorphic chips (Loihi) implement, so a trained
classifier maps to them without changing its meaning.

Input encoder (:func:`encode_if`): each intensity ``p`` in [0, 1] is quantised to
``q = round(p * L)`` of ``L`` levels and drives an integrate-and-fire neuron with integer
potential: ``u <- u + q``; a spike when ``u >= L``, then ``u <- u - L``; ``u`` starts at 0. It
spikes at step ``t`` (1-based) exactly when ``floor(t q / L) > floor((t - 1) q / L)``, so the same
image always gives the same spike train and a white pixel spikes every step.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import warnings

import torch

from neurohop.kernels.cuba import CUBAArithmetic, CUBAConstants, CUBAState, cuba_step

with warnings.catch_warnings():
    # importing norse 1.1 runs torch.jit.script, which torch >= 2.10 reports as deprecated (the
    # warning is attributed to torch, so a 'norse.*' warnings filter does not catch it)
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=DeprecationWarning)
    from norse.torch.functional.reset import reset_subtract, reset_value
    from norse.torch.functional.threshold import threshold

__all__ = ["LayerParameters", "LayerState", "surrogate_arithmetic", "layer_step", "layer_scan", "encode_if", "trace_scan"]


class LayerParameters(NamedTuple):
    """Parameters of a classifier LIF layer.

    Attributes
    ----------
    beta : float
        Membrane decay per step (dimensionless, 0 < beta <= 1).
    v_th : torch.Tensor
        Firing threshold per neuron (unit of the input current).
    method : str
        Norse surrogate-gradient method of the spike function (forward pass is always the step).
    alpha : float
        Sharpness of the surrogate (ignored by ``super``).
    reset : str
        ``hard`` (``v <- 0`` after a spike) or ``subtract`` (``v <- v - v_th``).
    """

    beta: float
    v_th: torch.Tensor
    method: str = "super"
    alpha: float = 100.0
    reset: str = "hard"


class LayerState(NamedTuple):
    """Membrane potential ``v`` (unit of the input current), shape (batch, neurons)."""

    v: torch.Tensor


@functools.lru_cache(maxsize=None)
def surrogate_arithmetic(method: str, alpha: float) -> CUBAArithmetic:
    """The injected operations that run the shared CUBA kernel as this classifier's neuron.

    ``tau_syn = dt`` (the synaptic current is the input of this step, ``integrate_u`` returns
    it), no bias term (a layer's bias is part of ``W x + b``), spikes through Norse's
    ``threshold(v - v_th)`` (Heaviside forward, surrogate gradient ``method``/``alpha``
    backward) and the reset as Norse's products (``reset_value`` to 0, or
    ``reset_subtract``), which carry gradients to ``v`` and to a trained ``v_th``.
    """

    def fire(v: torch.Tensor, v_th: torch.Tensor) -> torch.Tensor:
        return threshold(v - v_th, method, alpha)

    def reset(z: torch.Tensor, v: torch.Tensor, p: CUBAConstants) -> torch.Tensor:
        rule = reset_subtract if p.subtract else reset_value
        return rule(z, v, torch.zeros_like(v), p.v_th)

    return CUBAArithmetic(
        decay=operator.mul,
        integrate_u=lambda decayed, net: net,
        integrate_v=lambda decayed, u, bias: decayed + u,
        sub=operator.sub,
        fire=fire,
        reset=reset,
    )


def layer_step(current: torch.Tensor, state: LayerState, p: LayerParameters) -> tuple[torch.Tensor, LayerState]:
    """Advance a LIF layer by one step (integrate, strict threshold, hard or subtractive reset).

    Runs the shared kernel :func:`neurohop.kernels.cuba.cuba_step` with
    :func:`surrogate_arithmetic` (``decay_v = beta``, ``decay_u = 0``, ``v_reset = 0``).

    Parameters
    ----------
    current : torch.Tensor
        Input current of this step, ``W x (+ b)``, shape (batch, neurons).
    state : LayerState
        Potential before the step.
    p : LayerParameters

    Returns
    -------
    z : torch.Tensor
        Spikes (0.0 or 1.0) of this step; differentiable through Norse's surrogate.
    state : LayerState
        Potential after the reset.
    """
    consts = CUBAConstants(decay_u=0.0, decay_v=p.beta, bias=0.0, v_th=p.v_th, v_reset=0.0, subtract=p.reset == "subtract")
    z, new = cuba_step(CUBAState(0.0, state.v), current, 0.0, consts, torch.where, surrogate_arithmetic(p.method, float(p.alpha)))
    return z, LayerState(new.v)


def layer_scan(currents: torch.Tensor, p: LayerParameters, detach_state: bool = False) -> torch.Tensor:
    """Run :func:`layer_step` over time, from rest.

    Parameters
    ----------
    currents : torch.Tensor
        Input current per step, shape (timesteps, batch, neurons).
    p : LayerParameters
    detach_state : bool
        Cut the gradient path through the membrane from one step to the next (OTTT): the
        gradient of step ``t`` then flows only through that step's current.

    Returns
    -------
    torch.Tensor
        Spikes, shape (timesteps, batch, neurons).
    """
    state = LayerState(torch.zeros_like(currents[0]))
    out = []
    for t in range(currents.shape[0]):
        if detach_state:
            state = LayerState(state.v.detach())
        z, state = layer_step(currents[t], state, p)
        out.append(z)
    return torch.stack(out)


def trace_scan(spikes: torch.Tensor, decay: float) -> torch.Tensor:
    """Presynaptic traces ``a[t] = decay * a[t-1] + s[t]`` from ``a[-1] = 0`` (OTTT).

    Parameters
    ----------
    spikes : torch.Tensor
        Shape (timesteps, batch, neurons).
    decay : float
        Trace decay per step (the postsynaptic ``beta``).
    """
    out = []
    a = torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        a = decay * a + spikes[t]
        out.append(a)
    return torch.stack(out)


def encode_if(x: torch.Tensor, timesteps: int, levels: int = 255) -> torch.Tensor:
    """Deterministic integrate-and-fire rate encoding of intensities in [0, 1].

    Parameters
    ----------
    x : torch.Tensor
        Intensities, shape (batch, features), values in [0, 1] (clipped).
    timesteps : int
        Number of steps.
    levels : int
        Quantisation levels ``L``; intensity ``p`` becomes ``q = round(p * L)``.

    Returns
    -------
    torch.Tensor
        Spikes (0.0 / 1.0) of dtype ``x.dtype``, shape (timesteps, batch, features); pixel
        ``p`` emits ``floor(timesteps * q / L)`` spikes.
    """
    q = torch.round(x.clamp(0.0, 1.0) * levels).to(torch.int64)
    t = torch.arange(timesteps + 1, device=x.device, dtype=torch.int64).view(-1, *([1] * x.dim()))
    counts = torch.div(t * q.unsqueeze(0), levels, rounding_mode="floor")
    return (counts[1:] - counts[:-1]).to(x.dtype)
