"""Continual-learning metrics and diagnostics of the lateral circuits.

* Accuracy matrix ``A[i, j]``: accuracy (percent) on task ``j`` after training task ``i``.
* ``ACC`` = mean of the last row; ``BWT`` = mean over ``j < T-1`` of ``A[T-1, j] - A[j, j]``
  (percentage points; negative means forgetting).
* Per projected layer: the energy of a task's activity captured by the lateral subspace
  compared with the best subspace of the same dimension (SVD), the eigenvalue range of
  ``H^T H`` (``I - H^T H`` amplifies instead of protecting when it exceeds 2), and the relative
  residual ``||x - (x H^T) H|| / ||x||`` of old tasks' activity.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "average_accuracy",
    "backward_transfer",
    "subspace_energy",
    "svd_energy",
    "top_subspace",
    "eigen_range",
    "projection_residual",
    "ProjectionStabilityWarning",
]


class ProjectionStabilityWarning(UserWarning):
    """``H^T H`` has an eigenvalue near or above 2: the projection may amplify old directions."""


def average_accuracy(matrix: np.ndarray) -> float:
    """ACC: mean of the last row of the accuracy matrix (percent)."""
    return float(np.mean(matrix[-1]))


def backward_transfer(matrix: np.ndarray) -> float | None:
    """BWT: mean over earlier tasks of final minus just-learned accuracy (points); None for one task."""
    t = matrix.shape[0]
    if t < 2:
        return None
    diag = np.diag(matrix)[: t - 1]
    if np.any(np.isnan(diag)):
        return None
    return float(np.mean(matrix[-1, : t - 1] - diag))


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64)


def subspace_energy(x: torch.Tensor, rows: torch.Tensor) -> float:
    """Fraction of the energy ``||x||_F^2`` inside the row space of ``rows`` (any scaling).

    Parameters
    ----------
    x : torch.Tensor
        Activity, (N, n).
    rows : torch.Tensor
        (k, n); orthonormalised internally, so this measures the subspace, not the weights.
    """
    x = _f64(x)
    total = float((x * x).sum())
    if rows.shape[0] == 0 or total == 0.0:
        return 0.0
    q, r = torch.linalg.qr(_f64(rows).T)
    keep = torch.abs(torch.diagonal(r)) > 1e-9 * max(1.0, float(torch.abs(torch.diagonal(r)).max()))
    q = q[:, keep]
    p = x @ q
    return float((p * p).sum()) / total


def _gram_eig(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = _f64(x)
    evals, evecs = torch.linalg.eigh(x.T @ x)
    return evals.flip(0).clamp(min=0.0), evecs.flip(1)


def svd_energy(x: torch.Tensor, k: int) -> float:
    """Largest fraction of ``||x||_F^2`` any ``k``-dimensional subspace captures (top-k SVD)."""
    evals, _ = _gram_eig(x)
    total = float(evals.sum())
    return float(evals[:k].sum()) / total if total > 0 else 0.0


def top_subspace(x: torch.Tensor, k: int | None = None, energy: float | None = None, total: float | None = None, captured: float = 0.0) -> torch.Tensor:
    """Top right singular vectors of ``x`` as rows (k, n), float64.

    Either ``k`` directly, or the fewest directions such that ``captured`` plus their energy
    reaches ``energy * total`` (GPM's criterion; ``total`` defaults to ``||x||^2``).
    """
    evals, evecs = _gram_eig(x)
    if k is None:
        if energy is None:
            raise ValueError("top_subspace: expected k or energy")
        tot = float(evals.sum()) if total is None else total
        need = energy * tot - captured
        cum = torch.cumsum(evals, 0)
        k = 0 if need <= 0 else int(torch.searchsorted(cum, torch.tensor(need, dtype=cum.dtype)).item()) + 1
        k = min(k, int((evals > 1e-12 * max(float(evals[0]), 1e-300)).sum()))
    return evecs[:, :k].T.contiguous()


def eigen_range(weight: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest nonzero-space eigenvalue of ``H^T H`` (those of ``H H^T``)."""
    if weight.shape[0] == 0:
        return (math.nan, math.nan)
    h = _f64(weight)
    ev = torch.linalg.eigvalsh(h @ h.T)
    return float(ev[0]), float(ev[-1])


def projection_residual(x: torch.Tensor, weight: torch.Tensor) -> float:
    """``||x - (x H^T) H||_F / ||x||_F``: what of ``x`` the projection would still let through."""
    x = _f64(x)
    nx = float(torch.linalg.norm(x))
    if nx == 0.0:
        return 0.0
    if weight.shape[0] == 0:
        return 1.0
    h = _f64(weight)
    return float(torch.linalg.norm(x - (x @ h.T) @ h)) / nx
