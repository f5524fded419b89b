"""The projection methods' common part: lateral circuits whose frozen rows the updates avoid."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

from neurohop.hlop.methods import ContinualMethod, MethodContext

if TYPE_CHECKING:
    import torch

    from neurohop.data.tasks import Task
    from neurohop.hlop.network import SpikingMLP

__all__ = ["ProjectionMethod"]

_DIAGNOSTIC_KEYS = ("rows_added", "rows_total", "energy_captured", "energy_optimal", "eig_min", "eig_max", "threshold", "spiking_threshold")


class ProjectionMethod(ContinualMethod):
    """Weight updates of task ``t > 0`` orthogonal to the frozen lateral rows of tasks ``< t``.

    ``kind`` (a class attribute) is the :class:`~neurohop.hlop.parts.Projector` kind. Per
    projected layer the projection acts on the input path (inside the training method's
    traced linear maps) or on the weight gradient, whichever multiplies fewer rows
    (``train.projection_path``); ``extra_rows`` are the samples another part adds per batch.
    """

    kind: ClassVar[str] = "hebbian"

    def __init__(self, context: MethodContext, extra_rows: int = 0) -> None:
        super().__init__(context)
        from neurohop.hlop.parts import Projector

        cfg, net = context.config, context.net
        self.projector = Projector(self.kind, cfg, net, context.n_tasks, context.lateral_generator)
        tc = cfg.train
        rows = context.trainer.trace_rows_per_sample * (tc.batch_size + extra_rows)
        self.paths: list[str] = []
        lat = cfg.lateral
        # the quantised projection x - q(x H^T) H exists only on the input path
        quantised = self.kind == "hebbian" and lat.spiking.in_projection
        self.during_training = self.kind == "hebbian" and lat.during_training
        self.per_step = context.trainer.name in lat.per_step
        if self.during_training:
            context.trainer.record_activity = True
        for _, lin in net.projected_layers():
            if quantised:
                self.paths.append("input")
            elif tc.projection_path == "auto":
                self.paths.append("input" if rows <= lin.out_features else "weight")
            else:
                self.paths.append(tc.projection_path)
        self.weight_path = [i for i, p in enumerate(self.paths) if p == "weight"]
        self.lateral_time = 0.0
        self._input_bases: list[torch.Tensor | None] | None = None

    def _refresh_bases(self) -> None:
        bases = self.projector.bases()
        self._input_bases = [b if p == "input" else None for b, p in zip(bases, self.paths)] if bases else None

    def before_task(self, t: int, task: Task | None) -> None:
        self._refresh_bases()
        if self.during_training and task is not None:
            self.projector.begin_task(t)

    def input_bases(self) -> list[torch.Tensor | None] | None:
        return self._input_bases

    def transform_gradient(self, net: SpikingMLP) -> None:
        self.projector.project_gradients(net, self.weight_path)

    def after_step(self, t: int) -> None:
        if not self.during_training:
            return
        t1 = time.perf_counter()
        acts = self.context.trainer.activity
        self.projector.learn_batch([a.reshape(-1, a.shape[-1]) if self.per_step else a.mean(0) for a in acts])
        self.lateral_time += time.perf_counter() - t1

    def after_task(self, t: int, task: Task) -> None:
        t1 = time.perf_counter()
        # rows learned during training: the activity only serves the diagnostics (rates, which
        # are means of the per-step rows and so lie in the same span)
        per_step = self.per_step and not self.during_training
        self.projector.learn(t, self.context.activity(task, per_step))
        self._refresh_bases()  # a phase after the task (replay) is projected like the task was
        self.lateral_time += time.perf_counter() - t1

    def evaluation_bases(self) -> list[torch.Tensor] | None:
        return [c.weight for c in self.projector.circuits]

    def lateral(self) -> list[torch.Tensor]:
        return [c.weight.detach().clone() for c in self.projector.circuits]

    def diagnostics(self, residual_old: list[list[list[float]]]) -> dict[str, Any]:
        p = self.projector
        layers = []
        for k, circuit in enumerate(p.circuits):
            entries = [h["layers"][k] for h in p.history]  # type: ignore[index]
            layer: dict[str, Any] = {"name": circuit.name, "width": circuit.n_inputs}
            for key in _DIAGNOSTIC_KEYS:
                if key in entries[0]:
                    layer[key] = [e[key] for e in entries]
            layer["residual_old"] = [row[k] for row in residual_old]
            layers.append(layer)
        return {"layers": layers, "warnings": list(p.warnings), "projection_path": dict(zip(p.names, self.paths))}

    def timings(self) -> dict[str, float]:
        return {"lateral_time_s": self.lateral_time}

    def state_dict(self) -> dict[str, Any]:
        from neurohop.hlop.runner import clean_json

        p = self.projector
        return {
            "projector": {
                "weights": [c.weight.detach().cpu().clone() for c in p.circuits],
                "n_frozen": [c.n_frozen for c in p.circuits],
                "history": json.dumps(clean_json(p.history)),
                "warnings": list(p.warnings),
                "time": self.lateral_time,
            }
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        s = state["projector"]
        dev = self.context.net.device
        for c, w, k in zip(self.projector.circuits, s["weights"], s["n_frozen"]):
            c.weight = w.to(dev)
            c.n_frozen = int(k)
        self.projector.history = json.loads(s["history"])
        self.projector.warnings = list(s["warnings"])
        self.lateral_time = float(s["time"])
