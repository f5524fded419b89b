"""Lateral Hebbian circuits that extract the principal subspace of a layer's past activity.

A lateral circuit of a layer with input width ``n`` has ``m`` lateral neurons with weights
``H`` (m x n). For presynaptic activity ``x`` (rows of a batch, n wide) the lateral neurons
respond ``y = H x`` and feed back the reconstruction ``x_hat = H^T y``. Oja's subspace rule,
Hebbian (``y x^T``) plus anti-Hebbian (``- y x_hat^T``), moves the rows towards an orthonormal
basis of the principal subspace of ``x`` (uncentred second moment):

    dH = y^T (x - x_hat) / N            (N rows in the batch; entries clamped to [-c, c])
    V <- mu V + (1 - mu) dH             (momentum, mu = 0.9)
    H <- H + lr V

``y`` and ``x_hat`` use all rows; only the rows added for the current task learn, the older
ones are frozen, so the new rows converge to the principal subspace of the residual left by the
old ones. With spiking lateral neurons (:func:`spiking_response`) ``y`` is a signed spike
count of integrate-and-fire neurons driven by ``H x`` for ``T_h`` steps, saturating at ``+-s``.

Pure functions (:func:`hebbian_step`, :func:`lateral_response`) and a thin module
(:class:`LateralCircuit`) that holds ``H`` and the number of frozen rows.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import torch
from torch import nn

from neurohop.errors import CapacityError, InputError

__all__ = [
    "HebbianParameters",
    "SpikingLateralParameters",
    "LateralState",
    "lateral_response",
    "spiking_response",
    "hebbian_step",
    "orthonormal_rows",
    "LateralCircuit",
]


class HebbianParameters(NamedTuple):
    """Oja subspace rule settings.

    Attributes
    ----------
    lr : float
        Learning rate (per unit activity squared).
    momentum : float
        Momentum ``mu`` of the update.
    clamp : float
        Bound on the entries of ``dH``.
    iterations : int
        Updates per batch.
    """

    lr: float
    momentum: float = 0.9
    clamp: float = 10.0
    iterations: int = 5


class SpikingLateralParameters(NamedTuple):
    """Spiking lateral neurons.

    Attributes
    ----------
    timesteps : int
        Steps ``T_h`` of integration.
    saturation : int
        Counts are clipped to ``[-saturation, saturation]``.
    threshold : float
        Firing threshold of the lateral neurons (unit of ``H x``); a count ``k`` stands for
        ``y = k * threshold / timesteps``.
    dither : bool
        Start from a random potential in ``[0, threshold)`` (unbiased counts) rather than 0.
    quantiser : str
        ``integrate`` (the counts of integrate-and-fire neurons) or ``round`` (deterministic
        rounding to ``timesteps`` levels of ``range``, as the reference implementation).
    range : float or None
        ``|y|`` of a full count for ``round`` (required there; unused by ``integrate``).
    """

    timesteps: int
    saturation: int
    threshold: float
    dither: bool = True
    quantiser: str = "integrate"
    range: float | None = None


class LateralState(NamedTuple):
    """Weights of all lateral neurons (m, n) and the momentum of the learning rows (m - frozen, n)."""

    weight: torch.Tensor
    velocity: torch.Tensor


def spiking_response(current: torch.Tensor, p: SpikingLateralParameters, generator: torch.Generator | None = None) -> torch.Tensor:
    """Signed spike counts of integrate-and-fire lateral neurons, scaled back to ``y`` units.

    Each neuron integrates its constant input current ``c`` for ``T_h`` steps: ``u <- u + |c|``;
    a spike (of the sign of ``c``) when ``u >= theta``, then ``u <- u - theta``; at most one spike
    per step. ``u`` starts at 0, or with ``dither`` at ``r theta`` with ``r`` uniform in [0, 1).
    The count over ``T_h`` steps is then exactly ``min(floor((u0 + T_h |c|) / theta), T_h)``,
    which is what is computed (a test checks it against the step-by-step simulation). The count
    is clipped to ``[-s, s]`` and returned as ``sign(c) * count * theta / T_h``.

    Parameters
    ----------
    current : torch.Tensor
        ``H x``, shape (batch, neurons).
    p : SpikingLateralParameters
    generator : torch.Generator, optional
        Source of the dither (required when ``p.dither``).

    With ``p.quantiser == "round"`` the response is instead the reference's deterministic
    rounding ``round(clamp(c, -r, r) / r * T_h) / T_h * r`` with ``r = p.range`` (at most
    ``T_h`` counts of either sign; no dither, no saturation below ``T_h``).
    """
    if p.quantiser == "round":
        if p.range is None:
            raise InputError("spiking_response: range: expected a number for quantiser 'round' (got None)")
        r = float(p.range)
        return torch.round(current.clamp(-r, r) / r * p.timesteps) / p.timesteps * r
    theta = p.threshold
    if p.dither:
        if generator is None:
            raise InputError("spiking_response: dither: expected a torch.Generator (got None)")
        u0 = torch.rand(current.shape, generator=generator, device=generator.device, dtype=current.dtype).to(current.device) * theta
    else:
        u0 = torch.zeros_like(current)
    count = torch.floor((u0 + p.timesteps * current.abs()) / theta).clamp(max=min(p.timesteps, p.saturation))
    return torch.sign(current) * count * (theta / p.timesteps)


def lateral_response(
    x: torch.Tensor,
    weight: torch.Tensor,
    spiking: SpikingLateralParameters | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Lateral neurons' response ``y`` to presynaptic rows ``x``: ``x H^T`` or its spike count."""
    current = x @ weight.T
    return current if spiking is None else spiking_response(current, spiking, generator)


