"""``baseline``: plain sequential fine-tuning (every hook of the protocol left neutral)."""

from __future__ import annotations

from neurohop.hlop.methods import ContinualMethod, register


@register
class Baseline(ContinualMethod):
    """Fine-tuning task after task: the lower bound every method is compared against."""

    name = "baseline"
    summary = "sequential fine-tuning (no protection)"
