"""``multitask``: one training on all tasks together (the joint upper bound)."""

from __future__ import annotations

from neurohop.hlop.methods import ContinualMethod, register


@register
class Multitask(ContinualMethod):
    """The runner trains once on the union of the tasks' training sets and evaluates once."""

    name = "multitask"
    summary = "joint training on all tasks (upper bound; no BWT)"
    joint = True
