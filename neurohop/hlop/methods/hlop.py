"""``hlop``: Hebbian learning of each task's principal subspace, later updates projected out of it."""

from __future__ import annotations

from neurohop.hlop.methods import register
from neurohop.hlop.methods._projection import ProjectionMethod


@register
class HLOP(ProjectionMethod):
    """Lateral rows learn with Oja's subspace rule (rate or spiking lateral neurons)."""

    name = "hlop"
    settings = ("lateral",)
    summary = "Hebbian orthogonal projection (lateral circuits learn with Oja's subspace rule)"
    kind = "hebbian"
