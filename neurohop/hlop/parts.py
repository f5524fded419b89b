"""The working parts of the continual-learning methods: lateral projection, EWC, replay memory.

The methods themselves (:mod:`neurohop.hlop.methods`) combine these parts:

* :class:`Projector` -- lateral circuits on every projected layer; during task ``t > 0`` the
  weight updates are projected orthogonal to the frozen rows; after each task new rows learn
  the residual subspace of the task's activity. ``kind`` selects how they learn:
  ``hebbian`` (HLOP: Oja's subspace rule, rate or spiking lateral neurons), ``oracle`` (exact
  top-k SVD of the same residual, same k: separates "the Hebbian rule works" from "projection
  works"), ``gpm`` (SVD basis with an energy threshold, k chosen per task).
* :class:`EWC` -- a quadratic penalty weighted by the diagonal empirical Fisher information.
* :class:`Replay` -- a fixed memory of ``per_class`` samples per class and task, mixed into
  every update or trained on in a phase after each task (``methods.replay.mode``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from neurohop.data.tasks import Task
from neurohop.errors import InputError
from neurohop.hlop.config import HLOPConfig
from neurohop.hlop.lateral import HebbianParameters, LateralCircuit, LateralState, SpikingLateralParameters, hebbian_step, spiking_response
from neurohop.hlop.metrics import ProjectionStabilityWarning, eigen_range, subspace_energy, svd_energy, top_subspace
from neurohop.hlop.network import SpikingMLP
from neurohop.hlop.projection import QuantisedBasis, project_weight_gradient

__all__ = ["Projector", "EWC", "Replay"]


class Projector:
    """Lateral circuits of all projected layers and their learning after each task.

    Parameters
    ----------
    kind : str
        'hebbian', 'oracle' or 'gpm'.
    config : HLOPConfig
    net : SpikingMLP
    n_tasks : int
        Length of the sequence (to check capacity before anything runs).
    generator : torch.Generator
        Source of the new rows' initial weights, the Hebbian batch order and the dither.
    """

    def __init__(self, kind: str, config: HLOPConfig, net: SpikingMLP, n_tasks: int, generator: torch.Generator) -> None:
        if kind not in ("hebbian", "oracle", "gpm"):
            raise InputError(f"Projector: kind: expected 'hebbian', 'oracle' or 'gpm' (got {kind!r})")
        self.kind = kind
        self.config = config
        self.generator = generator
        layers = net.projected_layers()
        self.names = tuple(name for name, _ in layers)
        self.circuits = [LateralCircuit(lin.in_features, name).to(net.device) for name, lin in layers]
        if kind != "gpm":
            config.lateral.check_capacity(tuple(lin.in_features for _, lin in layers), self.names, n_tasks, source=f"{config.source}: lateral")
        self.history: list[dict[str, object]] = []
        self.warnings: list[str] = []
        self._begun: int | None = None  # task whose rows begin_task added (learned during training)
        self._velocity: list[torch.Tensor] = []

    def bases(self) -> list[torch.Tensor | None]:
        """Frozen rows of each circuit (None when empty): the subspaces updates must avoid.

        With ``lateral.spiking.in_projection`` each is a :class:`QuantisedBasis` whose
        response goes through the lateral neurons' quantiser (deterministic: no dither).
        """
        sp = self.config.lateral.spiking
        out: list[torch.Tensor | None] = []
        for c in self.circuits:
            if c.n_frozen == 0:
                out.append(None)
            elif self.kind == "hebbian" and sp.in_projection:
                q = self._spiking(float(sp.range))._replace(dither=False)  # type: ignore[union-attr, arg-type]
                out.append(QuantisedBasis(c.frozen, lambda cur, q=q: spiking_response(cur, q)))  # type: ignore[misc]
            else:
                out.append(c.frozen)
        return out

    def _spiking(self, rng: float) -> SpikingLateralParameters | None:
        """Parameters of the spiking lateral neurons for activity of norm up to ``rng`` (None: rates)."""
        sp = self.config.lateral.spiking
        if not sp.enabled:
            return None
        rng = sp.range if sp.range is not None else rng
        thr = rng * sp.timesteps / sp.saturation
        return SpikingLateralParameters(sp.timesteps, sp.saturation, thr, sp.dither, sp.quantiser, rng)

    def _auto_range(self, x: torch.Tensor) -> float:
        return float(torch.linalg.norm(x, dim=1).max()) or 1.0

    def begin_task(self, task_index: int) -> None:
        """``lateral.during_training``: add the task's learning rows before its training."""
        lat = self.config.lateral
        self._velocity = []
        for i, circuit in enumerate(self.circuits):
            k = lat.rows(i, task_index)
            circuit.add_rows(k, self.generator, orthogonal_to_frozen=lat.orthogonal_init)
            self._velocity.append(torch.zeros(k, circuit.n_inputs, dtype=circuit.weight.dtype, device=circuit.weight.device))
        self._begun = task_index

    def learn_batch(self, activity: list[torch.Tensor]) -> None:
        """``lateral.during_training``: ``hebbian.iterations`` updates on one training batch's activity."""
        h = self.config.lateral.hebbian
        for i, (circuit, x) in enumerate(zip(self.circuits, activity)):
            if circuit.n_rows == circuit.n_frozen:
                continue
            x = x.to(circuit.weight)
            spiking = self._spiking(self._auto_range(x))
            params = HebbianParameters(h.lr[i], h.momentum, h.clamp, h.iterations)
            state = hebbian_step(x, LateralState(circuit.weight, self._velocity[i]), params, circuit.n_frozen, spiking, self.generator)
            circuit.weight, self._velocity[i] = state.weight, state.velocity

    def project_gradients(self, net: SpikingMLP, layers: list[int]) -> None:
        """Weight-path projection ``G <- G - (G H^T) H`` of the gradients of ``layers`` (indices)."""
        params = net.projected_layers()
        for i in layers:
            lin = params[i][1]
            c = self.circuits[i]
            if c.n_frozen > 0 and lin.weight.grad is not None:
                g = lin.weight.grad  # a convolution's (out, in, k, k) gradient acts on patches: (out, in * k * k)
                g.copy_(project_weight_gradient(g.reshape(g.shape[0], -1), c.frozen).view_as(g))

    def learn(self, task_index: int, activity: list[torch.Tensor]) -> dict[str, object]:
        """Add this task's rows to every circuit, learn them on ``activity`` and freeze them.

        Parameters
        ----------
        task_index : int
        activity : list of torch.Tensor
            Presynaptic activity (firing rates) of each projected layer on the task's training
            set, (N, width).

        Returns
        -------
        dict
            Per layer: rows added and in total, energy of the task's residual activity captured
            by the new rows and by the SVD optimum with as many rows, eigenvalue range of
            ``H^T H`` after the merge, and the spiking threshold when spiking lateral neurons are used.
        """
        lat = self.config.lateral
        report: dict[str, object] = {"task": task_index, "layers": []}
        for i, (circuit, x) in enumerate(zip(self.circuits, activity)):
            x = x.to(circuit.weight)
            old = circuit.frozen
            residual = x - (x @ old.T) @ old if old.shape[0] else x
            entry: dict[str, object] = {"name": circuit.name, "width": circuit.n_inputs}
            if self.kind == "gpm":
                thr = self.config.gpm.threshold_at(i, task_index)
                total = float((x.double() ** 2).sum())
                captured = total - float((residual.double() ** 2).sum())
                rows = top_subspace(residual, energy=thr, total=total, captured=captured)
                rows = rows[: circuit.n_inputs - circuit.n_frozen]
                circuit.set_rows(rows)
                entry["threshold"] = thr
                k = rows.shape[0]
            else:
                k = lat.rows(i, task_index)
                if self._begun == task_index:
                    pass  # learned on every training batch (begin_task, learn_batch)
                elif self.kind == "oracle":
                    circuit.set_rows(top_subspace(residual, k=k))
                else:
                    circuit.add_rows(k, self.generator, orthogonal_to_frozen=lat.orthogonal_init)
                    spiking = self._spiking(self._auto_range(x)) if lat.spiking.enabled else None
                    if spiking is not None:
                        entry["spiking_threshold"] = spiking.threshold
                    h = lat.hebbian
                    params = HebbianParameters(h.lr[i], h.momentum, h.clamp, h.iterations)
                    n_batches = h.epochs * -(-x.shape[0] // h.batch_size)
                    scale = None
                    if h.lr_decay:  # linear decay to lr / 10 over the run: lets the rows settle
                        scale = [1.0 - 0.9 * b / max(n_batches - 1, 1) for b in range(n_batches)]
                    circuit.learn(self._batches(x, h.epochs, h.batch_size), params, spiking, self.generator, scale)
            new = circuit.weight[circuit.n_frozen :]
            entry["rows_added"] = int(k)
            entry["energy_captured"] = subspace_energy(residual, new) if k else 0.0
            entry["energy_optimal"] = svd_energy(residual, k) if k else 0.0
            circuit.freeze()
            entry["rows_total"] = circuit.n_rows
            lo, hi = eigen_range(circuit.weight)
            entry["eig_min"], entry["eig_max"] = lo, hi
            if hi > lat.eig_warn:
                msg = (
                    f"task {task_index}, layer {circuit.name}: largest eigenvalue of H^T H is {hi:.3f} "
                    f"(near or above 2: I - H^T H amplifies instead of protecting); use more Hebbian "
                    f"iterations/epochs or fewer lateral neurons"
                )
                self.warnings.append(msg)
                warnings.warn(msg, ProjectionStabilityWarning, stacklevel=2)
            report["layers"].append(entry)  # type: ignore[attr-defined]
        self.history.append(report)
        self._begun = None
        return report

    def _batches(self, x: torch.Tensor, epochs: int, batch_size: int):  # type: ignore[no-untyped-def]
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=self.generator).to(x.device)
            for b in range(0, x.shape[0], batch_size):
                yield x[order[b : b + batch_size]]


