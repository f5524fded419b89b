"""``hlop+replay``: HLOP's projection and a replay memory together."""

from __future__ import annotations

from neurohop.hlop.methods import Combined, MethodContext, register
from neurohop.hlop.methods.hlop import HLOP
from neurohop.hlop.methods.replay import ReplayMethod


@register
class HLOPReplay(Combined):
    """Projection first, then the memory (at the end of a task: lateral rows, then storage)."""

    name = "hlop+replay"
    settings = ("lateral", "methods.replay")
    summary = "HLOP with experience replay"

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        replay = ReplayMethod(context)
        self.parts = [HLOP(context, extra_rows=replay.extra_rows()), replay]
