"""Figures of continual-learning runs (matplotlib's Agg canvas; no pyplot, no global backend)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["plot_accuracy_matrix"]


def plot_accuracy_matrix(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Draw the accuracy matrix of a run (the dictionary of :meth:`ContinualResult.to_dict`) to ``path``.

    Rows are "after training task i", columns "tested on task j"; cells show the accuracy in
    percent, unmeasured cells are blank. The title carries method, training method, ACC and BWT.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from neurohop.files import atomic_write

    m = np.array([[np.nan if v is None else v for v in row] for row in result["accuracy_matrix"]], dtype=float)
    n = m.shape[0]
    fig = Figure(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(m), vmin=0.0, vmax=100.0, cmap="viridis")
    for i in range(n):
        for j in range(m.shape[1]):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7, color="white" if m[i, j] < 60 else "black")
    ax.set_xlabel("tested on task j")
    ax.set_ylabel("after training task i")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(n))
    bwt = result.get("bwt")
    ax.set_title(
        f"{result.get('method')} / {result.get('train')}: ACC {result.get('acc', float('nan')):.2f}"
        + ("" if bwt is None else f", BWT {bwt:.2f}"),
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    fig.tight_layout()
    suffix = Path(path).suffix or ".png"
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=suffix.lstrip(".")), suffix=suffix)
