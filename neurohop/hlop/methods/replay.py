"""``replay``: a memory of a few samples per class of every finished task, mixed into each batch
(``methods.replay.mode: mixed``) or trained on in a phase after each task (``phase``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neurohop.hlop.methods import ContinualMethod, MethodContext, register

if TYPE_CHECKING:
    import numpy as np

    from neurohop.data.tasks import Task


@register
class ReplayMethod(ContinualMethod):
    """From task 1 on every batch gains up to ``methods.replay.batch_size`` memory samples
    (``mixed``), or after each task from task 1 on the whole memory, the task's samples
    included, is trained on for ``phase_epochs`` passes (``phase``)."""

    name = "replay"
    settings = ("methods.replay",)
    summary = "experience replay (per_class samples per class and task)"

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        from neurohop.hlop.parts import Replay

        self.memory = Replay(context.config)

    def extra_rows(self) -> int:
        return self.memory.batch_size if self.context.config.replay.mode == "mixed" else 0

    def phase_batches(self, t: int) -> list[tuple[np.ndarray, ...]]:
        r = self.context.config.replay
        if r.mode != "phase" or t == 0:
            return []
        return self.memory.phase(self.context.memory_rng, r.phase_epochs, r.per_task)

    def extend_batch(self, t: int, x: np.ndarray, y: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if t == 0 or self.context.config.replay.mode != "mixed":
            return x, y, heads
        mem = self.memory.sample(self.context.memory_rng)
        if mem is None:
            return x, y, heads
        import numpy as np

        return np.concatenate([x, mem[0]]), np.concatenate([y, mem[1]]), np.concatenate([heads, mem[2]])

    def after_task(self, t: int, task: Task) -> None:
        ctx = self.context
        self.memory.store(task, ctx.net.head_index(t), ctx.label_offset(task), ctx.memory_rng)

    def state_dict(self) -> dict[str, Any]:
        import torch

        m = self.memory
        return {
            "replay": {
                "x": None if m.x is None else torch.from_numpy(m.x.copy()),
                "y": torch.from_numpy(m.y.copy()),
                "heads": torch.from_numpy(m.heads.copy()),
                "tasks": torch.from_numpy(m.tasks.copy()),
            }
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        r = state["replay"]
        self.memory.x = None if r["x"] is None else r["x"].numpy().copy()
        self.memory.y = r["y"].numpy().copy()
        self.memory.heads = r["heads"].numpy().copy()
        self.memory.tasks = r["tasks"].numpy().copy()