class EWC:
    """Elastic weight consolidation with the diagonal empirical Fisher.

    ``methods.ewc.variant``: ``online`` keeps one Fisher summed over tasks and anchors it at
    the latest parameters; ``original`` keeps one penalty per finished task, with that task's
    Fisher and parameters (``tasks``: a list of (fisher, anchor) pairs).

    The penalty's curvature ``lambda * F`` (summed over the penalties) is capped per weight at
    ``methods.ewc.max_stiffness`` (``auto``: ``(1 + momentum) / lr``, half the curvature at
    which SGD with that rate and momentum diverges); every penalty of a weight at the cap is
    scaled by the same factor. ``report`` keeps, per consolidation, the largest uncapped
    curvature and the number of weights at the cap.
    """

    def __init__(self, config: HLOPConfig, net: SpikingMLP, lr: float, momentum: float) -> None:
        self.lam = config.ewc.lam
        self.samples = config.ewc.fisher_samples
        self.variant = config.ewc.variant
        #: curvature at which SGD with this rate and momentum diverges on the penalty alone
        self.limit = 2.0 * (1.0 + momentum) / lr
        cap = config.ewc.max_stiffness
        self.cap: float | None = self.limit / 2.0 if cap == "auto" else None if cap == "none" else float(cap)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}
        self.tasks: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
        self.scale: dict[str, torch.Tensor] = {}
        self.report: list[dict[str, float | int | None]] = []

    @staticmethod
    def _term(net: SpikingMLP, fisher: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor], scale: dict[str, torch.Tensor]) -> torch.Tensor | None:
        total = None
        for name, p in net.named_parameters():
            if name in fisher:
                weight = fisher[name] * scale[name] if name in scale else fisher[name]
                term = (weight * (p - anchor[name]) ** 2).sum()
                total = term if total is None else total + term
        return total

    def penalty(self, net: SpikingMLP) -> torch.Tensor | None:
        """``lambda / 2 * sum F (theta - theta*)^2`` over the parameters seen so far (summed
        over the finished tasks' penalties for ``original``; ``F`` scaled down where the
        curvature is capped), or None."""
        total = None
        for fisher, anchor in self.tasks if self.variant == "original" else [(self.fisher, self.anchor)] if self.fisher else []:
            term = self._term(net, fisher, anchor, self.scale)
            if term is not None:
                total = term if total is None else total + term
        return None if total is None else 0.5 * self.lam * total

    def total_fisher(self) -> dict[str, torch.Tensor]:
        """The Fisher summed over the penalties (the penalty's curvature is ``lambda`` times it)."""
        if self.variant != "original":
            return self.fisher
        total: dict[str, torch.Tensor] = {}
        for fisher, _ in self.tasks:
            for n, f in fisher.items():
                total[n] = total[n] + f if n in total else f.clone()
        return total

    def refresh_scale(self) -> tuple[float, int, int]:
        """Recompute the per-weight scale of the cap; returns the largest uncapped curvature, the
        number of weights at the cap and the number of weights under a penalty."""
        self.scale = {}
        largest, capped, weights = 0.0, 0, 0
        for n, f in self.total_fisher().items():
            weights += int(f.numel())
            stiffness = self.lam * f
            if stiffness.numel():
                largest = max(largest, float(stiffness.max()))
            if self.cap is not None:
                over = stiffness > self.cap
                capped += int(over.sum())
                if bool(over.any()):
                    self.scale[n] = torch.where(over, self.cap / stiffness.clamp_min(self.cap), torch.ones_like(stiffness))
        return largest, capped, weights

    def consolidate(self, net: SpikingMLP, loss_of_sample, rows: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        """Add this task's Fisher (mean squared per-sample gradient) and anchor the parameters.

        ``loss_of_sample(row)`` returns the loss of one training sample.
        """
        params = dict(net.named_parameters())
        acc = {n: torch.zeros_like(p) for n, p in params.items()}
        for r in rows:
            net.zero_grad(set_to_none=True)
            loss_of_sample(int(r)).backward()
            for n, p in params.items():
                if p.grad is not None:
                    acc[n] += p.grad.detach() ** 2
        net.zero_grad(set_to_none=True)
        if self.variant == "original":
            self.tasks.append(({n: f / max(len(rows), 1) for n, f in acc.items()}, {n: params[n].detach().clone() for n in acc}))
        else:
            for n, f in acc.items():
                f = f / max(len(rows), 1)
                self.fisher[n] = self.fisher[n] + f if n in self.fisher else f
                self.anchor[n] = params[n].detach().clone()
        largest, capped, weights = self.refresh_scale()
        self.report.append({"stiffness_max": largest, "limit": self.limit, "cap": self.cap, "capped": capped, "weights": weights})


class Replay:
    """A memory of ``per_class`` training samples per class of every finished task."""

    def __init__(self, config: HLOPConfig) -> None:
        self.per_class = config.replay.per_class
        self.batch_size = config.replay.batch_size
        self.selection = config.replay.selection
        self.x: np.ndarray | None = None
        self.y = np.zeros(0, dtype=np.int64)
        self.heads = np.zeros(0, dtype=np.int64)
        self.tasks = np.zeros(0, dtype=np.int64)  # the task each memory sample comes from

    def __len__(self) -> int:
        return int(len(self.y))

    def store(self, task: Task, head: int, label_offset: int, rng: np.random.Generator) -> None:
        """Keep ``per_class`` training samples of each class of ``task``: random ones, or the
        first ones in the task's training order (``selection: first``; ``rng`` is then unused)."""
        _, y = task.arrays("train")
        rows = []
        for c in range(task.n_classes):
            idx = np.flatnonzero(y == c)
            if self.selection == "first":
                rows.append(idx[: self.per_class])
            else:
                rows.append(rng.choice(idx, size=min(self.per_class, len(idx)), replace=False))
        sel = np.sort(np.concatenate(rows))
        x, yl = task.batch("train", sel)
        self.x = x if self.x is None else np.concatenate([self.x, x])
        self.y = np.concatenate([self.y, yl + label_offset])
        self.heads = np.concatenate([self.heads, np.full(len(sel), head, dtype=np.int64)])
        self.tasks = np.concatenate([self.tasks, np.full(len(sel), task.index, dtype=np.int64)])

    def phase(self, rng: np.random.Generator, epochs: int, per_task: bool = False) -> list[tuple[np.ndarray, ...]]:
        """Batches of ``batch_size`` over the whole memory, ``epochs`` passes in random order.

        ``per_task``: each batch holds ``batch_size`` samples of every task's memory, taken at the
        same positions of one random order per pass (over the largest task memory), and a fourth
        array, the task of every sample (the runner sums the tasks' mean losses).
        """
        if self.x is None:
            return []
        out: list[tuple[np.ndarray, ...]] = []
        if per_task:
            groups = [np.flatnonzero(self.tasks == k) for k in np.unique(self.tasks)]
            size = max(len(g) for g in groups)
            for _ in range(epochs):
                order = rng.permutation(size)
                for b in range(0, size, self.batch_size):
                    pos = order[b : b + self.batch_size]
                    pick = np.concatenate([g[pos[pos < len(g)]] for g in groups])
                    out.append((self.x[pick], self.y[pick], self.heads[pick], self.tasks[pick]))
            return out
        for _ in range(epochs):
            order = rng.permutation(len(self.y))
            for b in range(0, len(order), self.batch_size):
                pick = order[b : b + self.batch_size]
                out.append((self.x[pick], self.y[pick], self.heads[pick]))
        return out

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A random batch from the memory (features, labels in their head, head indices), or None."""
        if self.x is None:
            return None
        pick = rng.choice(len(self.y), size=min(self.batch_size, len(self.y)), replace=False)
        return self.x[pick], self.y[pick], self.heads[pick]
