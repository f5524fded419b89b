"""Training methods: how a loss gradient reaches the weights of the spiking classifier.

Every method computes a loss on a batch of input spikes; its weight gradients have the form
``sum delta trace^T``, and only the *trace* differs, which is what an input-path projection
projects (:func:`neurohop.hlop.projection.traced_linear`):

``bptt``
    Surrogate-gradient backpropagation through time: the network is unrolled over the ``T``
    steps with Norse's spike function (SuperSpike surrogate by default); the readout logits are
    the mean readout current. Trace: the presynaptic spikes of every step.
``dsr``
    Differentiation on spike representation: the network is simulated without a graph, then
    each hidden layer is represented by its firing rate ``r = mean_t z[t]`` and differentiated
    through the rate map ``clamp(W r_in / v_th, 0, 1)`` (straight-through: the forward value is
    the simulated rate). Trace: presynaptic firing rates.
``ottt``
    Online training through time: the membrane's temporal dependence is cut (state detached
    each step) and the weight gradient uses the presynaptic trace ``a[t] = beta a[t-1] + s[t]``;
    the loss is the mean over steps of the cross-entropy of the instantaneous readout
    ``W_head z_L[t]`` (the memoryless readout keeps its exact gradient). Trace: ``a[t]``.
``fa``
    Feedback alignment on top of DSR: errors travel down through fixed random matrices.
``ss``
    Sign-symmetric feedback on top of DSR: errors travel through ``sign(W) * mean|W|``.

The loss of a batch is the mean cross-entropy; samples may belong to different heads.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from neurohop.errors import InputError
from neurohop.hlop.config import TRAIN_METHODS
from neurohop.hlop.network import SpikingMLP
from neurohop.hlop.neurons import layer_scan, trace_scan
from neurohop.hlop.projection import traced_linear

__all__ = ["Trainer", "make_trainer", "TRAIN_METHODS"]

Bases = Sequence["torch.Tensor | None"]


def _head_loss(net: SpikingMLP, feats: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, linear: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy; ``feats`` is (B, n) or (T, B, n) (then averaged over steps)."""
    per_step = feats.dim() == 3
    if net.shared_head:
        logits = linear(feats, 0)
        if per_step:
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.repeat(feats.shape[0]))
        return F.cross_entropy(logits, targets)
    total = feats.new_zeros(())
    n = targets.shape[0]
    for h in torch.unique(heads).tolist():
        mask = heads == h
        f = feats[:, mask] if per_step else feats[mask]
        logits = linear(f, int(h))
        t = targets[mask].repeat(feats.shape[0]) if per_step else targets[mask]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t, reduction="sum")
        total = total + loss / (feats.shape[0] if per_step else 1)
    return total / n


