"""Orthogonal projection of weight updates, and the one linear operator all trainers use.

For a layer ``y = W x`` whose past inputs lie (mostly) in the row space of the lateral weights
``H`` (m x n), an update ``dW`` leaves the responses to those inputs unchanged when
``dW H^T H = 0``. Two equivalent ways to get such an update from a gradient
``G = sum_k delta_k trace_k^T`` (sum over samples and time steps):

* input path: replace every presynaptic trace by its residual ``trace - (trace H^T) H``
  (:func:`project_out`), cost proportional to the number of trace rows;
* weight path: ``G <- G - (G H^T) H`` after the backward pass (:func:`project_weight_gradient`),
  cost proportional to the layer's output width.

Both use the operator ``I - H^T H`` as it is (no re-orthonormalisation), as the lateral circuit
would; if ``H^T H`` has eigenvalues above 2 this operator amplifies (see
:func:`neurohop.hlop.metrics.eigen_range`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch

__all__ = ["QuantisedBasis", "project_out", "project_weight_gradient", "traced_linear"]


class QuantisedBasis(NamedTuple):
    """Lateral weights whose response is quantised inside the projection: ``x - q(x H^T) H``.

    What spiking lateral neurons compute when their spike counts, not the exact ``x H^T``,
    drive the reconstruction (``lateral.spiking.in_projection``). Only the input path can
    use it (the quantiser does not commute with the sum over samples of a weight gradient).
    """

    weight: torch.Tensor
    quantise: Callable[[torch.Tensor], torch.Tensor]

    @property
    def shape(self) -> torch.Size:
        return self.weight.shape


def project_out(x: torch.Tensor, basis: "torch.Tensor | QuantisedBasis | None") -> torch.Tensor:
    """``x - (x H^T) H`` over the last dimension; ``x`` unchanged when ``basis`` is None or empty.

    Parameters
    ----------
    x : torch.Tensor
        Shape (..., n).
    basis : torch.Tensor, QuantisedBasis or None
        Lateral weights ``H``, shape (m, n) (with a :class:`QuantisedBasis`: ``x - q(x H^T) H``).
    """
    if basis is None or basis.shape[0] == 0:
        return x
    if isinstance(basis, QuantisedBasis):
        return x - basis.quantise(x @ basis.weight.T) @ basis.weight
    return x - (x @ basis.T) @ basis


def project_weight_gradient(grad: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """``G - (G H^T) H`` for a weight gradient ``G`` of shape (out, n)."""
    return project_out(grad, basis)


class _TracedLinear(torch.autograd.Function):
    """``x W^T`` whose backward uses a chosen presynaptic trace and feedback matrix."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, trace: torch.Tensor | None, basis: Any, feedback: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        ctx.quantise = basis.quantise if isinstance(basis, QuantisedBasis) else None
        if ctx.quantise is not None:
            basis = basis.weight
        ctx.save_for_backward(x if trace is None else trace, basis, feedback if feedback is not None else weight)
        return x @ weight.T

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        trace, basis, back = ctx.saved_tensors
        if ctx.quantise is not None:
            basis = QuantisedBasis(basis, ctx.quantise)
        grad_x = grad @ back if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            g2 = grad.reshape(-1, grad.shape[-1])
            t2 = project_out(trace.reshape(-1, trace.shape[-1]), basis)
            grad_w = g2.T @ t2
        return grad_x, grad_w, None, None, None


def traced_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    *,
    trace: torch.Tensor | None = None,
    basis: torch.Tensor | None = None,
    feedback: torch.Tensor | None = None,
) -> torch.Tensor:
    """The forward pass ``x W^T`` with a configurable backward pass.

    Parameters
    ----------
    x : torch.Tensor
        Presynaptic activity, shape (..., n): spikes of one step, or rates.
    weight : torch.Tensor
        ``W``, shape (out, n).
    trace : torch.Tensor, optional
        What the weight gradient multiplies instead of ``x`` (same shape as ``x``): OTTT's
        presynaptic traces. Default ``x`` (exact gradient).
    basis : torch.Tensor or QuantisedBasis, optional
        Lateral weights ``H`` (m, n): the trace is replaced by ``trace - (trace H^T) H`` in the
        weight gradient (input-path projection; ``trace - q(trace H^T) H`` for a
        :class:`QuantisedBasis`). The forward pass is unchanged.
    feedback : torch.Tensor, optional
        Matrix (out, n) that carries the error to ``x`` instead of ``W`` (feedback alignment:
        fixed random; sign symmetry: ``sign(W)`` scaled).

    Returns
    -------
    torch.Tensor
        Shape (..., out).
    """
    return _TracedLinear.apply(x, weight, trace, basis, feedback)