def hebbian_step(
    x: torch.Tensor,
    state: LateralState,
    p: HebbianParameters,
    n_frozen: int,
    spiking: SpikingLateralParameters | None = None,
    generator: torch.Generator | None = None,
) -> LateralState:
    """``p.iterations`` Oja-subspace updates of the learning rows on one batch.

    Parameters
    ----------
    x : torch.Tensor
        Presynaptic activity, shape (N, n).
    state : LateralState
        ``weight`` (m, n) with the first ``n_frozen`` rows frozen; ``velocity`` (m - n_frozen, n).
    p : HebbianParameters
    n_frozen : int
        Rows that do not learn (the earlier tasks').
    spiking : SpikingLateralParameters, optional
        Use spike counts for ``y``.
    generator : torch.Generator, optional
        Dither source for spiking lateral neurons.

    Returns
    -------
    LateralState
        Updated weights (frozen rows bit-identical) and momentum.
    """
    old, new = state.weight[:n_frozen], state.weight[n_frozen:]
    velocity = state.velocity
    n = x.shape[0]
    # the frozen rows' response and reconstruction do not change within the batch
    if n_frozen > 0:
        x_res = x - lateral_response(x, old, spiking, generator) @ old
    else:
        x_res = x
    for _ in range(p.iterations):
        y = lateral_response(x, new, spiking, generator)
        d = (y.T @ (x_res - y @ new)) / n
        d = d.clamp(-p.clamp, p.clamp)
        velocity = p.momentum * velocity + (1.0 - p.momentum) * d
        new = new + p.lr * velocity
    return LateralState(torch.cat([old, new]), velocity)


