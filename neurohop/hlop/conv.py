"""Spiking convolutional classifiers for HLOP: lateral circuits on the unfolded input patches.

Structure of ``network.kind: cnn`` (time semantics of every LIF layer in
:mod:`neurohop.hlop.neurons`)::

    image --encode_if--> spikes --conv--> batch norm --> LIF --> average pooling --> ... (each conv)
          --flatten--> [LIF fully connected layers (network.hidden)] --> readout head(s)

* Input: spikes of the integrate-and-fire encoder, or with ``network.input: current`` the image
  normalised per channel, ``(p - input_mean[c]) / input_std[c]``, as the current of every step.
* Thresholds: one ``network.v_th`` for every LIF layer, or with ``network.train_threshold`` one
  parameter per LIF layer that trains with the weights during task 0 only (the runner trains
  only weight matrices after task 0).
* Convolutions: ``network.conv`` output channels, square ``network.kernel`` kernels, stride 1,
  zero padding ``kernel // 2``, no bias; average pooling by ``network.pool[i]`` after LIF ``i``
  (average pooling of spikes is a fixed linear map: its output is a rate-like current).
* Batch norm (``network.batch_norm``) sits between a convolution and its LIF layer. During task
  0 it normalises with the batch statistics over all steps, samples and positions and updates
  its running statistics; from task 1 on it uses the running statistics and its affine
  parameters do not train (the runner trains only weight matrices after task 0), so the old
  tasks' normalisation never moves. The evaluation always uses the running statistics.
* The readout head integrates ``W_head z[t]``; logits are the integral divided by ``T`` (as in
  :class:`~neurohop.hlop.network.SpikingMLP`). One head per task (task-incremental, the
  paper's protocol) or a shared head.

**Lateral circuits on patches.** A convolution ``y = W * x`` is, at every output position,
the linear map ``W_mat p`` of the input patch ``p`` (``in_channels x k x k`` values,
:func:`torch.nn.functional.unfold`) with ``W_mat = W.reshape(out, in * k * k)``. Its lateral
circuit therefore has ``in * k * k`` inputs and learns the principal subspace of the patch
vectors of the layer's input firing rates; the weight update ``G_mat`` is projected
``G_mat <- G_mat - (G_mat H^T) H`` (:func:`~neurohop.hlop.projection.project_weight_gradient`),
which leaves the response of every old patch in the learned subspace unchanged. A layer sees
``H x W`` patches per image, so only ``network.patches`` of them per image (evenly spaced
positions, shifted by one position from one image of a batch to the next; 0: all) are given
to the lateral circuits, GPM's SVD and the residual diagnostics.

**Training methods.** ``dsr`` (rates ``r = mean_t z[t]``, differentiated through
``clamp(BN(W * r_in) / v_th, 0, 1)`` with the simulated rate as the forward value; batch-norm
statistics of the simulation are used as constants) and ``bptt`` (surrogate gradients through
all steps). Both project the convolution gradients on the weight path inside the backward pass
(the input-path setting applies to fully connected layers only; the two are the same update).
``ottt``, ``fa`` and ``ss`` are not implemented for convolutional networks.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neurohop.errors import InputError
from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.neurons import LayerParameters, encode_if, layer_scan
from neurohop.hlop.projection import project_weight_gradient, traced_linear
from neurohop.hlop.network import Classifier

__all__ = [
    "CONV_TRAIN_METHODS",
    "PatchConv2d",
    "ConvClassifierOutput",
    "SpikingConvNet",
    "ConvTrainer",
    "patch_rows",
    "input_shape_of",
    "build_classifier",
]

#: Training methods implemented for convolutional networks.
CONV_TRAIN_METHODS: tuple[str, ...] = ("dsr", "bptt")

#: Batch-norm constants (PyTorch's defaults).
_BN_EPS = 1e-5
_BN_MOMENTUM = 0.1


class PatchConv2d(nn.Conv2d):
    """A convolution seen by the lateral circuits as a linear map of input patches.

    ``in_features`` (``in_channels * k * k``, the patch width) and ``out_features`` (output
    channels) are what :class:`~neurohop.hlop.parts.Projector` and the projection methods read
    from a projected layer.
    """

    @property
    def in_features(self) -> int:
        """Width of one input patch, ``in_channels * k_h * k_w``."""
        return int(self.in_channels * self.kernel_size[0] * self.kernel_size[1])

    @property
    def out_features(self) -> int:
        """Output channels."""
        return int(self.out_channels)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Input patches of ``x`` (B, C, H, W) as (B, L, in_features), L the output positions."""
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        return cols.transpose(1, 2)


