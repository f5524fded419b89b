"""The continual-learning runner: learn a task sequence with one method, measure everything.

:func:`run_continual` trains a :class:`~neurohop.hlop.network.SpikingMLP` task after task with
a training method (:mod:`neurohop.hlop.training`) and a continual-learning method
(:mod:`neurohop.hlop.methods`), evaluates every seen task after each one (the accuracy matrix)
and returns a :class:`ContinualResult` whose :meth:`ContinualResult.to_dict` is the JSON the CLI writes.

Protocol, per task ``t`` (the continual-learning method acts only through the hooks of
:class:`~neurohop.hlop.methods.ContinualMethod`, named in brackets):

1. SGD with momentum over ``train.epochs`` passes of the task's training set [``before_task``;
   per batch ``extend_batch``, ``input_bases``, ``penalty``, then ``transform_gradient``
   between ``backward`` and the step, and ``after_step`` after it (lateral rows that learn
   during training, ``lateral.during_training``)]. From task 1 on only weight matrices train (biases of
   hidden layers and of a shared head, and all thresholds, stay as after task 0). Projection
   methods thus project every weight update orthogonal to the frozen lateral rows
   (``train.projection_path`` picks the cheaper of the equivalent input and weight paths per
   layer); EWC adds its penalty; replay mixes memory samples into each batch.
2. After training [``after_task``]: projection methods add and learn the task's lateral rows
   on the firing rates of each projected layer's input over the task's training set, then
   freeze them; EWC adds the task's Fisher information; replay stores its memory samples.
   Then a training phase on the batches of ``phase_batches``, if any (replay as a phase,
   ``methods.replay.mode: phase``), trained like the task's batches, with the phase's own
   learning rate and schedule (``methods.replay.lr``, ``schedule``), its tasks' mean losses
   summed (``per_task``) and, with ``projected: false``, without projection.
3. Evaluation of tasks ``0 .. t`` on their test sets (``A[t, j]``; entries ``j > t`` are not
   measured and stay NaN / null). With ``evaluation_bases`` (projection methods) the runner
   also records, per layer, the residual ``||x - (x H^T) H|| / ||x||`` of each seen task's
   test activity.

The learning rate of a task follows ``train.schedule`` / ``train.warmup`` over its epochs
(restarting with every task) from ``train.lr`` (task 0) or ``train.lr_continual`` (later tasks).

A method with ``joint = True`` (``multitask``) is trained once on all tasks together.

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns the generators of the initial weights,
the lateral circuits, batch order and memory selection, so two methods with the same seed start
from the same network.

Checkpoints: with ``checkpoint_dir`` the complete state after every task (network, lateral
circuits and their history, EWC and replay memories, feedback matrices, the accuracy matrix so
far, timings and the state of every random generator) is written atomically to
``checkpoint_dir/state.pt`` (tensors and plain values only, loaded with
``torch.load(weights_only=True)``). ``resume=True`` continues from it after the last finished
task; on the CPU the result is bit for bit that of an uninterrupted run. A checkpoint records
what it belongs to (method, training method, seed, every setting, the tasks and their
permutations) and is refused for any other run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from neurohop.data.tasks import Task, TaskSequence
from neurohop.errors import InputError
from neurohop.hlop.config import TRAIN_METHODS, HLOPConfig
from neurohop.hlop.methods import ContinualMethod, MethodContext, build_method, method_class
from neurohop.hlop.metrics import average_accuracy, backward_transfer, projection_residual
from neurohop.hlop.network import SpikingMLP
from neurohop.hlop.training import make_trainer

__all__ = ["ContinualResult", "run_continual", "collect_activity", "evaluate_task", "resolve_device", "clean_json", "CHECKPOINT_NAME"]

#: File name of the per-task checkpoint inside ``checkpoint_dir``.
CHECKPOINT_NAME = "state.pt"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/'auto' -> CUDA when available else CPU; an explicit device is checked."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device: expected 'cpu', 'cuda' or 'cuda:N' (got {device!r}): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device: {device!r}: expected an available CUDA device (got none: torch.cuda.is_available() is False)")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device: expected 'cpu' or 'cuda' (got {device!r})")
    return dev


@dataclass
class ContinualResult:
    """Outcome of one continual-learning run.

    Attributes
    ----------
    method, train : str
        Continual-learning and training method.
    accuracy_matrix : numpy.ndarray
        ``A[i, j]`` in percent, NaN where not measured.
    acc : float
        Mean of the last row (percent).
    bwt : float or None
        Backward transfer (percentage points); None for one task or joint training.
    wall_time_s : float
        Wall-clock seconds of the whole run (training, lateral learning, evaluation).
    task_times_s : list of float
        Seconds per task (training plus end-of-task work, without evaluation).
    diagnostics : dict
        Lateral-circuit diagnostics (see :func:`run_continual`).
    settings : dict
        Data, scenario, seed, device, timings of parts, library versions, machine.
    config : HLOPConfig
    net : SpikingMLP
        The trained classifier (not serialised by :meth:`to_dict`).
    lateral : list of torch.Tensor
        Final lateral weights ``H`` of each projected layer (empty without projection).
    """

    method: str
    train: str
    accuracy_matrix: np.ndarray
    acc: float
    bwt: float | None
    wall_time_s: float
    task_times_s: list[float]
    diagnostics: dict[str, Any]
    settings: dict[str, Any]
    config: HLOPConfig
    net: SpikingMLP = field(repr=False)
    lateral: list[torch.Tensor] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (NaN becomes None)."""
        matrix = [[None if math.isnan(v) else round(float(v), 4) for v in row] for row in self.accuracy_matrix]
        return {
            "method": self.method,
            "train": self.train,
            "acc": round(self.acc, 4),
            "bwt": None if self.bwt is None else round(self.bwt, 4),
            "accuracy_matrix": matrix,
            "wall_time_s": round(self.wall_time_s, 3),
            "task_times_s": [round(t, 3) for t in self.task_times_s],
            "diagnostics": clean_json(self.diagnostics),
            "settings": clean_json(self.settings),
            "config": clean_json(self.config.to_dict()),
        }


