"""Continual-learning methods: one protocol, one registry, one file per method.

A method is a subclass of :class:`ContinualMethod` decorated with :func:`register`; the
runner (:func:`neurohop.hlop.runner.run_continual`) calls only the hooks below, in this
order, and never asks which method it runs:

1. ``__init__(context)`` -- before anything trains (check capacity, build the parts).
2. per task ``t``: :meth:`~ContinualMethod.before_task`; then for every batch
   :meth:`~ContinualMethod.extend_batch` (add memory samples), the training method's loss with
   :meth:`~ContinualMethod.input_bases` (input-path projection), plus
   :meth:`~ContinualMethod.penalty`; after ``backward``, :meth:`~ContinualMethod.transform_gradient`
   (weight-path projection), then the optimiser step; after the last batch
   :meth:`~ContinualMethod.after_task` (learn lateral rows, consolidate, store memories).
3. evaluation with :meth:`~ContinualMethod.evaluation_bases` (residual of the test activity).

``joint = True`` asks the runner to train once on all tasks together (the multitask bound).
Checkpoints hold :meth:`~ContinualMethod.state_dict`; the result holds
:meth:`~ContinualMethod.diagnostics` and :meth:`~ContinualMethod.lateral`.

Adding a method is one file in this package (it is found by :data:`METHODS` on import),
its settings included::

    @dataclass(frozen=True)
    class MineSettings:
        strength: float = 1.0

    @register
    class MyMethod(ContinualMethod):
        name = "mine"
        settings = ("methods.mine",)
        settings_section, settings_class = "mine", MineSettings
        def penalty(self, net): ...  # self.context.config.method_settings["mine"].strength

Method modules import no torch at module level (the command line lists the methods without
loading torch); they import the working parts (:mod:`neurohop.hlop.parts`) when built.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from neurohop.errors import InputError

if TYPE_CHECKING:  # torch is imported only when a method is built
    import numpy as np
    import torch

    from neurohop.data.tasks import Task
    from neurohop.hlop.config import HLOPConfig
    from neurohop.hlop.network import SpikingMLP

__all__ = ["ContinualMethod", "MethodContext", "Combined", "METHODS", "register", "method_class", "build_method"]


@dataclass
class MethodContext:
    """What a method may use: the run's settings, network, generators and two helpers.

    Attributes
    ----------
    config : HLOPConfig
    net : SpikingMLP
    trainer : Trainer
        The training method (its ``loss`` and ``trace_rows_per_sample``).
    n_tasks : int
    lateral_generator : torch.Generator
        Source of lateral rows' initial weights, Hebbian batch order, dither.
    order_rng, memory_rng : numpy.random.Generator
        Batch order / sample choice, and memory selection.
    sample_loss : callable
        ``sample_loss(t, row)``: the training loss of one training sample of task ``t``.
    activity : callable
        ``activity(task, per_step=False)``: presynaptic firing rates of each projected layer on
        the task's training set, or with ``per_step`` its activity at every step, one row per
        sample and step (:func:`neurohop.hlop.runner.collect_activity`).
    label_offset : callable
        ``label_offset(task)``: what is added to the task's labels in its head.
    """

    config: HLOPConfig
    net: SpikingMLP
    trainer: Any
    n_tasks: int
    lateral_generator: torch.Generator
    order_rng: np.random.Generator
    memory_rng: np.random.Generator
    sample_loss: Callable[[int, int], torch.Tensor]
    activity: Callable[..., list[torch.Tensor]]
    label_offset: Callable[[Task], int]


class ContinualMethod:
    """A continual-learning method; every hook has a neutral default (plain fine-tuning).

    Class attributes
    ----------------
    name : str
        The name the runner and the command line accept.
    settings : tuple of str
        The model-file sections the method reads (``lateral``, ``methods.ewc`` ...).
    summary : str
        One line for listings.
    joint : bool
        Train once on all tasks together instead of task after task.
    settings_section, settings_class : str and dataclass type, optional
        A section of its own, ``methods.<settings_section>`` in the model file, read into a
        ``settings_class`` instance (validated in its ``__post_init__``; unknown fields are
        refused naming the file and field) and found at
        ``context.config.method_settings[settings_section]``.
    """

    name: ClassVar[str] = ""
    settings: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    joint: ClassVar[bool] = False
    settings_section: ClassVar[str | None] = None
    settings_class: ClassVar[type | None] = None

    def __init__(self, context: MethodContext) -> None:
        self.context = context

    def extra_rows(self) -> int:
        """Samples the method adds to every batch from task 1 on (replay)."""
        return 0

    def before_task(self, t: int, task: Task | None) -> None:
        """Called before training on task ``t`` (``task`` is None for joint training)."""

    def extend_batch(self, t: int, x: np.ndarray, y: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch to train on: features, labels in their head, head indices."""
        return x, y, heads

    def input_bases(self) -> list[torch.Tensor | None] | None:
        """Per projected layer, the basis the training method projects on the input path, or None."""
        return None

    def penalty(self, net: SpikingMLP) -> torch.Tensor | None:
        """A term added to the loss, or None."""
        return None

    def transform_gradient(self, net: SpikingMLP) -> None:
        """Change the gradients in place after ``backward`` and before the optimiser step."""

    def after_step(self, t: int) -> None:
        """Called after every optimiser step while training on task ``t`` (the training
        method's ``activity`` then holds the batch's presynaptic activity if it records it)."""

    def phase_batches(self, t: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Batches (features, labels in their head, head indices) of a training phase after
        task ``t`` (after :meth:`after_task`), trained like the task's batches; none by default."""
        return []

    def after_task(self, t: int, task: Task) -> None:
        """Called after training on task ``t``, before its evaluation."""

    def evaluation_bases(self) -> list[torch.Tensor] | None:
        """Per projected layer, the basis whose residual the evaluation reports, or None."""
        return None

    def lateral(self) -> list[torch.Tensor]:
        """The lateral weights of each projected layer (empty without lateral circuits)."""
        return []

    def diagnostics(self, residual_old: list[list[list[float]]]) -> dict[str, Any]:
        """Per-layer diagnostics; ``residual_old[i][layer][j]``: residual of task ``j`` after task ``i``."""
        return {"layers": [], "warnings": [], "projection_path": {}}

    def timings(self) -> dict[str, float]:
        """Seconds spent in the method's own work (``lateral_time_s``: learning lateral circuits)."""
        return {"lateral_time_s": 0.0}

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values that a checkpoint keeps (disjoint keys per part)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (``state`` holds the whole checkpoint)."""


class Combined(ContinualMethod):
    """Several methods at once (``parts``): hooks run in order, the first answer counts.

    Subclasses build ``self.parts`` in ``__init__``.
    """

    parts: list[ContinualMethod]

    def extra_rows(self) -> int:
        return sum(p.extra_rows() for p in self.parts)

    def before_task(self, t: int, task: Task | None) -> None:
        for p in self.parts:
            p.before_task(t, task)

    def extend_batch(self, t: int, x: np.ndarray, y: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        for p in self.parts:
            x, y, heads = p.extend_batch(t, x, y, heads)
        return x, y, heads

    def input_bases(self) -> list[torch.Tensor | None] | None:
        return next((b for b in (p.input_bases() for p in self.parts) if b is not None), None)

    def penalty(self, net: SpikingMLP) -> torch.Tensor | None:
        total = None
        for p in self.parts:
            term = p.penalty(net)
            if term is not None:
                total = term if total is None else total + term
        return total

    def transform_gradient(self, net: SpikingMLP) -> None:
        for p in self.parts:
            p.transform_gradient(net)

    def after_step(self, t: int) -> None:
        for p in self.parts:
            p.after_step(t)

    def phase_batches(self, t: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [b for p in self.parts for b in p.phase_batches(t)]

    def after_task(self, t: int, task: Task) -> None:
        for p in self.parts:
            p.after_task(t, task)

    def evaluation_bases(self) -> list[torch.Tensor] | None:
        return next((b for b in (p.evaluation_bases() for p in self.parts) if b is not None), None)

    def lateral(self) -> list[torch.Tensor]:
        return [w for p in self.parts for w in p.lateral()]

    def diagnostics(self, residual_old: list[list[list[float]]]) -> dict[str, Any]:
        out: dict[str, Any] = {"layers": [], "warnings": [], "projection_path": {}}
        for p in self.parts:
            d = p.diagnostics(residual_old)
            out["layers"] += d["layers"]
            out["warnings"] += d["warnings"]
            out["projection_path"].update(d["projection_path"])
            out.update({k: v for k, v in d.items() if k not in ("layers", "warnings", "projection_path")})  # a part's own entries
        return out

    def timings(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.parts:
            for k, v in p.timings().items():
                out[k] = out.get(k, 0.0) + v
        return out

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self.parts:
            out.update(p.state_dict())
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for p in self.parts:
            p.load_state_dict(state)


#: Registered methods by name (every module of this package registers its own on import).
METHODS: dict[str, type[ContinualMethod]] = {}


def register(cls: type[ContinualMethod]) -> type[ContinualMethod]:
    """Class decorator: add ``cls`` to :data:`METHODS` under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, ContinualMethod)):
        raise InputError(f"register: expected a ContinualMethod subclass (got {cls!r})")
    if not cls.name or not isinstance(cls.name, str):
        raise InputError(f"register: {cls.__name__}.name: expected a non-empty string (got {cls.name!r})")
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise InputError(f"register: method {cls.name!r} is already registered ({METHODS[cls.name].__name__})")
    METHODS[cls.name] = cls
    return cls


def method_class(name: str) -> type[ContinualMethod]:
    """The class of method ``name``; :class:`InputError` listing the known ones otherwise."""
    if name not in METHODS:
        raise InputError(f"method: expected one of {list(METHODS)} (got {name!r})")
    return METHODS[name]


def build_method(name: str, context: MethodContext) -> ContinualMethod:
    """An instance of method ``name`` for one run."""
    return method_class(name)(context)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