def patch_rows(layer: PatchConv2d, x: torch.Tensor, per_image: int) -> torch.Tensor:
    """Patch vectors of ``x`` (B, C, H, W) for lateral learning: (rows, ``layer.in_features``).

    ``per_image`` evenly spaced output positions per image, the first one shifted by the
    image's index in the batch (so a batch covers all positions); 0 or more than the positions:
    every position.
    """
    p = layer.patches(x)
    b, n_pos, _ = p.shape
    if per_image <= 0 or per_image >= n_pos:
        return p.reshape(b * n_pos, -1)
    step = n_pos / per_image
    base = torch.floor(torch.arange(per_image, device=x.device, dtype=torch.float64) * step).to(torch.int64)
    idx = (base.unsqueeze(0) + torch.arange(b, device=x.device).unsqueeze(1)) % n_pos  # (B, per_image)
    return torch.gather(p, 1, idx.unsqueeze(2).expand(-1, -1, p.shape[2])).reshape(b * per_image, -1)


class ConvClassifierOutput(NamedTuple):
    """Result of :meth:`SpikingConvNet.simulate`.

    Attributes
    ----------
    spikes : tuple
        Empty (the spike trains of feature maps are not kept, to bound memory).
    logits : torch.Tensor
        Readout potential after the last step divided by the number of steps, (batch, classes).
    inputs : tuple of torch.Tensor
        Firing rate (mean over steps) at the input of every projected layer, in the order of
        :meth:`SpikingConvNet.projected_layers` ((B, C, H, W) for convolutions, (B, n) else).
    rates : tuple of torch.Tensor
        Firing rate of every LIF layer.
    """

    spikes: tuple[torch.Tensor, ...]
    logits: torch.Tensor
    inputs: tuple[torch.Tensor, ...]
    rates: tuple[torch.Tensor, ...]