def clean_json(obj: Any) -> Any:
    """``obj`` with NumPy scalars as Python numbers and NaN / infinity as None (for JSON)."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) or math.isinf(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _labels(task: Task, y: np.ndarray, sequence: TaskSequence) -> np.ndarray:
    return y + task.label_offset if sequence.head == "shared" else y


@torch.no_grad()
def collect_activity(net: SpikingMLP, task: Task, split: str = "train", batch_size: int = 1000, per_step: bool = False) -> list[torch.Tensor]:
    """Firing rates at the input of every projected layer over ``split`` of ``task``.

    Returns a list aligned with :meth:`SpikingMLP.projected_layers`: input spike rates for the
    first layer, the rates of hidden layer ``l - 1`` for layer ``l``, the last hidden layer's
    rates for a shared head; each (samples, width) on the network's device. With ``per_step``
    the activity of every step instead, (samples * timesteps, width), ``timesteps`` times the
    memory.
    """
    parts: list[list[torch.Tensor]] = [[] for _ in net.projected_layers()]
    n = task.size(split)
    for b in range(0, n, batch_size):
        x, _ = task.batch(split, np.arange(b, min(n, b + batch_size)))
        spikes = net.encode(torch.from_numpy(x))
        sim = net.simulate(spikes, 0)
        if per_step:
            activity = [s.reshape(-1, s.shape[-1]) for s in [spikes, *sim.spikes][: len(parts)]]
        else:
            activity = net.projected_activity(spikes, sim)
        for i in range(len(parts)):
            parts[i].append(activity[i])
    return [torch.cat(p) for p in parts]


@torch.no_grad()
def evaluate_task(
    net: SpikingMLP, task: Task, sequence: TaskSequence, batch_size: int = 1000, bases: list[torch.Tensor] | None = None
) -> tuple[float, list[float]]:
    """Test accuracy (percent) on ``task`` and, given ``bases``, the residual per projected layer."""
    head = net.head_index(task.index)
    n = task.size("test")
    correct = 0
    num = [0.0] * (len(bases) if bases else 0)
    den = [0.0] * len(num)
    for b in range(0, n, batch_size):
        x, y = task.batch("test", np.arange(b, min(n, b + batch_size)))
        spikes = net.encode(torch.from_numpy(x))
        sim = net.simulate(spikes, head)
        pred = sim.logits.argmax(1).cpu().numpy()
        correct += int((pred == _labels(task, y, sequence)).sum())
        if bases:
            rates = net.projected_activity(spikes, sim)
            for i, h in enumerate(bases):
                x64 = rates[i].double()
                r = projection_residual(x64, h)
                nx2 = float((x64 * x64).sum())
                num[i] += (r**2) * nx2
                den[i] += nx2
    residuals = [math.sqrt(a / d) if d > 0 else 0.0 for a, d in zip(num, den)]
    return 100.0 * correct / n, residuals


def _make_batch(
    tasks: list[Task], rows: list[tuple[int, int]], sequence: TaskSequence, net: SpikingMLP
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, hs = [], [], []
    by_task: dict[int, list[int]] = {}
    for t, r in rows:
        by_task.setdefault(t, []).append(r)
    for t, rr in by_task.items():
        x, y = tasks[t].batch("train", np.asarray(rr))
        xs.append(x)
        ys.append(_labels(tasks[t], y, sequence))
        hs.append(np.full(len(rr), net.head_index(t), dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(hs)


def _versions() -> dict[str, str]:
    import norse

    return {"torch": torch.__version__, "norse": getattr(norse, "__version__", "?"), "numpy": np.__version__, "python": platform.python_version()}


def run_continual(
    sequence: TaskSequence,
    method: str,
    train: str,
    config: HLOPConfig,
    seed: int = 0,
    device: str | torch.device | None = "cpu",
    progress: bool = False,
    on_task_end: Callable[[int, SpikingMLP, list[torch.Tensor]], None] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> ContinualResult:
    """Learn ``sequence`` task after task and measure the accuracy matrix and diagnostics.

    Parameters
    ----------
    sequence : TaskSequence
        Tasks (see :func:`neurohop.data.make_tasks`).
    method : str
        One of :data:`neurohop.hlop.methods.METHODS`.
    train : str
        One of :data:`~neurohop.hlop.config.TRAIN_METHODS`.
    config : HLOPConfig
        Network, training and method settings (a model file plus overrides).
    seed : int
        Seeds every generator of the run.
    device : str or torch.device or None
        'cpu', 'cuda', 'cuda:N', or None/'auto' for CUDA when available.
    progress : bool
        Show a tqdm progress bar on stderr.
    on_task_end : callable, optional
        Called as ``on_task_end(t, net, lateral)`` after task ``t`` has been learned and
        evaluated (``lateral``: the current lateral weights of each projected layer, empty
        without projection) -- e.g. to save a checkpoint per task.
    checkpoint_dir : path, optional
        Write the run's complete state to ``checkpoint_dir/state.pt`` after every task (before
        ``on_task_end``; a joint run once, after its training).
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` (start afresh when there is none).
        Without ``resume`` an existing checkpoint there is refused rather than overwritten.

    Returns
    -------
    ContinualResult
        ``diagnostics`` holds, for projection methods, one entry per projected layer with lists
        over tasks (rows added and in total, ``energy_captured`` vs ``energy_optimal`` of the
        task's residual activity, ``eig_min``/``eig_max`` of ``H^T H``) and ``residual_old``
        (after task ``i``, for every seen task ``j``: the relative residual of its test
        activity), plus the stability ``warnings`` raised.
    """
    method_cls = method_class(method)
    joint = method_cls.joint
    if train not in TRAIN_METHODS:
        raise InputError(f"train: expected one of {list(TRAIN_METHODS)} (got {train!r})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected an integer >= 0 (got {seed!r})")
    dev = resolve_device(device)
    if resume and checkpoint_dir is None:
        raise InputError("resume: expected a checkpoint_dir to resume from (got none)")
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if ckpt_path is not None and ckpt_path.exists() and not resume:
        raise InputError(f"{ckpt_path}: checkpoint_dir holds a checkpoint of an earlier run: resume it (resume=True) or choose an empty directory")
    start = time.perf_counter()
    cpu_start = time.process_time()
    seeds = np.random.SeedSequence(int(seed)).spawn(4)
    init_gen = torch.Generator().manual_seed(int(seeds[0].generate_state(1)[0]))
    lateral_gen = torch.Generator().manual_seed(int(seeds[1].generate_state(1)[0]))
    order_rng = np.random.default_rng(seeds[2])
    memory_rng = np.random.default_rng(seeds[3])

    tasks = list(sequence.tasks)
    n_tasks = len(tasks)
    if config.network.kind == "mlp":
        net = SpikingMLP(sequence.n_features, sequence.head_sizes, config.network, init_gen, sequence.head == "shared", dev)
        trainer = make_trainer(train, net, init_gen)
    else:  # convolutional networks (neurohop.hlop.conv): same interface, their own trainer
        from neurohop.hlop.conv import build_classifier

        image_shape = tasks[0].dataset.image_shape
        net = build_classifier(config, image_shape, sequence.n_features, sequence.head_sizes, init_gen, sequence.head == "shared", dev)
        trainer = net.make_trainer(train, init_gen)
    tc = config.train

    def batch_loss(x: np.ndarray, y: np.ndarray, h: np.ndarray, input_bases: Any = None) -> torch.Tensor:
        """The training method's loss of one batch (pixels, labels in their head, head indices)."""
        return trainer.loss(net.encode(torch.from_numpy(x)), torch.from_numpy(y).to(dev), torch.from_numpy(h).to(dev), input_bases)

    def sample_loss(t: int, r: int) -> torch.Tensor:
        return batch_loss(*_make_batch(tasks, [(t, r)], sequence, net))

    context = MethodContext(
        config=config,
        net=net,
        trainer=trainer,
        n_tasks=n_tasks,
        lateral_generator=lateral_gen,
        order_rng=order_rng,
        memory_rng=memory_rng,
        sample_loss=sample_loss,
        activity=lambda task, per_step=False: collect_activity(net, task, "train", tc.eval_batch_size, per_step),
        label_offset=lambda task: task.label_offset if sequence.head == "shared" else 0,
    )
    cl = build_method(method, context)

    matrix = np.full((n_tasks, n_tasks), np.nan)
    residual_old: list[list[list[float]]] = []  # [task i][layer][seen task j]
    task_times: list[float] = []
    eval_time = 0.0
    steps_per_epoch = [math.ceil(t.size("train") / tc.batch_size) for t in tasks]
    total_steps = tc.epochs * (sum(steps_per_epoch) if not joint else math.ceil(sum(t.size("train") for t in tasks) / tc.batch_size))

    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, disable=not progress, desc=f"{method}/{train}", unit="batch", leave=False)

    identity = _run_identity(method, train, int(seed), config, sequence)
    generators = (init_gen, lateral_gen, order_rng, memory_rng)
    first_task = 0
    elapsed = (0.0, 0.0)  # wall and CPU seconds of the earlier, interrupted part
    if ckpt_path is not None and resume and ckpt_path.exists():
        state = _load_state(ckpt_path, identity)
        first_task = int(state["task"]) + 1
        eval_time = float(state["eval_time"])
        task_times = [float(v) for v in state["task_times"]]
        residual_old = state["residual_old"]
        matrix = state["matrix"].numpy().copy()
        elapsed = (float(state["wall"]), float(state["cpu"]))
        _restore_parts(state, net, trainer, cl, generators)
        bar.update(tc.epochs * sum(steps_per_epoch[:first_task]) if not joint else total_steps)

    def checkpoint(t: int) -> None:
        if ckpt_path is None:
            return
        parts = _state_of_parts(net, trainer, cl, generators)
        parts.update(
            identity=identity,
            task=t,
            matrix=torch.from_numpy(matrix.copy()),
            residual_old=residual_old,
            task_times=list(task_times),
            eval_time=eval_time,
            wall=elapsed[0] + time.perf_counter() - start,
            cpu=elapsed[1] + time.process_time() - cpu_start,
        )
        _save_state(ckpt_path, parts)

    def trainable(t: int) -> list[torch.nn.Parameter]:
        if t == 0:
            return list(net.parameters())
        params = [lin.weight for lin in net.layers] + [lin.weight for lin in net.heads]
        if not net.shared_head and net.heads[t].bias is not None:
            params.append(net.heads[t].bias)  # a new task's own head: its bias is new too
        return params

    def lr_of(t: int, epoch: int, phase: bool) -> float:
        if phase:  # methods.replay.lr, else the task's own learning rate without its schedule
            return config.replay.phase_lr(tc.base_lr(train, t), epoch)
        return tc.lr_at(train, t, epoch)

    def phase_loss(rows_: tuple[np.ndarray, ...], input_bases: Any) -> torch.Tensor:
        x, y, h = rows_[:3]
        groups = rows_[3] if len(rows_) > 3 else None
        if groups is None:
            return batch_loss(x, y, h, input_bases)
        # methods.replay.per_task: the finished tasks' mean losses, summed
        terms = [batch_loss(x[idx], y[idx], h[idx], input_bases) for idx in (np.flatnonzero(groups == g) for g in np.unique(groups))]
        return sum(terms[1:], terms[0])

    def train_on(batches: list[list[tuple[int, int]]], t: int, label: str, phase: bool = False, epochs: int = 1) -> None:
        opt = torch.optim.SGD(trainable(t), lr=lr_of(t, 0, phase), momentum=tc.momentum)
        net.train(t == 0)  # batch-norm statistics (convolutional networks) learn on task 0 only
        # the reference trains its replay phase without projection (methods.replay.projected: false)
        projected = not phase or config.replay.projected
        input_bases = cl.input_bases() if projected else None
        per_epoch = max(1, len(batches) // max(1, epochs))
        for k, rows_ in enumerate(batches):
            if k and k % per_epoch == 0 and k // per_epoch < epochs:  # the learning rate of the new epoch
                for group in opt.param_groups:
                    group["lr"] = lr_of(t, k // per_epoch, phase)
            if phase:
                loss = phase_loss(rows_, input_bases)  # type: ignore[arg-type]
            else:
                loss = batch_loss(*cl.extend_batch(t, *_make_batch(tasks, rows_, sequence, net)), input_bases)
            pen = cl.penalty(net)
            if pen is not None:
                loss = loss + pen
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if projected:
                cl.transform_gradient(net)
            opt.step()
            if not phase:
                cl.after_step(t)
                bar.update(1)
        net.eval()
        bar.set_postfix_str(label)

    def evaluate_row(i: int) -> None:
        nonlocal eval_time
        t0 = time.perf_counter()
        bases = cl.evaluation_bases()
        res_row: list[list[float]] = [[] for _ in (bases or [])]
        for j in range(i + 1):
            acc, res = evaluate_task(net, tasks[j], sequence, tc.eval_batch_size, bases)
            matrix[i, j] = acc
            for k, r in enumerate(res):
                res_row[k].append(r)
        if bases is not None:
            residual_old.append(res_row)
        eval_time += time.perf_counter() - t0

    if joint and first_task == 0:
        t0 = time.perf_counter()
        everything = [(t, r) for t in range(n_tasks) for r in range(tasks[t].size("train"))]
        batches = []
        for _ in range(tc.epochs):
            order = order_rng.permutation(len(everything))
            batches += [[everything[k] for k in order[b : b + tc.batch_size]] for b in range(0, len(order), tc.batch_size)]
        cl.before_task(0, None)
        train_on(batches, 0, "joint", epochs=tc.epochs)
        task_times.append(time.perf_counter() - t0)
        evaluate_row(n_tasks - 1)
        checkpoint(n_tasks - 1)
    elif not joint:
        for t, task in enumerate(tasks):
            if t < first_task:
                continue
            t0 = time.perf_counter()
            batches = []
            for _ in range(tc.epochs):
                order = order_rng.permutation(task.size("train"))
                batches += [[(t, int(r)) for r in order[b : b + tc.batch_size]] for b in range(0, len(order), tc.batch_size)]
            cl.before_task(t, task)
            train_on(batches, t, f"task {t + 1}/{n_tasks}", epochs=tc.epochs)
            cl.after_task(t, task)
            phase_batches = cl.phase_batches(t)
            if phase_batches:
                train_on(phase_batches, t, f"task {t + 1}/{n_tasks} phase", phase=True, epochs=config.replay.phase_epochs)  # type: ignore[arg-type]
            task_times.append(time.perf_counter() - t0)
            evaluate_row(t)
            checkpoint(t)
            if on_task_end is not None:
                on_task_end(t, net, cl.lateral())
    bar.close()
    wall = elapsed[0] + time.perf_counter() - start
    cpu = elapsed[1] + time.process_time() - cpu_start

    final = matrix[-1]
    acc = float(np.nanmean(final))
    bwt = None if joint else backward_transfer(matrix)
    diagnostics = cl.diagnostics(residual_old)
    settings = {
        "scenario": sequence.scenario,
        "head": sequence.head,
        "tasks": sequence.describe(),
        "data": tasks[0].dataset.summary(),
        "seed": int(seed),
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "cpu_time_s": round(cpu, 3),
        "eval_time_s": round(eval_time, 3),
        **{k: round(v, 3) for k, v in cl.timings().items()},
        "resumed_after_task": first_task - 1 if first_task > 0 else None,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
    }
    return ContinualResult(method, train, matrix, acc if joint else average_accuracy(matrix), bwt, wall, task_times, diagnostics, settings, config, net, cl.lateral())


def _run_identity(method: str, train: str, seed: int, config: HLOPConfig, sequence: TaskSequence) -> str:
    """What a checkpoint belongs to, as one JSON string (settings, tasks, a digest of the permutations)."""
    digest = hashlib.sha256()
    for t in sequence.tasks:
        digest.update(np.asarray(t.train_index, dtype=np.int64).tobytes())
        if t.permutation is not None:
            digest.update(np.asarray(t.permutation, dtype=np.int64).tobytes())
    doc = {
        "method": method,
        "train": train,
        "seed": seed,
        "config": clean_json(config.to_dict()),
        "tasks": clean_json(sequence.describe()),
        "data": clean_json(sequence.tasks[0].dataset.summary()),
        "order": digest.hexdigest(),
    }
    return json.dumps(doc, sort_keys=True)


def _state_of_parts(net: SpikingMLP, trainer: Any, cl: ContinualMethod, generators: tuple[Any, ...]) -> dict[str, Any]:
    init_gen, lateral_gen, order_rng, memory_rng = generators

    def cpu(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in d.items()}

    state: dict[str, Any] = {
        "net": cpu(net.state_dict()),
        "feedback": cpu(trainer.feedback),
        "rng": {
            "init": init_gen.get_state(),
            "lateral": lateral_gen.get_state(),
            "order": json.dumps(order_rng.bit_generator.state),
            "memory": json.dumps(memory_rng.bit_generator.state),
        },
    }
    state.update(cl.state_dict())
    return state


def _restore_parts(state: dict[str, Any], net: SpikingMLP, trainer: Any, cl: ContinualMethod, generators: tuple[Any, ...]) -> None:
    init_gen, lateral_gen, order_rng, memory_rng = generators
    dev = net.device
    net.load_state_dict(state["net"])
    trainer.feedback = {k: v.to(dev) for k, v in state["feedback"].items()}
    init_gen.set_state(state["rng"]["init"])
    lateral_gen.set_state(state["rng"]["lateral"])
    order_rng.bit_generator.state = json.loads(state["rng"]["order"])
    memory_rng.bit_generator.state = json.loads(state["rng"]["memory"])
    cl.load_state_dict(state)


def _save_state(path: Path, state: dict[str, Any]) -> None:
    from neurohop.files import atomic_write

    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _load_state(path: Path, identity: str) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        raise InputError(f"{path}: cannot read as a run checkpoint: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(state, dict) or "identity" not in state or "task" not in state:
        raise InputError(f"{path}: expected a run checkpoint written by run_continual (got another file)")
    if state["identity"] != identity:
        old, new = json.loads(state["identity"]), json.loads(identity)
        keys = [k for k in new if old.get(k) != new.get(k)]
        raise InputError(f"{path}: resume: the checkpoint belongs to another run (differs in {keys}); use another checkpoint_dir")
    return state
