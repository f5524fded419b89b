"""``ewc``: elastic weight consolidation (a quadratic penalty weighted by the Fisher information)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from neurohop.hlop.methods import ContinualMethod, MethodContext, register

if TYPE_CHECKING:
    import torch

    from neurohop.data.tasks import Task
    from neurohop.hlop.network import SpikingMLP


@register
class EWCMethod(ContinualMethod):
    """After each task, ``methods.ewc.fisher_samples`` samples add their diagonal Fisher
    (to one online penalty, or as the task's own penalty: ``methods.ewc.variant``)."""

    name = "ewc"
    settings = ("methods.ewc",)
    summary = "elastic weight consolidation (diagonal empirical Fisher)"

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        from neurohop.hlop.parts import EWC

        tc = context.config.train
        self.ewc = EWC(context.config, context.net, lr=tc.lr[context.trainer.name], momentum=tc.momentum)

    def penalty(self, net: SpikingMLP) -> torch.Tensor | None:
        return self.ewc.penalty(net)

    def after_task(self, t: int, task: Task) -> None:
        ctx = self.context
        n = task.size("train")
        rows = ctx.order_rng.choice(n, size=min(ctx.config.ewc.fisher_samples, n), replace=False)
        self.ewc.consolidate(ctx.net, lambda r: ctx.sample_loss(t, r), rows)

    def warnings(self) -> list[str]:
        """One line per task whose penalty reached the cap, or passed SGD's limit without one."""
        out = []
        for t, r in enumerate(self.ewc.report):
            if r["capped"]:
                out.append(
                    f"task {t}, ewc: {r['capped']} of {r['weights']} weights reached the curvature cap {r['cap']:.4g} "
                    f"(largest lambda * F {r['stiffness_max']:.4g}; SGD diverges above {r['limit']:.4g}): their penalties are scaled down"
                )
            elif r["cap"] is None and float(r["stiffness_max"]) > float(r["limit"]):  # type: ignore[arg-type]
                out.append(
                    f"task {t}, ewc: largest lambda * F {r['stiffness_max']:.4g} is above {r['limit']:.4g}, where SGD with this "
                    "rate and momentum diverges; lower methods.ewc.lambda or set methods.ewc.max_stiffness"
                )
        return out

    def diagnostics(self, residual_old: list[list[list[float]]]) -> dict[str, Any]:
        return {"layers": [], "warnings": self.warnings(), "projection_path": {}, "ewc": [dict(r) for r in self.ewc.report]}

    def state_dict(self) -> dict[str, Any]:
        def cpu(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.detach().cpu().clone() for k, v in d.items()}

        return {
            "ewc": {
                "report": json.dumps(self.ewc.report),
                "fisher": cpu(self.ewc.fisher),
                "anchor": cpu(self.ewc.anchor),
                "tasks": [{"fisher": cpu(f), "anchor": cpu(a)} for f, a in self.ewc.tasks],
            }
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        dev = self.context.net.device
        self.ewc.fisher = {k: v.to(dev) for k, v in state["ewc"]["fisher"].items()}
        self.ewc.anchor = {k: v.to(dev) for k, v in state["ewc"]["anchor"].items()}
        self.ewc.tasks = [
            ({k: v.to(dev) for k, v in e["fisher"].items()}, {k: v.to(dev) for k, v in e["anchor"].items()}) for e in state["ewc"].get("tasks", [])
        ]
        self.ewc.refresh_scale()
        self.ewc.report = json.loads(state["ewc"]["report"]) if "report" in state["ewc"] else []
