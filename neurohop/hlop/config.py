"""Settings of HLOP continual-learning runs, read from model files such as the packaged
``neurohop/resources/models/hlop_*.yaml``.

The files use their own format, ``format: neurohop-hlop/1`` (not the network-template format
``neurohop-model/1``): four sections, ``network``, ``train``, ``lateral`` and ``methods``. Every
field is checked here; an error names the file and the dotted field. Any field can be
overridden (``--set train.epochs=2`` on the command line, or ``overrides`` in
:func:`read_config`).

This module imports neither torch nor brian2.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from neurohop.errors import CapacityError, ModelFileError
from neurohop.files import check_memory, is_finite_number, parse_yaml, read_yaml_document, suggest
from neurohop.model.io import resolve_model_path

__all__ = [
    "FORMAT",
    "TRAIN_METHODS",
    "NetworkConfig",
    "TrainConfig",
    "HebbianConfig",
    "SpikingLateralConfig",
    "LateralConfig",
    "EWCConfig",
    "ReplayConfig",
    "GPMConfig",
    "HLOPConfig",
    "read_config",
    "config_from_dict",
    "parse_override",
    "resolve_config_path",
]

FORMAT = "neurohop-hlop/1"
#: Training methods (how weight updates are computed); see :mod:`neurohop.hlop.training`.
TRAIN_METHODS: tuple[str, ...] = ("bptt", "dsr", "ottt", "fa", "ss")
#: Architectures of the classifier (``network.kind``).
NETWORK_KINDS: tuple[str, ...] = ("mlp", "cnn", "resnet18")
#: Convolutions of the ResNet-18 (stem, 16 in the blocks, 3 shortcut projections).
RESNET18_CONVS = 20


def _bad(where: str, expected: str, got: Any) -> ModelFileError:
    return ModelFileError(f"{where}: expected {expected} (got {got!r})")


#: Largest count accepted in a settings file (epochs, widths, timesteps...): a 32-bit integer.
MAX_COUNT = 2**31 - 1
#: Largest magnitude of a number in a settings file: the largest float32.
MAX_FLOAT = 3.4028234663852886e38


def _check_positive_int(where: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(where, f"an integer >= {minimum}", value)
    if value > MAX_COUNT:
        raise _bad(where, f"an integer <= {MAX_COUNT}", value)
    return value


def _check_number(where: str, value: Any, lo: float | None = None, hi: float | None = None, open_lo: bool = False) -> float:
    if not is_finite_number(value):
        raise _bad(where, "a finite number", value)
    if abs(value) > MAX_FLOAT:
        raise _bad(where, f"a number of magnitude <= {MAX_FLOAT:.3g} (the network computes in float32)", value)
    if lo is not None and (value < lo or (open_lo and value == lo)):
        raise _bad(where, f"a number {'>' if open_lo else '>='} {lo}", value)
    if hi is not None and value > hi:
        raise _bad(where, f"a number <= {hi}", value)
    return float(value)


#: Choices of the settings that tell neurohop's protocol and the reference protocol apart
#: (``hlop_pmnist.yaml`` vs ``hlop_pmnist_reference.yaml``; docs/hlop.md has the table).
RESET_MODES = ("hard", "subtract")
INPUT_MODES = ("spikes", "current")
REDUCE_MODES = ("once", "cumulative")
QUANTISERS = ("integrate", "round")
GPM_RULES = ("pmnist", "cifar")
EWC_VARIANTS = ("online", "original")
REPLAY_MODES = ("mixed", "phase")
REPLAY_SELECTIONS = ("random", "first")
#: Learning-rate schedules over the epochs of one task (``train.schedule``) or of a replay phase
#: (``methods.replay.schedule``).
LR_SCHEDULES = ("constant", "cosine")


def schedule_factor(schedule: str, warmup: int, epoch: int, epochs: int) -> float:
    """Factor of the learning rate in ``epoch`` (0-based) of ``epochs``.

    ``warmup`` epochs first rise linearly, ``(epoch + 1) / warmup``; then ``constant`` keeps 1
    and ``cosine`` decays as ``0.5 * (1 + cos(pi * (epoch - warmup) / (epochs - warmup)))``
    (1 in the first epoch after the warmup; the reference implementation's per-task schedule).
    """
    if epoch < warmup:
        return (epoch + 1) / warmup
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


def _check_choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _bad(where, f"one of {list(choices)}", value)
    return value


def _check_bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    return value


@dataclass(frozen=True)
class NetworkConfig:
    """The spiking classifier.

    Attributes
    ----------
    hidden : tuple of int
        Widths of the hidden LIF layers (neurons).
    timesteps : int
        Simulation steps per sample (the spike encoder emits this many steps).
    beta : float
        Membrane decay per step, ``v <- beta * v + W x`` (dimensionless, 0 < beta <= 1;
        ``beta = exp(-dt / tau_mem)``; 1 is a non-leaky integrate-and-fire neuron).
    v_th : float
        Firing threshold (same unit as ``W x``; spike when ``v > v_th``).
    bias : bool
        Whether layers carry a bias (trained during task 0 only).
    init_gain : float
        Weights start uniform in ``[-g / sqrt(fan_in), g / sqrt(fan_in)]``.
    surrogate : str
        Norse surrogate-gradient method for BPTT and OTTT (``super``, ``triangle``, ``tanh``, ...).
    surrogate_alpha : float
        Its sharpness parameter (ignored by ``super``).
    encoder_levels : int
        Intensity levels of the deterministic integrate-and-fire input encoder.
    reset : str
        ``hard`` (``v <- 0`` after a spike) or ``subtract`` (``v <- v - v_th``).
    train_threshold : bool
        The thresholds are trained (with the weights, during task 0 only) instead of fixed.
    input : str
        ``spikes`` (pixels through the integrate-and-fire encoder) or ``current`` (the
        normalised pixel ``(p - input_mean) / input_std`` enters as input current every step).
    input_mean, input_std : float or tuple of float
        Normalisation of ``input: current`` (ignored with spikes); convolutional networks also
        take one value per input channel (a list).
    kind : str
        Architecture: ``mlp`` (fully connected, :class:`~neurohop.hlop.network.SpikingMLP`),
        ``cnn`` (spiking convolutional network, :mod:`neurohop.hlop.conv`) or ``resnet18``
        (pre-activation spiking ResNet-18, :mod:`neurohop.hlop.resnet`). ``hidden`` are then the
        widths of fully connected LIF layers after the convolutions (may be empty).
    conv : tuple of int
        ``cnn``: output channels of each convolution (conv -> batch norm -> LIF -> pooling).
    kernel : int
        ``cnn``: square kernel size of every convolution (stride 1, padding ``kernel // 2``).
    pool : tuple of int
        ``cnn``: average-pooling factor after each convolution (1: none).
    batch_norm : bool
        Batch norm on every convolution (statistics and affine parameters learn on task 0 only,
        then stay frozen).
    width : int
        ``resnet18``: channels of the first stage (``nf``; stages have nf, 2nf, 4nf, 8nf).
    stem_kernel, stem_stride : int
        ``resnet18``: square kernel (odd; padding ``kernel // 2``) and stride of the first
        convolution.
    final_pool : int
        ``resnet18``: the last feature maps are average-pooled to ``final_pool x final_pool``
        (the heads see ``8 nf final_pool^2`` inputs).
    input_shape : tuple of int or None
        ``(channels, height, width)`` of a sample; None: the data set's own image shape.
    patches : int
        Patches sampled per image and convolution for the lateral circuits and their
        diagnostics (0: every output position). Bounds the cost of lateral learning.
    """

    hidden: tuple[int, ...] = (400, 400)
    timesteps: int = 10
    beta: float = 0.9
    v_th: float = 1.0
    bias: bool = False
    init_gain: float = 1.0
    surrogate: str = "super"
    surrogate_alpha: float = 100.0
    encoder_levels: int = 255
    reset: str = "hard"
    train_threshold: bool = False
    input: str = "spikes"
    input_mean: float | tuple[float, ...] = 0.0
    input_std: float | tuple[float, ...] = 1.0
    # convolutional architectures (neurohop.hlop.conv, neurohop.hlop.resnet)
    kind: str = "mlp"
    conv: tuple[int, ...] = ()
    kernel: int = 3
    pool: tuple[int, ...] = ()
    batch_norm: bool = True
    width: int = 20
    stem_kernel: int = 3
    stem_stride: int = 1
    final_pool: int = 2
    input_shape: tuple[int, ...] | None = None
    patches: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple) or (not self.hidden and self.kind == "mlp"):
            raise _bad("network.hidden", "a non-empty list of layer widths", self.hidden)
        for i, h in enumerate(self.hidden):
            _check_positive_int(f"network.hidden[{i}]", h)
        _check_positive_int("network.timesteps", self.timesteps)
        _check_number("network.beta", self.beta, 0.0, 1.0, open_lo=True)
        _check_number("network.v_th", self.v_th, 0.0, open_lo=True)
        if not isinstance(self.bias, bool):
            raise _bad("network.bias", "true or false", self.bias)
        _check_number("network.init_gain", self.init_gain, 0.0, open_lo=True)
        if self.surrogate not in ("super", "triangle", "tanh", "circ", "heavi_erfc"):
            raise _bad("network.surrogate", "one of ['super', 'triangle', 'tanh', 'circ', 'heavi_erfc']", self.surrogate)
        _check_number("network.surrogate_alpha", self.surrogate_alpha, 0.0, open_lo=True)
        _check_positive_int("network.encoder_levels", self.encoder_levels)
        _check_choice("network.reset", self.reset, RESET_MODES)
        _check_bool("network.train_threshold", self.train_threshold)
        _check_choice("network.input", self.input, INPUT_MODES)
        for name, lo in (("input_mean", None), ("input_std", 0.0)):
            value = getattr(self, name)
            if isinstance(value, tuple):
                if self.kind == "mlp" or not value:
                    expected = "a number" if self.kind == "mlp" else "a number or a non-empty list, one per input channel"
                    raise _bad(f"network.{name}", expected, list(value))
                for i, v in enumerate(value):
                    _check_number(f"network.{name}[{i}]", v, lo, open_lo=lo is not None)
            else:
                _check_number(f"network.{name}", value, lo, open_lo=lo is not None)
        self._check_conv()

    def _check_conv(self) -> None:
        if self.kind not in NETWORK_KINDS:
            raise _bad("network.kind", f"one of {list(NETWORK_KINDS)}", self.kind)
        if self.kind == "cnn":
            if not isinstance(self.conv, tuple) or not self.conv:
                raise _bad("network.conv", "a non-empty list of channel counts (network.kind: cnn)", self.conv)
            if not isinstance(self.pool, tuple) or len(self.pool) != len(self.conv):
                raise _bad("network.pool", f"{len(self.conv)} pooling factors, one per convolution", self.pool)
        for name in ("conv", "pool"):
            for i, v in enumerate(getattr(self, name)):
                _check_positive_int(f"network.{name}[{i}]", v)
        _check_positive_int("network.kernel", self.kernel)
        if self.kernel % 2 == 0:
            raise _bad("network.kernel", "an odd kernel size (padding kernel // 2 keeps the image size)", self.kernel)
        if not isinstance(self.batch_norm, bool):
            raise _bad("network.batch_norm", "true or false", self.batch_norm)
        _check_positive_int("network.width", self.width)
        _check_positive_int("network.stem_kernel", self.stem_kernel)
        if self.stem_kernel % 2 == 0:
            raise _bad("network.stem_kernel", "an odd kernel size", self.stem_kernel)
        _check_positive_int("network.stem_stride", self.stem_stride)
        _check_positive_int("network.final_pool", self.final_pool)
        if self.input_shape is not None:
            if not isinstance(self.input_shape, tuple) or len(self.input_shape) != 3:
                raise _bad("network.input_shape", "[channels, height, width] or null", self.input_shape)
            for i, v in enumerate(self.input_shape):
                _check_positive_int(f"network.input_shape[{i}]", v)
        _check_positive_int("network.patches", self.patches, minimum=0)

    @property
    def n_projected(self) -> int:
        """Projected layers (entries of every per-layer list): weight layers, then the shared head."""
        if self.kind == "cnn":
            return len(self.conv) + len(self.hidden) + 1
        if self.kind == "resnet18":
            return RESNET18_CONVS + len(self.hidden) + 1
        return len(self.hidden) + 1


@dataclass(frozen=True)
class TrainConfig:
    """How each task is learned (plain SGD with momentum; Adam would break the projection).

    Attributes
    ----------
    epochs : int
        Passes over each task's training set.
    batch_size : int
        Samples per update.
    lr : dict
        Learning rate per training method (keys from :data:`TRAIN_METHODS`).
    momentum : float
        SGD momentum (a sum of projected gradients stays projected).
    eval_batch_size : int
        Samples per evaluation batch.
    projection_path : str
        ``auto`` (cheaper of the two), ``input`` (project the presynaptic trace) or ``weight``
        (project the weight gradient); both give the same update.
    schedule : str
        Learning rate over the epochs of every task: ``constant`` or ``cosine`` (a fresh
        schedule per task, see :func:`schedule_factor`).
    warmup : int
        Epochs of linear warm-up at the start of every task (0: none).
    lr_continual : dict or None
        Learning rate per training method for tasks 1, 2, ... (None: ``lr`` for every task).
    """

    epochs: int = 3
    batch_size: int = 32
    lr: Mapping[str, float] = field(default_factory=lambda: {m: 0.05 for m in TRAIN_METHODS})
    momentum: float = 0.9
    eval_batch_size: int = 1000
    projection_path: str = "auto"
    schedule: str = "constant"
    warmup: int = 0
    lr_continual: Mapping[str, float] | None = None

    def base_lr(self, method: str, task: int) -> float:
        """Learning rate of training method ``method`` for task ``task``, before the schedule."""
        return (self.lr if task == 0 or self.lr_continual is None else self.lr_continual)[method]

    def lr_at(self, method: str, task: int, epoch: int) -> float:
        """Learning rate of training method ``method`` in ``epoch`` (0-based) of task ``task``."""
        return self.base_lr(method, task) * schedule_factor(self.schedule, self.warmup, epoch, self.epochs)

    def __post_init__(self) -> None:
        _check_positive_int("train.epochs", self.epochs)
        _check_positive_int("train.batch_size", self.batch_size)
        _check_positive_int("train.eval_batch_size", self.eval_batch_size)
        _check_number("train.momentum", self.momentum, 0.0, 0.999)
        for name in ("lr", "lr_continual"):
            lr = getattr(self, name)
            if lr is None and name == "lr_continual":
                continue
            if not isinstance(lr, Mapping):
                raise _bad(f"train.{name}", "a number or a mapping method -> number", lr)
            for key, value in lr.items():
                if key not in TRAIN_METHODS:
                    raise _bad(f"train.{name}.{key}", f"a training method in {list(TRAIN_METHODS)}", key)
                _check_number(f"train.{name}.{key}", value, 0.0, open_lo=True)
            missing = [m for m in TRAIN_METHODS if m not in lr]
            if missing:
                raise _bad(f"train.{name}", f"a learning rate for every method {list(TRAIN_METHODS)}", f"missing {missing}")
        _check_choice("train.schedule", self.schedule, LR_SCHEDULES)
        _check_positive_int("train.warmup", self.warmup, minimum=0)
        if self.projection_path not in ("auto", "input", "weight"):
            raise _bad("train.projection_path", "'auto', 'input' or 'weight'", self.projection_path)


@dataclass(frozen=True)
class HebbianConfig:
    """Oja subspace rule of the lateral circuits.

    Attributes
    ----------
    lr : tuple of float
        Hebbian learning rate per projected layer (dimensionless step per unit activity^2).
    momentum : float
        ``v <- momentum * v + (1 - momentum) * dH``.
    clamp : float
        Entries of ``dH`` are clamped to ``[-clamp, clamp]``.
    iterations : int
        Hebbian iterations per batch.
    epochs : int
        Passes over the task's activity after the task has been learned.
    batch_size : int
        Activity rows per Hebbian batch.
    lr_decay : bool
        Decay the learning rate linearly to a tenth over the task's Hebbian batches (the rows
        settle nearer the fixed point; not in the paper).
    """

    lr: tuple[float, ...] = (0.001, 0.01, 0.01)
    momentum: float = 0.9
    clamp: float = 10.0
    iterations: int = 5
    epochs: int = 3
    batch_size: int = 64
    lr_decay: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lr, tuple) or not self.lr:
            raise _bad("lateral.hebbian.lr", "a list of learning rates, one per projected layer", self.lr)
        for i, v in enumerate(self.lr):
            _check_number(f"lateral.hebbian.lr[{i}]", v, 0.0, open_lo=True)
        _check_number("lateral.hebbian.momentum", self.momentum, 0.0, 0.999)
        _check_number("lateral.hebbian.clamp", self.clamp, 0.0, open_lo=True)
        _check_positive_int("lateral.hebbian.iterations", self.iterations)
        _check_positive_int("lateral.hebbian.epochs", self.epochs)
        _check_positive_int("lateral.hebbian.batch_size", self.batch_size)
        if not isinstance(self.lr_decay, bool):
            raise _bad("lateral.hebbian.lr_decay", "true or false", self.lr_decay)


@dataclass(frozen=True)
class SpikingLateralConfig:
    """Spiking lateral neurons: ``y`` becomes signed spike counts of integrate-and-fire neurons.

    Attributes
    ----------
    enabled : bool
        Use spike counts instead of the rate response ``y = H x``.
    timesteps : int
        Steps ``T_h`` the lateral neurons integrate their input current ``H x``.
    saturation : int
        Counts are clipped to ``[-saturation, saturation]``.
    range : float or None
        ``|y|`` represented by a saturated count (same unit as ``H x``); the threshold is
        ``range * timesteps / saturation``. None ('auto'): the largest ``||x||`` of the task's
        activity, so that unit-norm rows never saturate.
    dither : bool
        Start each lateral neuron at a random potential in ``[0, threshold)`` (from the run's
        generator), which makes counts unbiased; otherwise start at 0 (counts truncate).
    quantiser : str
        ``integrate`` (the integrate-and-fire counts above, clipped at ``saturation``) or
        ``round`` (the reference's deterministic rounding ``round(clamp(y, +-range) / range *
        timesteps) / timesteps * range``; ``saturation`` and ``dither`` are then unused).
    in_projection : bool
        The gradient projection uses the quantised response too, ``x - q(x H^T) H``, instead
        of the exact ``x - (x H^T) H``.
    """

    enabled: bool = False
    timesteps: int = 40
    saturation: int = 20
    range: float | None = None
    dither: bool = True
    quantiser: str = "integrate"
    in_projection: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _bad("lateral.spiking.enabled", "true or false", self.enabled)
        _check_positive_int("lateral.spiking.timesteps", self.timesteps)
        _check_positive_int("lateral.spiking.saturation", self.saturation)
        if self.saturation > self.timesteps:
            raise _bad("lateral.spiking.saturation", f"at most timesteps ({self.timesteps})", self.saturation)
        if self.range is not None:
            _check_number("lateral.spiking.range", self.range, 0.0, open_lo=True)
        if not isinstance(self.dither, bool):
            raise _bad("lateral.spiking.dither", "true or false", self.dither)
        _check_choice("lateral.spiking.quantiser", self.quantiser, QUANTISERS)
        _check_bool("lateral.spiking.in_projection", self.in_projection)
        if self.in_projection and not self.enabled:
            raise _bad("lateral.spiking.in_projection", "false when lateral.spiking.enabled is false", self.in_projection)
        if self.in_projection and self.range is None:
            raise _bad("lateral.spiking.range", "a number (not 'auto') when lateral.spiking.in_projection is true", "auto")


@dataclass(frozen=True)
class LateralConfig:
    """Lateral circuits: how many lateral neurons each projected layer gets per task.

    Projected layers are the hidden layers followed by the shared output head (the last entry
    of every per-layer list; unused with task-incremental heads, which are never shared).

    Attributes
    ----------
    first : tuple of int
        Lateral neurons added for task 0, per projected layer.
    increment : tuple of int
        Added for each later task.
    reduce_at : tuple of int
        Tasks at which ``reduce_by`` fewer are added.
    reduce_by : tuple of int
        How many fewer, per projected layer.
    hebbian : HebbianConfig
    spiking : SpikingLateralConfig
    orthogonal_init : bool
        New rows start orthonormal among themselves and orthogonal to the frozen rows (else only
        among themselves, as in the paper).
    eig_warn : float
        Warn when the largest eigenvalue of ``H^T H`` exceeds this (``I - H^T H`` amplifies above 2).
    reduce_mode : str
        ``once``: ``reduce_by`` fewer rows only at the tasks of ``reduce_at``; ``cumulative``:
        the increment is cut by ``reduce_by`` for good at each of them (the reference schedule).
    during_training : bool
        The task's new rows learn during its training, ``hebbian.iterations`` updates on the
        presynaptic activity of every training batch (the reference), instead of a separate
        phase of ``hebbian.epochs`` passes after the task.
    per_step : tuple of str
        Training methods whose lateral rows learn on the activity of every time step (one row
        per sample and step) instead of the mean rate over the steps; YAML ``true`` means all.
    """

    first: tuple[int, ...] = (80, 200, 100)
    increment: tuple[int, ...] = (70, 70, 70)
    reduce_at: tuple[int, ...] = (3, 6, 9)
    reduce_by: tuple[int, ...] = (20, 20, 20)
    hebbian: HebbianConfig = field(default_factory=HebbianConfig)
    spiking: SpikingLateralConfig = field(default_factory=SpikingLateralConfig)
    orthogonal_init: bool = True
    eig_warn: float = 1.8
    reduce_mode: str = "once"
    during_training: bool = False
    per_step: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.first)
        for name in ("first", "increment", "reduce_by"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or len(values) != n or n == 0:
                raise _bad(f"lateral.{name}", f"a list of {n or 'one or more'} integers, one per projected layer", values)
            for i, v in enumerate(values):
                _check_positive_int(f"lateral.{name}[{i}]", v, minimum=0)
        for i, t in enumerate(self.reduce_at):
            _check_positive_int(f"lateral.reduce_at[{i}]", t, minimum=1)
        if len(self.hebbian.lr) != n:
            raise _bad("lateral.hebbian.lr", f"{n} learning rates, one per projected layer", list(self.hebbian.lr))
        if not isinstance(self.orthogonal_init, bool):
            raise _bad("lateral.orthogonal_init", "true or false", self.orthogonal_init)
        _check_number("lateral.eig_warn", self.eig_warn, 1.0, open_lo=True)
        _check_choice("lateral.reduce_mode", self.reduce_mode, REDUCE_MODES)
        _check_bool("lateral.during_training", self.during_training)
        if self.during_training and self.hebbian.lr_decay:
            raise _bad("lateral.hebbian.lr_decay", "false when lateral.during_training is true (the decay spans a separate phase)", True)
        if not isinstance(self.per_step, tuple):
            raise _bad("lateral.per_step", f"true, false or a list of training methods from {list(TRAIN_METHODS)}", self.per_step)
        for i, m in enumerate(self.per_step):
            if m not in TRAIN_METHODS:
                raise _bad(f"lateral.per_step[{i}]", f"a training method in {list(TRAIN_METHODS)}", m)

    def rows(self, layer: int, task: int) -> int:
        """Lateral neurons added to projected layer ``layer`` for task ``task``."""
        if task == 0:
            return self.first[layer]
        if self.reduce_mode == "cumulative":
            cuts = sum(1 for r in self.reduce_at if r <= task)
        else:
            cuts = 1 if task in self.reduce_at else 0
        k = self.increment[layer] - cuts * self.reduce_by[layer]
        return max(k, 0)

    def total_rows(self, layer: int, n_tasks: int) -> int:
        """Lateral neurons in ``layer`` after ``n_tasks`` tasks."""
        return sum(self.rows(layer, t) for t in range(n_tasks))

    def check_capacity(self, widths: tuple[int, ...], names: tuple[str, ...], n_tasks: int, source: str = "lateral") -> None:
        """Raise :class:`CapacityError` if a layer would get more lateral neurons than its width.

        ``widths`` are the input widths of the projected layers (fewer than the schedule's entries
        when the head is not shared).
        """
        if len(widths) > len(self.first):
            raise CapacityError(
                f"{source}: first: expected {len(widths)} entries, one per projected layer {list(names)} (got {len(self.first)})"
            )
        for i, (w, name) in enumerate(zip(widths, names)):
            total = self.total_rows(i, n_tasks)
            if total > w:
                raise CapacityError(
                    f"{source}: layer {name}: expected at most {w} lateral neurons (its input width) after {n_tasks} tasks "
                    f"(got {total} = first {self.first[i]} + increments); lower lateral.first/increment or use fewer tasks"
                )


@dataclass(frozen=True)
class EWCConfig:
    """Elastic weight consolidation: penalty ``lambda / 2 * sum F (theta - theta*)^2``.

    Attributes
    ----------
    lam : float
        Penalty strength (``lambda`` in the file).
    fisher_samples : int
        Samples per task for the diagonal empirical Fisher (one gradient per sample).
    variant : str
        ``online``: one penalty around the latest parameters with the Fisher summed over tasks
        (online EWC); ``original``: one penalty per finished task, each with that task's Fisher
        and parameters (Kirkpatrick et al. 2017).
    max_stiffness : float or str
        Cap on the penalty's curvature ``lambda * F`` per weight (summed over the penalties).
        Plain SGD with momentum ``mu`` and rate ``lr`` diverges on a quadratic whose curvature
        exceeds ``2 (1 + mu) / lr``; the Fisher summed over tasks grows until it does, and the
        network then collapses to chance. ``auto``: half that limit, ``(1 + mu) / lr``, for the
        run's rate and momentum; a number: that cap; ``none``: no cap (a diagnostics warning
        says when the limit is passed). The weights at the cap are counted per task in the
        run's diagnostics (``ewc``).
    """

    lam: float = 1000.0
    fisher_samples: int = 300
    variant: str = "online"
    max_stiffness: float | str = "auto"

    def __post_init__(self) -> None:
        _check_number("methods.ewc.lambda", self.lam, 0.0)
        _check_positive_int("methods.ewc.fisher_samples", self.fisher_samples)
        _check_choice("methods.ewc.variant", self.variant, EWC_VARIANTS)
        if isinstance(self.max_stiffness, str):
            if self.max_stiffness not in ("auto", "none"):
                raise _bad("methods.ewc.max_stiffness", "'auto', 'none' or a number > 0", self.max_stiffness)
        else:
            _check_number("methods.ewc.max_stiffness", self.max_stiffness, 0.0, open_lo=True)


@dataclass(frozen=True)
class ReplayConfig:
    """Experience replay with a fixed memory per class and task.

    Attributes
    ----------
    per_class : int
        Stored samples per class of each task.
    batch_size : int
        Memory samples mixed into every update (``mixed``), or per update of the phase.
    mode : str
        ``mixed``: memory samples join every batch from task 1 on; ``phase``: after each task
        from task 1 on, a separate training phase on the whole memory (the reference).
    phase_epochs : int
        Passes over the memory in a ``phase``.
    lr : float or None
        ``phase``: SGD learning rate of the phase (None: the task's ``train.lr``, constant).
    schedule : str
        ``phase``: ``constant`` or ``cosine`` over the ``phase_epochs`` (cosine annealing to 0,
        ``0.5 * (1 + cos(pi * epoch / phase_epochs))``, no warm-up).
    per_task : bool
        ``phase``: every update takes ``batch_size`` samples from the memory of *each* finished
        task (the same positions in each) and sums the tasks' mean losses (the reference);
        otherwise ``batch_size`` samples from the whole memory and their mean loss.
    projected : bool
        ``phase``: projection methods project the phase's updates like the task's (neurohop);
        false: the phase's updates are not projected (the reference).
    selection : str
        Which samples of a class the memory keeps: ``random`` (drawn from the run's memory
        generator) or ``first`` (the first ``per_class`` in the task's training order, the
        reference).
    """

    per_class: int = 10
    batch_size: int = 32
    mode: str = "mixed"
    phase_epochs: int = 1
    lr: float | None = None
    schedule: str = "constant"
    per_task: bool = False
    projected: bool = True
    selection: str = "random"

    def __post_init__(self) -> None:
        _check_positive_int("methods.replay.per_class", self.per_class)
        _check_positive_int("methods.replay.batch_size", self.batch_size)
        _check_choice("methods.replay.mode", self.mode, REPLAY_MODES)
        _check_positive_int("methods.replay.phase_epochs", self.phase_epochs)
        if self.lr is not None:
            _check_number("methods.replay.lr", self.lr, 0.0, open_lo=True)
        _check_choice("methods.replay.schedule", self.schedule, LR_SCHEDULES)
        _check_bool("methods.replay.per_task", self.per_task)
        _check_bool("methods.replay.projected", self.projected)
        _check_choice("methods.replay.selection", self.selection, REPLAY_SELECTIONS)

    def phase_lr(self, task_lr: float, epoch: int) -> float:
        """Learning rate in ``epoch`` (0-based) of a phase; ``task_lr`` when ``lr`` is None."""
        base = task_lr if self.lr is None else self.lr
        return base * schedule_factor(self.schedule, 0, epoch, self.phase_epochs)


@dataclass(frozen=True)
class GPMConfig:
    """Gradient projection memory: SVD bases kept up to an energy threshold.

    Attributes
    ----------
    threshold : tuple of float
        Fraction of activity energy to keep, per projected layer, for task 0.
    threshold_step : float
        With ``rule: cifar``, added to every threshold for each later task (capped at 1).
    rule : str
        ``pmnist`` (GPM's rule for permuted MNIST: the same threshold for every task) or
        ``cifar`` (GPM's rule for CIFAR: ``threshold + task * threshold_step``).
    """

    threshold: tuple[float, ...] = (0.95, 0.99, 0.99)
    threshold_step: float = 0.003
    rule: str = "cifar"

    def threshold_at(self, layer: int, task: int) -> float:
        """Energy threshold of projected layer ``layer`` for task ``task``."""
        step = self.threshold_step if self.rule == "cifar" else 0.0
        return min(1.0, self.threshold[layer] + task * step)

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, tuple) or not self.threshold:
            raise _bad("methods.gpm.threshold", "a list of fractions, one per projected layer", self.threshold)
        for i, v in enumerate(self.threshold):
            _check_number(f"methods.gpm.threshold[{i}]", v, 0.0, 1.0, open_lo=True)
        _check_number("methods.gpm.threshold_step", self.threshold_step, 0.0, 1.0)
        _check_choice("methods.gpm.rule", self.rule, GPM_RULES)


@dataclass(frozen=True)
class HLOPConfig:
    """All settings of one run (the parsed model file plus overrides)."""

    name: str = "hlop"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    lateral: LateralConfig = field(default_factory=LateralConfig)
    ewc: EWCConfig = field(default_factory=EWCConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    gpm: GPMConfig = field(default_factory=GPMConfig)
    source: str = "<defaults>"
    #: Settings of registered methods that declare their own section (``methods.<section>``),
    #: by section name (see :class:`neurohop.hlop.methods.ContinualMethod.settings_class`).
    method_settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_proj = self.network.n_projected
        if len(self.lateral.first) != n_proj:
            layers = f"hidden layers {list(self.network.hidden)}" if self.network.kind == "mlp" else f"the {self.network.kind}'s weight layers"
            raise ModelFileError(
                f"{self.source}: lateral.first: expected {n_proj} entries ({layers} "
                f"and the shared head) (got {len(self.lateral.first)})"
            )
        if len(self.gpm.threshold) != n_proj:
            raise ModelFileError(f"{self.source}: methods.gpm.threshold: expected {n_proj} entries (got {len(self.gpm.threshold)})")
        if self.network.kind == "mlp":  # convolutional networks are checked when built (they need the image size)
            check_network_memory(self.network, self.train.batch_size, n_inputs=1, n_outputs=2, where=f"{self.source}: network.hidden")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly nested dictionary (the run's full settings)."""
        return asdict(self)


#: Bytes per weight (float32 value, gradient, momentum and a projected copy) and per neuron
#: state kept for a training batch (membrane, spikes, surrogate inputs over all timesteps),
#: used to check that a classifier fits in memory before it is built.
WEIGHT_BYTES = 16
STATE_BYTES = 12


def check_network_memory(net: NetworkConfig, batch_size: int, n_inputs: int, n_outputs: int, where: str) -> None:
    """Refuse a classifier whose weights and training states would not fit in memory.

    The estimate counts the weights ``n_inputs x hidden[0] + hidden[0] x hidden[1] + ... +
    hidden[-1] x n_outputs`` at :data:`WEIGHT_BYTES` each, and ``batch_size x timesteps x
    sum(hidden)`` neuron states at :data:`STATE_BYTES` each, and compares the total with the
    memory available (:func:`neurohop.files.check_memory`); nothing is allocated.
    """
    widths = (int(n_inputs), *(int(h) for h in net.hidden), int(n_outputs))
    weights = sum(a * b for a, b in zip(widths, widths[1:]))
    states = int(batch_size) * int(net.timesteps) * sum(int(h) for h in net.hidden)
    check_memory(
        float(weights) * WEIGHT_BYTES + float(states) * STATE_BYTES,
        f"a classifier of hidden widths {list(net.hidden)} ({weights:.3g} weights, {states:.3g} neuron states per batch)",
        where,
    )


def resolve_config_path(path: str | os.PathLike[str]) -> Path:
    """A path, or a bare name on the search path (``NEUROHOP_PATH``, then the packaged models)."""
    return resolve_model_path(path, what="HLOP model file")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.field=value`` (value in YAML syntax) into a (key, value) pair."""
    if "=" not in text:
        raise ModelFileError(f"overrides: {text!r}: expected KEY=VALUE, e.g. train.epochs=2")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ModelFileError(f"overrides: {text!r}: expected a field name before '='")
    value = parse_yaml(raw, f"overrides: {text!r}", error=ModelFileError) if raw.strip() else None
    return key, value


_SECTIONS = {"network", "train", "lateral", "methods"}
_TOP = {"format", "name", "description", "reference", "notes"} | _SECTIONS


def _apply_override(doc: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    if parts[0] not in _SECTIONS:
        raise ModelFileError(f"{source}: override {key}: expected a field under one of {sorted(_SECTIONS)}")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ModelFileError(f"{source}: override {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def _tuple(value: Any, where: str) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise _bad(where, "a list", value)


def _build(
    cls: type,
    doc: Any,
    where: str,
    source: str,
    convert: Mapping[str, Any] | None = None,
    rename: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ModelFileError(f"{source}: {where}: expected a mapping (got {doc!r})")
    rename = dict(rename or {})
    extra = dict(extra or {})
    names = {f for f in cls.__dataclass_fields__ if cls.__dataclass_fields__[f].init and f not in extra}
    accepted = {rename.get(n, n) for n in names}
    kwargs: dict[str, Any] = dict(extra)
    inverse = {v: k for k, v in rename.items()}
    for key, value in doc.items():
        if key not in accepted:
            raise ModelFileError(f"{source}: {where}.{key}: unknown field{suggest(str(key), accepted)} (expected one of {sorted(accepted)})")
        attr = inverse.get(key, key)
        if convert and attr in convert:
            try:
                value = convert[attr](value, f"{where}.{key}")
            except ModelFileError as exc:
                raise ModelFileError(f"{source}: {exc}") from None
        kwargs[attr] = value
    try:
        return cls(**kwargs)
    except ModelFileError as exc:
        raise ModelFileError(f"{source}: {exc}") from None


def _optional_tuple(value: Any, where: str) -> tuple[Any, ...] | None:
    return None if value is None else _tuple(value, where)


def _lr_map(value: Any, where: str) -> Mapping[str, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {m: float(value) for m in TRAIN_METHODS}
    if isinstance(value, Mapping):
        out = {m: value.get("default") for m in TRAIN_METHODS}
        for k, v in value.items():
            if k != "default":
                out[k] = v
        return {k: v for k, v in out.items() if v is not None}
    raise _bad(where, "a number or a mapping method -> number", value)


def _optional_lr_map(value: Any, where: str) -> Mapping[str, float] | None:
    return None if value is None else _lr_map(value, where)


def _number_or_tuple(value: Any, where: str) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _per_step(value: Any, where: str) -> tuple[str, ...]:
    if value is True:
        return TRAIN_METHODS
    if value in (False, None):
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise _bad(where, f"true, false or a list of training methods from {list(TRAIN_METHODS)}", value)


def _range(value: Any, where: str) -> float | None:
    return None if value in (None, "auto") else value


def config_from_dict(doc: Mapping[str, Any], source: str = "<dict>", overrides: Mapping[str, Any] | None = None) -> HLOPConfig:
    """Build and check an :class:`HLOPConfig` from a parsed model file (plus dotted overrides)."""
    if not isinstance(doc, Mapping):
        raise ModelFileError(f"{source}: expected a mapping at the top level (got {type(doc).__name__})")
    doc = copy.deepcopy(dict(doc))
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ModelFileError(f"{source}: format: expected {FORMAT!r} (got {fmt!r})")
    for key in doc:
        if key not in _TOP:
            raise ModelFileError(f"{source}: {key}: unknown section{suggest(str(key), _TOP)} (expected one of {sorted(_TOP)})")
    for key, value in (overrides or {}).items():
        _apply_override(doc, key, value, source)
    net = _build(
        NetworkConfig,
        doc.get("network"),
        "network",
        source,
        convert={"hidden": _tuple, "conv": _tuple, "pool": _tuple, "input_shape": _optional_tuple, "input_mean": _number_or_tuple, "input_std": _number_or_tuple},
    )
    train = _build(TrainConfig, doc.get("train"), "train", source, convert={"lr": _lr_map, "lr_continual": _optional_lr_map})
    if not isinstance(doc.get("lateral") or {}, Mapping):
        raise ModelFileError(f"{source}: lateral: expected a mapping (got {doc.get('lateral')!r})")
    lat = dict(doc.get("lateral") or {})
    hebb = _build(HebbianConfig, lat.pop("hebbian", None), "lateral.hebbian", source, convert={"lr": _tuple})
    spk = _build(SpikingLateralConfig, lat.pop("spiking", None), "lateral.spiking", source, convert={"range": _range})
    lateral = _build(
        LateralConfig,
        lat,
        "lateral",
        source,
        convert={"first": _tuple, "increment": _tuple, "reduce_at": _tuple, "reduce_by": _tuple, "per_step": _per_step},
        extra={"hebbian": hebb, "spiking": spk},
    )
    methods = doc.get("methods") or {}
    if not isinstance(methods, Mapping):
        raise ModelFileError(f"{source}: methods: expected a mapping")
    from neurohop.hlop.methods import METHODS  # torch-free

    own = {c.settings_section: c.settings_class for c in METHODS.values() if c.settings_section and c.settings_class is not None}
    known = ("ewc", "gpm", "replay", *sorted(own))
    for key in methods:
        if key not in known:
            raise ModelFileError(f"{source}: methods.{key}: unknown section{suggest(str(key), known)} (expected one of {list(known)})")
    ewc = _build(EWCConfig, methods.get("ewc"), "methods.ewc", source, rename={"lam": "lambda"})
    replay = _build(ReplayConfig, methods.get("replay"), "methods.replay", source)
    gpm = _build(GPMConfig, methods.get("gpm"), "methods.gpm", source, convert={"threshold": _tuple})
    name = doc.get("name", Path(source).stem)
    method_settings = {sec: _build(cls, methods.get(sec), f"methods.{sec}", source) for sec, cls in sorted(own.items())}
    return HLOPConfig(str(name), net, train, lateral, ewc, replay, gpm, source, method_settings)


def read_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> HLOPConfig:
    """Read a ``neurohop-hlop/1`` model file (a path, or a packaged or ``NEUROHOP_PATH`` model name).

    Parameters
    ----------
    path : str or path-like
        File, or bare name such as ``"hlop_pmnist"``.
    overrides : mapping, optional
        Dotted field -> value, e.g. ``{"train.epochs": 2}``.
    """
    p = resolve_config_path(path)
    return config_from_dict(read_yaml_document(p), str(p), overrides)