def orthonormal_rows(k: int, n: int, generator: torch.Generator, against: torch.Tensor | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``k`` random orthonormal rows of width ``n``, optionally orthogonal to the rows of ``against``.

    Drawn on the CPU from ``generator`` (so results do not depend on the device).
    """
    if k == 0:
        return torch.zeros(0, n, dtype=dtype)
    a = torch.randn(n, k, generator=generator, dtype=torch.float64)
    if against is not None and against.shape[0] > 0:
        q_old, _ = torch.linalg.qr(against.detach().to("cpu", torch.float64).T)
        a = a - q_old @ (q_old.T @ a)
        a = a - q_old @ (q_old.T @ a)
    q, r = torch.linalg.qr(a)
    q = q * torch.where(torch.diagonal(r) >= 0, 1.0, -1.0)  # QR's sign convention made unique
    return q.T.to(dtype).contiguous()


class LateralCircuit(nn.Module):
    """The lateral neurons of one layer: ``H`` (buffer) and how many of its rows are frozen.

    Parameters
    ----------
    n_inputs : int
        Input width of the layer it serves.
    name : str
        Layer name, for messages.
    """

    def __init__(self, n_inputs: int, name: str = "layer") -> None:
        super().__init__()
        self.n_inputs = int(n_inputs)
        self.name = name
        self.register_buffer("weight", torch.zeros(0, self.n_inputs))
        self.n_frozen = 0

    @property
    def n_rows(self) -> int:
        """Lateral neurons in the circuit."""
        return int(self.weight.shape[0])

    @property
    def frozen(self) -> torch.Tensor:
        """Rows of the earlier tasks, the basis used for projection."""
        return self.weight[: self.n_frozen]

    def add_rows(self, k: int, generator: torch.Generator, orthogonal_to_frozen: bool = True) -> None:
        """Add ``k`` learning rows, orthonormal among themselves (and to the frozen rows).

        Raises
        ------
        CapacityError
            When the circuit would hold more lateral neurons than its input width.
        """
        if self.n_rows + k > self.n_inputs:
            raise CapacityError(
                f"lateral circuit of {self.name}: expected at most {self.n_inputs} lateral neurons (the layer's input width) "
                f"(got {self.n_rows} + {k})"
            )
        if self.n_rows != self.n_frozen:
            raise InputError(f"lateral circuit of {self.name}: expected all rows frozen before adding more (call freeze())")
        rows = orthonormal_rows(k, self.n_inputs, generator, self.weight if orthogonal_to_frozen else None)
        self.weight = torch.cat([self.weight, rows.to(self.weight)])

    def set_rows(self, rows: torch.Tensor) -> None:
        """Replace the learning rows (e.g. by an exact SVD basis)."""
        if rows.shape[1] != self.n_inputs:
            raise InputError(f"lateral circuit of {self.name}: rows: expected width {self.n_inputs} (got {rows.shape[1]})")
        if self.n_frozen + rows.shape[0] > self.n_inputs:
            raise CapacityError(
                f"lateral circuit of {self.name}: expected at most {self.n_inputs} lateral neurons (got {self.n_frozen} + {rows.shape[0]})"
            )
        self.weight = torch.cat([self.frozen, rows.to(self.weight)])

    def freeze(self) -> None:
        """Freeze all rows (the task is done: its rows merge into the projection basis)."""
        self.n_frozen = self.n_rows

    def learn(
        self,
        batches: Iterable[torch.Tensor],
        p: HebbianParameters,
        spiking: SpikingLateralParameters | None = None,
        generator: torch.Generator | None = None,
        lr_scale: Sequence[float] | None = None,
    ) -> None:
        """Run the Hebbian rule on the learning rows over the given activity batches.

        ``lr_scale[i]`` (optional) multiplies the learning rate of batch ``i`` (a decay schedule).
        """
        k = self.n_rows - self.n_frozen
        state = LateralState(self.weight, torch.zeros(k, self.n_inputs, dtype=self.weight.dtype, device=self.weight.device))
        for i, x in enumerate(batches):
            q = p if lr_scale is None else p._replace(lr=p.lr * lr_scale[i])
            state = hebbian_step(x.to(self.weight), state, q, self.n_frozen, spiking, generator)
        self.weight = state.weight

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Residual of ``x`` after projecting out the frozen rows: ``x - (x H^T) H``."""
        from neurohop.hlop.projection import project_out

        return project_out(x, self.frozen)

    def extra_repr(self) -> str:
        return f"{self.name}: {self.n_rows} lateral neurons ({self.n_frozen} frozen) on {self.n_inputs} inputs"
