"""The spiking classifier trained task after task: encoder -> LIF layers -> integrating readout.

Structure (time semantics in :mod:`neurohop.hlop.neurons`)::

    image --encode_if--> input spikes s0[t] --W1--> LIF --W2--> LIF ... --W_head--> readout

* Hidden layers are LIF (``v <- beta v + W x (+ b)``, ``v > v_th`` spikes, hard reset to 0
  or subtractive reset ``v <- v - v_th`` by ``network.reset``),
  all driven in the same step ``t`` by the spikes of the layer below.
* The readout of a head is a non-spiking integrator: ``o <- o + W_head z_L[t] (+ b)``; the
  logits are ``o / T`` after the ``T`` steps (the class is ``argmax o``).
* Heads: one shared head (permuted scenario) or one per task (task-incremental split).

The module holds parameters only; :meth:`SpikingMLP.simulate` is the float reference of the
whole network on given input spikes (what an exporter compares against).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from neurohop.errors import InputError
from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.neurons import LayerParameters, encode_if, layer_scan

__all__ = ["SpikingMLP", "ClassifierOutput"]


class ClassifierOutput(NamedTuple):
    """Result of :meth:`SpikingMLP.simulate`.

    Attributes
    ----------
    spikes : tuple of torch.Tensor
        Spikes of each hidden layer, each (timesteps, batch, width).
    logits : torch.Tensor
        Readout potential after the last step divided by the number of steps, (batch, classes).
    """

    spikes: tuple[torch.Tensor, ...]
    logits: torch.Tensor


class Classifier(nn.Module):
    """What every HLOP classifier shares: per-task or shared heads (``heads``, ``shared_head``),
    hidden ``layers`` under ``layer_names``, and its ``config`` (a NetworkConfig)."""

    def projected_layers(self) -> list[tuple[str, nn.Module]]:
        """The layers whose inputs get lateral circuits: the hidden layers, then the head
        when one head is shared by every task."""
        out: list[tuple[str, nn.Module]] = list(zip(self.layer_names, self.layers))
        if self.shared_head:
            out.append(("head", self.heads[0]))
        return out

    def head_index(self, task: int) -> int:
        """Which head serves ``task`` (0 with a shared head)."""
        if self.shared_head:
            return 0
        if not 0 <= task < len(self.heads):
            raise InputError(f"{type(self).__name__}: task: expected 0 .. {len(self.heads) - 1} (got {task})")
        return task

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.heads[0].weight.device

    @property
    def timesteps(self) -> int:
        """Simulation steps per sample."""
        return self.config.timesteps


class SpikingMLP(Classifier):
    """Fully connected spiking classifier with one or several readout heads.

    Parameters
    ----------
    n_inputs : int
        Input width (pixels).
    head_sizes : tuple of int
        Output units per head; one entry for a shared head.
    config : NetworkConfig
        Widths, neuron parameters, timesteps, encoder levels, initial weight gain.
    generator : torch.Generator
        Source of the initial weights (CPU generator; weights are moved to ``device`` after).
    shared_head : bool
        True when all tasks use head 0 (its input is then projected like a hidden layer's).
    device : str or torch.device
        Where the parameters live.
    """

    def __init__(
        self,
        n_inputs: int,
        head_sizes: tuple[int, ...],
        config: NetworkConfig,
        generator: torch.Generator,
        shared_head: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        if n_inputs < 1 or not head_sizes or min(head_sizes) < 1:
            raise InputError(f"SpikingMLP: expected n_inputs >= 1 and heads of >= 1 unit (got {n_inputs}, {head_sizes})")
        if shared_head and len(head_sizes) != 1:
            raise InputError(f"SpikingMLP: shared_head: expected one head size (got {head_sizes})")
        self.config = config
        self.n_inputs = int(n_inputs)
        self.shared_head = bool(shared_head)
        widths = (self.n_inputs, *config.hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=config.bias) for a, b in zip(widths[:-1], widths[1:]))
        self.heads = nn.ModuleList(nn.Linear(widths[-1], k, bias=config.bias) for k in head_sizes)
        for i, width in enumerate(config.hidden):
            if config.train_threshold:  # trained with the weights (during task 0)
                self.register_parameter(f"v_th{i}", nn.Parameter(torch.full((width,), float(config.v_th))))
            else:
                self.register_buffer(f"v_th{i}", torch.full((width,), float(config.v_th)))
        with torch.no_grad():
            for lin in [*self.layers, *self.heads]:
                bound = config.init_gain / lin.in_features**0.5
                w = (torch.rand(lin.weight.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
                lin.weight.copy_(w.to(lin.weight.dtype))
                if lin.bias is not None:
                    lin.bias.zero_()
        self.to(device)

    # ------------------------------------------------------------------ description

    def thresholds(self) -> list[torch.Tensor]:
        """Firing threshold of each hidden layer, per neuron."""
        return [getattr(self, f"v_th{i}") for i in range(len(self.layers))]

    def lif_parameters(self, layer: int) -> LayerParameters:
        """Neuron parameters of hidden layer ``layer``."""
        c = self.config
        return LayerParameters(c.beta, getattr(self, f"v_th{layer}"), c.surrogate, c.surrogate_alpha, c.reset)

    @property
    def layer_names(self) -> list[str]:
        """Names of the hidden layers (``fc0``, ``fc1``, ...)."""
        return [f"fc{i}" for i in range(len(self.layers))]


    # ------------------------------------------------------------------ running
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input (timesteps, batch, n_inputs) of intensities ``x`` in [0, 1]: spikes, or with
        ``network.input: current`` the normalised intensities repeated at every step."""
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise InputError(f"SpikingMLP.encode: x: expected shape (batch, {self.n_inputs}) (got {tuple(x.shape)})")
        c = self.config
        if c.input == "current":
            a = (x.to(self.device, torch.float32) - c.input_mean) / c.input_std
            return a.unsqueeze(0).expand(c.timesteps, *a.shape)
        return encode_if(x.to(self.device, torch.float32), self.config.timesteps, self.config.encoder_levels)

    def simulate(self, spikes: torch.Tensor, head: int = 0) -> ClassifierOutput:
        """Run the float spiking network on input spikes (the reference semantics).

        Parameters
        ----------
        spikes : torch.Tensor
            Input spikes, (timesteps, batch, n_inputs), values 0 or 1 (or the input current
            of every step with ``network.input: current``).
        head : int
            Readout head (0 for a shared head).
        """
        if spikes.dim() != 3 or spikes.shape[2] != self.n_inputs:
            raise InputError(f"SpikingMLP.simulate: spikes: expected shape (T, batch, {self.n_inputs}) (got {tuple(spikes.shape)})")
        if not 0 <= head < len(self.heads):
            raise InputError(f"SpikingMLP.simulate: head: expected 0 .. {len(self.heads) - 1} (got {head})")
        x = spikes.to(self.device, self.layers[0].weight.dtype)
        out = []
        for i, lin in enumerate(self.layers):
            x = layer_scan(lin(x), self.lif_parameters(i))
            out.append(x)
        lin = self.heads[head]
        logits = lin(x).sum(0) / x.shape[0]  # integrator: o <- o + W z[t] (+ b), read out as o / T
        return ClassifierOutput(tuple(out), logits)

    def projected_activity(self, spikes: torch.Tensor, sim: ClassifierOutput) -> list[torch.Tensor]:
        """Activity rows each lateral circuit sees, per projected layer: the firing rates at its input.

        Input spike rates for the first layer, hidden layer ``l - 1``'s rates for layer ``l``,
        the last hidden layer's for a shared head; ``sim`` is :meth:`simulate` on ``spikes``.
        """
        return [spikes.mean(0)] + [s.mean(0) for s in sim.spikes]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, head: int = 0) -> torch.Tensor:
        """Class index per sample (argmax of the readout) for intensities ``x`` (batch, n_inputs)."""
        return self.simulate(self.encode(x), head).logits.argmax(1)
