"""``svd-oracle``: HLOP's projection with the exact top-k SVD rows instead of Hebbian learning."""

from __future__ import annotations

from neurohop.hlop.methods import register
from neurohop.hlop.methods._projection import ProjectionMethod


@register
class SVDOracle(ProjectionMethod):
    """As many rows as HLOP adds, set to the top singular vectors of the residual activity."""

    name = "svd-oracle"
    settings = ("lateral",)
    summary = "HLOP's projection with exact SVD rows (separates the Hebbian rule from projection)"
    kind = "oracle"
