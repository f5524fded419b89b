"""``gpm``: gradient projection memory (SVD basis, rows chosen per task by an energy threshold)."""

from __future__ import annotations

from neurohop.hlop.methods import register
from neurohop.hlop.methods._projection import ProjectionMethod


@register
class GPM(ProjectionMethod):
    """Rows: the residual's singular vectors that bring the captured energy to the threshold."""

    name = "gpm"
    settings = ("methods.gpm",)
    summary = "gradient projection memory (SVD basis with an energy threshold)"
    kind = "gpm"