class Trainer:
    """One training method bound to a network.

    Parameters
    ----------
    name : str
        One of :data:`~neurohop.hlop.config.TRAIN_METHODS`.
    net : SpikingMLP
    generator : torch.Generator
        Source of the fixed feedback matrices (``fa``).
    """

    def __init__(self, name: str, net: SpikingMLP, generator: torch.Generator) -> None:
        if name not in TRAIN_METHODS:
            raise InputError(f"train: expected one of {list(TRAIN_METHODS)} (got {name!r})")
        self.name = name
        self.net = net
        #: With ``record_activity`` every :meth:`loss` keeps, per projected layer, the batch's
        #: presynaptic activity at every step, (T, B, width), detached (``activity``).
        self.record_activity = False
        self.activity: list[torch.Tensor] = []
        self.feedback: dict[str, torch.Tensor] = {}
        if name == "fa":
            for key, lin in self._feedback_layers():
                bound = 1.0 / lin.in_features**0.5
                b = (torch.rand(lin.weight.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
                self.feedback[key] = b.to(lin.weight)

    def _feedback_layers(self) -> list[tuple[str, torch.nn.Linear]]:
        net = self.net
        return [(f"fc{i}", lin) for i, lin in enumerate(net.layers)][1:] + [(f"head{h}", lin) for h, lin in enumerate(net.heads)]

    @property
    def trace_rows_per_sample(self) -> int:
        """Rows of presynaptic trace per sample (decides the cheaper projection path)."""
        return self.net.timesteps if self.name in ("bptt", "ottt") else 1

    def _fb(self, key: str, lin: torch.nn.Linear) -> torch.Tensor | None:
        if self.name == "fa":
            return self.feedback[key]
        if self.name == "ss":
            w = lin.weight.detach()
            return torch.sign(w) * w.abs().mean()
        return None

    def loss(self, spikes: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, bases: Bases | None = None) -> torch.Tensor:
        """Loss of a batch whose gradient is the method's update direction.

        Parameters
        ----------
        spikes : torch.Tensor
            Input spikes (T, B, n_inputs).
        targets : torch.Tensor
            Labels in each sample's head (B,), int64.
        heads : torch.Tensor
            Head index of each sample (B,), int64 (all 0 for a shared head).
        bases : sequence of tensors or None, optional
            Per projected layer (see :meth:`SpikingMLP.projected_layers`), the lateral weights
            whose span is projected out of the trace (input path); None: no input projection.
        """
        net = self.net
        n_proj = len(net.projected_layers())
        bases = list(bases) if bases is not None else [None] * n_proj
        if len(bases) != n_proj:
            raise InputError(f"Trainer.loss: bases: expected {n_proj} entries (got {len(bases)})")
        if self.name == "bptt":
            return self._bptt(spikes, targets, heads, bases)
        if self.name == "ottt":
            return self._ottt(spikes, targets, heads, bases)
        return self._dsr(spikes, targets, heads, bases)

    def _record(self, inputs: list[torch.Tensor]) -> None:
        """Keep the presynaptic activity of the projected layers (inputs of every hidden layer,
        then of a shared head) when ``record_activity`` is set."""
        if self.record_activity:
            n = len(self.net.projected_layers())
            self.activity = [a.detach() for a in inputs[:n]]

    def _head_linear(self, bases: list[torch.Tensor | None], trace: bool = False) -> Callable[[torch.Tensor, int], torch.Tensor]:
        net = self.net

        def linear(f: torch.Tensor, h: int) -> torch.Tensor:
            lin = net.heads[h]
            basis = bases[len(net.layers)] if net.shared_head else None
            y = traced_linear(f, lin.weight, basis=basis, feedback=self._fb(f"head{h}", lin))
            return y if lin.bias is None else y + lin.bias

        return linear

    def _dsr(self, spikes: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, bases: list[torch.Tensor | None]) -> torch.Tensor:
        net = self.net
        with torch.no_grad():
            rates = []
            x = spikes
            seen = [spikes]
            for i, lin in enumerate(net.layers):
                x = layer_scan(lin(x), net.lif_parameters(i))
                rates.append(x.mean(0))
                seen.append(x)
        self._record(seen)
        a = spikes.mean(0)
        for i, lin in enumerate(net.layers):
            cur = traced_linear(a, lin.weight, basis=bases[i], feedback=self._fb(f"fc{i}", lin) if i > 0 else None)
            if lin.bias is not None:
                cur = cur + lin.bias
            soft = (cur / net.lif_parameters(i).v_th).clamp(0.0, 1.0)
            a = soft + (rates[i] - soft).detach()
        return _head_loss(net, a, targets, heads, self._head_linear(bases))

    def _bptt(self, spikes: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, bases: list[torch.Tensor | None]) -> torch.Tensor:
        net = self.net
        x = spikes
        seen = [spikes]
        for i, lin in enumerate(net.layers):
            cur = traced_linear(x, lin.weight, basis=bases[i])
            if lin.bias is not None:
                cur = cur + lin.bias
            x = layer_scan(cur, net.lif_parameters(i))
            seen.append(x)
        self._record(seen)
        return _head_loss(net, x.mean(0), targets, heads, self._head_linear(bases))

    def _ottt(self, spikes: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, bases: list[torch.Tensor | None]) -> torch.Tensor:
        net = self.net
        beta = net.config.beta
        x = spikes
        seen = [spikes]
        for i, lin in enumerate(net.layers):
            with torch.no_grad():
                tr = trace_scan(x.detach(), beta)
            cur = traced_linear(x, lin.weight, trace=tr, basis=bases[i])
            if lin.bias is not None:
                cur = cur + lin.bias
            x = layer_scan(cur, net.lif_parameters(i), detach_state=True)
            seen.append(x)
        self._record(seen)
        return _head_loss(net, x, targets, heads, self._head_linear(bases))


def make_trainer(name: str, net: SpikingMLP, generator: torch.Generator) -> Trainer:
    """A :class:`Trainer` for method ``name`` (``bptt``, ``dsr``, ``ottt``, ``fa``, ``ss``)."""
    return Trainer(name, net, generator)