class _ProjectedWeight(torch.autograd.Function):
    """Identity on ``W`` whose backward projects the gradient: ``G_mat - (G_mat H^T) H``."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(basis)
        return weight.view_as(weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (basis,) = ctx.saved_tensors
        g = project_weight_gradient(grad.reshape(grad.shape[0], -1), basis)
        return g.view_as(grad), None


class _Pass:
    """One pass of a network's program, in one of two modes.

    ``time``  tensors carry a leading time axis (T, B, ...); LIF layers are simulated step by
              step (``grad``: BPTT through the surrogate; else no graph). Records the input
              rate of every projected layer, the LIF rates and the batch-norm statistics used.
    ``rate``  tensors are firing rates (B, ...); a LIF layer is ``clamp(I / v_th, 0, 1)`` with
              the simulated rate of the ``time`` pass as forward value (straight-through, DSR).

    ``batch_stats`` (training passes while the network is in training mode, i.e. task 0):
    batch norm uses the batch statistics and updates the running ones; otherwise it uses the
    running statistics.
    """

    def __init__(
        self, net: SpikingConvNet, mode: str, bases: list[torch.Tensor | None] | None, record: _Pass | None = None, grad: bool = False, batch_stats: bool = False
    ) -> None:
        self.net = net
        self.batch_stats = batch_stats and net.training
        self.mode = mode
        self.bases = bases or [None] * len(net.layers)
        self.record = record
        self.grad = grad
        self.inputs: dict[int, torch.Tensor] = {}  # by index in net.layers
        self.rates: list[torch.Tensor] = []
        self.stats: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._lif = 0
        self._norm = 0

    # -- helpers ---------------------------------------------------------------------------
    def _flat(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.mode == "time":
            y = fn(x.reshape(-1, *x.shape[2:]))
            return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])
        return fn(x)

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(0) if self.mode == "time" else x

    def _weight(self, index: int) -> torch.Tensor:
        w = self.net.layers[index].weight
        basis = self.bases[index]
        if basis is not None and basis.shape[0] > 0 and self.grad:
            return _ProjectedWeight.apply(w, basis)
        return w

    # -- operations ------------------------------------------------------------------------
    def conv(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Convolution ``index`` of ``net.layers`` (its gradient projected on the weight path)."""
        layer = self.net.layers[index]
        self.inputs[index] = self._mean(x).detach()
        w = self._weight(index)
        return self._flat(x, lambda v: F.conv2d(v, w, None, layer.stride, layer.padding))

    def linear(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Fully connected layer ``index`` (its presynaptic trace projected on the input path)."""
        layer = self.net.layers[index]
        self.inputs[index] = self._mean(x).detach()
        basis = self.bases[index] if self.grad else None
        y = traced_linear(x, layer.weight, basis=basis)
        return y if layer.bias is None else y + layer.bias

    def norm(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Batch norm ``index`` of ``net.norms`` over channels (identity without batch norm)."""
        if not self.net.norms:
            return x
        bn = self.net.norms[index]
        k = self._norm
        self._norm += 1
        flat = x.reshape(-1, *x.shape[-3:])  # (N, C, H, W): steps and samples together
        if self.mode == "rate" and self.record is not None and self.batch_stats:
            mean, var = self.record.stats[k]  # the simulation's batch statistics, as constants
            y = F.batch_norm(flat, mean, var, bn.weight, bn.bias, False, 0.0, _BN_EPS)
        elif self.batch_stats:
            with torch.no_grad():  # what the rate pass of DSR reuses
                self.stats.append((flat.mean((0, 2, 3)), flat.var((0, 2, 3), unbiased=False)))
            # normalises with the (biased) batch variance, gradient through the statistics; the
            # running statistics move by the momentum towards the batch's (unbiased variance)
            y = F.batch_norm(flat, bn.running_mean, bn.running_var, bn.weight, bn.bias, True, _BN_MOMENTUM, _BN_EPS)
        else:
            y = F.batch_norm(flat, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, _BN_EPS)
        return y.view_as(x)

    def lif(self, current: torch.Tensor) -> torch.Tensor:
        """A LIF layer on ``current`` (spikes in ``time`` mode, rates in ``rate`` mode)."""
        k = self._lif
        self._lif += 1
        p = self.net.lif_parameters(k)
        if self.mode == "time":
            z = layer_scan(current, p)
            self.rates.append(z.mean(0).detach())
            return z
        soft = (current / p.v_th).clamp(0.0, 1.0)
        if self.record is None:
            return soft
        return soft + (self.record.rates[k] - soft).detach()

    def pool(self, x: torch.Tensor, factor: int) -> torch.Tensor:
        """Average pooling by ``factor`` (no-op for 1)."""
        if factor == 1:
            return x
        return self._flat(x, lambda v: F.avg_pool2d(v, factor))


class SpikingConvNet(Classifier):
    """Spiking convolutional classifier (``network.kind: cnn``) with one or several heads.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of a sample.
    head_sizes : tuple of int
        Output units per head; one entry for a shared head.
    config : NetworkConfig
    generator : torch.Generator
        Source of the initial weights (CPU generator).
    shared_head : bool
        True when all tasks use head 0 (its input is then projected too).
    device : str or torch.device
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        head_sizes: tuple[int, ...],
        config: NetworkConfig,
        generator: torch.Generator,
        shared_head: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise InputError(f"{type(self).__name__}: input_shape: expected (channels, height, width) (got {input_shape})")
        if not head_sizes or min(head_sizes) < 1:
            raise InputError(f"{type(self).__name__}: expected heads of >= 1 unit (got {head_sizes})")
        if shared_head and len(head_sizes) != 1:
            raise InputError(f"{type(self).__name__}: shared_head: expected one head size (got {head_sizes})")
        self.config = config
        self.input_shape = tuple(int(v) for v in input_shape)
        self.n_inputs = int(math.prod(self.input_shape))
        self.shared_head = bool(shared_head)
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.layer_names: list[str] = []
        features = self._build_body()
        widths = (features, *config.hidden)
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            self.layers.append(nn.Linear(a, b, bias=config.bias))
            self.layer_names.append(f"fc{i}")
        self.heads = nn.ModuleList(nn.Linear(widths[-1], k, bias=config.bias) for k in head_sizes)
        if config.train_threshold:  # one threshold per LIF layer, trained with the weights during task 0
            self.register_parameter("v_th", nn.Parameter(torch.full((self.n_lif_layers(),), float(config.v_th))))
        else:  # one fixed threshold shared by every LIF layer
            self.register_buffer("v_th", torch.tensor(float(config.v_th)))
        if config.input == "current":
            channels = self.input_shape[0]
            for name in ("input_mean", "input_std"):
                value = getattr(config, name)
                if isinstance(value, tuple) and len(value) not in (1, channels):
                    raise InputError(f"network.{name}: expected one value or {channels}, one per input channel (got {len(value)} values)")
            shape = (channels, 1, 1)
            self.register_buffer("input_mean", torch.as_tensor(config.input_mean, dtype=torch.float32).reshape(-1, 1, 1).expand(shape).clone())
            self.register_buffer("input_std", torch.as_tensor(config.input_std, dtype=torch.float32).reshape(-1, 1, 1).expand(shape).clone())
        with torch.no_grad():
            for lin in [*self.layers, *self.heads]:
                fan_in = lin.weight[0].numel()
                bound = config.init_gain / fan_in**0.5
                w = (torch.rand(lin.weight.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
                lin.weight.copy_(w.to(lin.weight.dtype))
                if lin.bias is not None:
                    lin.bias.zero_()
        self.to(device)

    # ------------------------------------------------------------------ architecture
    def _build_body(self) -> int:
        """Create the convolutions and batch norms; return the flattened feature width."""
        c = self.config
        channels, h, w = self.input_shape
        for i, (out, factor) in enumerate(zip(c.conv, c.pool)):
            self.layers.append(PatchConv2d(channels, out, c.kernel, padding=c.kernel // 2, bias=False))
            self.layer_names.append(f"conv{i}")
            if c.batch_norm:
                self.norms.append(nn.BatchNorm2d(out))
            if h % factor or w % factor:
                raise InputError(f"network.pool[{i}]: expected a factor dividing the {h}x{w} feature map (got {factor})")
            channels, h, w = out, h // factor, w // factor
        return channels * h * w

    def n_lif_layers(self) -> int:
        """LIF layers of the network (each has its own threshold with ``network.train_threshold``)."""
        return len(self.config.conv) + len(self.config.hidden)

    def _program(self, ps: _Pass, x: torch.Tensor) -> torch.Tensor:
        """The network body on ``x`` in the pass's mode; returns the head's input."""
        c = self.config
        for i, factor in enumerate(c.pool):
            x = ps.pool(ps.lif(ps.norm(i, ps.conv(i, x))), factor)
        return self._dense(ps, x, len(c.conv))

    def _dense(self, ps: _Pass, x: torch.Tensor, first: int) -> torch.Tensor:
        """Flatten and run the fully connected LIF layers ``first ..``."""
        x = x.flatten(2) if ps.mode == "time" else x.flatten(1)
        for i in range(first, len(self.layers)):
            x = ps.lif(ps.linear(i, x))
        return x

    # ------------------------------------------------------------------ description
    def lif_parameters(self, layer: int) -> LayerParameters:
        """Parameters of LIF layer ``layer`` (in the order the program runs them)."""
        c = self.config
        return LayerParameters(c.beta, self._threshold(layer), c.surrogate, c.surrogate_alpha, c.reset)

    def _threshold(self, layer: int) -> torch.Tensor:
        """The shared threshold, or LIF layer ``layer``'s own with ``network.train_threshold``."""
        return self.v_th if self.v_th.dim() == 0 else self.v_th[layer]

    def thresholds(self) -> list[torch.Tensor]:
        """Firing threshold of each LIF layer (one value per layer)."""
        return [self._threshold(k) for k in range(self.n_lif_layers())]

    # ------------------------------------------------------------------ running
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input (T, B, C, H, W) of intensities ``x`` (B, C*H*W) in [0, 1]: spikes, or with
        ``network.input: current`` the image normalised per channel, ``(p - input_mean[c]) /
        input_std[c]``, repeated at every step."""
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise InputError(f"{type(self).__name__}.encode: x: expected shape (batch, {self.n_inputs}) (got {tuple(x.shape)})")
        if self.config.input == "current":
            a = (x.to(self.device, torch.float32).reshape(x.shape[0], *self.input_shape) - self.input_mean) / self.input_std
            return a.unsqueeze(0).expand(self.config.timesteps, *a.shape)
        s = encode_if(x.to(self.device, torch.float32), self.config.timesteps, self.config.encoder_levels)
        return s.reshape(s.shape[0], s.shape[1], *self.input_shape)

    def _check_spikes(self, spikes: torch.Tensor, head: int) -> None:
        if spikes.dim() != 5 or tuple(spikes.shape[2:]) != self.input_shape:
            raise InputError(f"{type(self).__name__}: spikes: expected shape (T, batch, {', '.join(map(str, self.input_shape))}) (got {tuple(spikes.shape)})")
        if not 0 <= head < len(self.heads):
            raise InputError(f"{type(self).__name__}: head: expected 0 .. {len(self.heads) - 1} (got {head})")

    def _run(self, spikes: torch.Tensor, bases: list[torch.Tensor | None] | None = None, grad: bool = False, batch_stats: bool = False) -> tuple[_Pass, torch.Tensor]:
        ps = _Pass(self, "time", bases, grad=grad, batch_stats=batch_stats)
        feats = self._program(ps, spikes.to(self.device, self.heads[0].weight.dtype))
        return ps, feats

    def simulate(self, spikes: torch.Tensor, head: int = 0) -> ConvClassifierOutput:
        """Run the float spiking network on input spikes (T, B, C, H, W) (no gradient)."""
        self._check_spikes(spikes, head)
        with torch.no_grad():
            ps, feats = self._run(spikes)
            logits = self.heads[head](feats).mean(0)
        inputs = [ps.inputs[i] for i in range(len(self.layers))]
        if self.shared_head:
            inputs.append(feats.mean(0))  # the shared head's input
        return ConvClassifierOutput((), logits, tuple(inputs), tuple(ps.rates))

    def projected_activity(self, spikes: torch.Tensor, sim: ConvClassifierOutput) -> list[torch.Tensor]:
        """Rows the lateral circuits see, per projected layer: sampled patches for convolutions, rates else."""
        out = []
        for (_, layer), x in zip(self.projected_layers(), sim.inputs):
            out.append(patch_rows(layer, x, self.config.patches) if isinstance(layer, PatchConv2d) else x)
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor, head: int = 0) -> torch.Tensor:
        """Class index per sample for intensities ``x`` (B, C*H*W)."""
        return self.simulate(self.encode(x), head).logits.argmax(1)

    def make_trainer(self, name: str, generator: torch.Generator) -> ConvTrainer:
        """The training method ``name`` for this network."""
        return ConvTrainer(name, self, generator)


class ConvTrainer:
    """DSR or BPTT for a :class:`SpikingConvNet` (the interface of :class:`~neurohop.hlop.training.Trainer`)."""

    def __init__(self, name: str, net: SpikingConvNet, generator: torch.Generator) -> None:
        if name not in CONV_TRAIN_METHODS:
            raise InputError(f"train: expected one of {list(CONV_TRAIN_METHODS)} for a convolutional network (network.kind: {net.config.kind}) (got {name!r})")
        self.name = name
        self.net = net
        self.feedback: dict[str, torch.Tensor] = {}
        #: With ``record_activity`` (Hebbian learning during training) every :meth:`loss` keeps,
        #: per projected layer, the rows its lateral circuit sees (sampled patches of the input
        #: rates for convolutions, input rates else) as ``activity``, each shaped (1, rows, width).
        self.record_activity = False
        self.activity: list[torch.Tensor] = []

    @property
    def trace_rows_per_sample(self) -> int:
        """Rows of presynaptic trace per sample (for the fully connected layers' projection path)."""
        return self.net.timesteps if self.name == "bptt" else 1

    def loss(self, spikes: torch.Tensor, targets: torch.Tensor, heads: torch.Tensor, bases: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Mean cross-entropy of a batch; its gradient is the method's (projected) update.

        Batch norm learns (batch statistics) while the network is in training mode
        (``net.train()``; the runner sets it for task 0 only).

        ``bases``: per projected layer, lateral weights whose span the update avoids (convolutions:
        weight gradient projected; fully connected layers and a shared head: presynaptic trace).
        """
        net = self.net
        n_proj = len(net.projected_layers())
        bases = list(bases) if bases is not None else [None] * n_proj
        if len(bases) != n_proj:
            raise InputError(f"ConvTrainer.loss: bases: expected {n_proj} entries (got {len(bases)})")
        if self.name == "bptt":
            record, feats = net._run(spikes, bases, grad=True, batch_stats=True)
            feats = feats.mean(0)
        else:
            with torch.no_grad():
                record, _ = net._run(spikes, batch_stats=True)
            ps = _Pass(net, "rate", bases, record=record, grad=True, batch_stats=True)
            feats = net._program(ps, spikes.to(net.device, net.heads[0].weight.dtype).mean(0))
        if self.record_activity:
            inputs = ConvClassifierOutput((), feats, (*(record.inputs[i] for i in range(len(net.layers))), feats.detach()), ())
            self.activity = [a.unsqueeze(0) for a in net.projected_activity(spikes, inputs)]
        head_basis = bases[-1] if net.shared_head else None
        total = feats.new_zeros(())
        for h in torch.unique(heads).tolist():
            mask = heads == h
            lin = net.heads[int(h)]
            logits = traced_linear(feats[mask], lin.weight, basis=head_basis)
            if lin.bias is not None:
                logits = logits + lin.bias
            total = total + F.cross_entropy(logits, targets[mask], reduction="sum")
        return total / targets.shape[0]


def input_shape_of(config: NetworkConfig, image_shape: tuple[int, ...] | None, n_features: int) -> tuple[int, int, int]:
    """``(C, H, W)`` of a sample: ``network.input_shape``, else the data set's image shape."""
    shape = config.input_shape
    if shape is None:
        if image_shape is None:
            raise InputError(
                f"network.input_shape: expected [channels, height, width] for a data set without an image shape "
                f"({n_features} features per sample) (got null)"
            )
        shape = tuple(image_shape) if len(image_shape) == 3 else (1, *tuple(image_shape)) if len(image_shape) == 2 else None
        if shape is None:
            raise InputError(f"network.input_shape: the data set's image shape {tuple(image_shape)} is not (H, W) or (C, H, W); give it explicitly")
    if math.prod(shape) != n_features:
        raise InputError(f"network.input_shape: expected {list(shape)} to hold the {n_features} features of a sample (got {math.prod(shape)} values)")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def _check_memory(net: nn.Module, config: NetworkConfig, batch_size: int, where: str) -> None:
    """Refuse a network whose training states would not fit in memory (estimated from one sample)."""
    from neurohop.files import check_memory
    from neurohop.hlop.config import STATE_BYTES, WEIGHT_BYTES

    weights = sum(p.numel() for p in net.parameters())
    states = 0
    with torch.no_grad():
        x = torch.zeros(1, 1, *net.input_shape, device=net.device)
        ps, _ = net._run(x)
        states = sum(r.numel() for r in ps.rates)
    states *= int(batch_size) * int(config.timesteps)
    check_memory(float(weights) * WEIGHT_BYTES + float(states) * STATE_BYTES, f"a {config.kind} of {weights:.3g} weights and {states:.3g} neuron states per batch", where)


def build_classifier(
    config: Any, image_shape: tuple[int, ...] | None, n_features: int, head_sizes: tuple[int, ...], generator: torch.Generator, shared_head: bool, device: torch.device
) -> SpikingConvNet:
    """The convolutional classifier named by ``config.network.kind`` (an :class:`~neurohop.hlop.config.HLOPConfig`)."""
    net_cfg = config.network
    # per-step rows would multiply every patch row by the steps; a quantised response inside the
    # projection is not linear in the patch, so it has no form on the weight path convolutions use
    unsupported = [
        (name, value)
        for name, value, default in (
            ("lateral.per_step", config.lateral.per_step, ()),
            ("lateral.spiking.in_projection", config.lateral.spiking.in_projection, False),
        )
        if value != default
    ]
    if unsupported:
        name, value = unsupported[0]
        raise InputError(f"{config.source}: {name}: not available for convolutional networks (network.kind: {net_cfg.kind}) (got {value!r})")
    shape = input_shape_of(net_cfg, image_shape, n_features)
    if net_cfg.kind == "resnet18":
        from neurohop.hlop.resnet import SpikingResNet18

        net: SpikingConvNet = SpikingResNet18(shape, head_sizes, net_cfg, generator, shared_head, device)
    elif net_cfg.kind == "cnn":
        net = SpikingConvNet(shape, head_sizes, net_cfg, generator, shared_head, device)
    else:
        raise InputError(f"network.kind: expected 'cnn' or 'resnet18' for a convolutional network (got {net_cfg.kind!r})")
    _check_memory(net, net_cfg, config.train.batch_size, f"{config.source}: network")
    return net
