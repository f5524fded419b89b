"""Raster plots of the CA3 memory's activity."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from neurohop.backends.base import RunResult
from neurohop.files import atomic_write
from neurohop.model.network import Network

__all__ = ["raster"]


def raster(record: RunResult, network: Network, path: str | os.PathLike[str], operations: Sequence[tuple[int, str]] = (), title: str = "") -> Path:
    """Draw every recorded population as a band of rows and save a PNG.

    Parameters
    ----------
    record : RunResult
        Spikes to draw (``[steps, n]`` per population).
    network : Network
        Gives the population order and sizes.
    path : path
        Output PNG (written atomically).
    operations : sequence of (step, label)
        Marked as vertical lines with their label.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pops = [p for p in network.populations if p.name in record.spikes]
    total = sum(p.size for p in pops)
    fig, ax = plt.subplots(figsize=(11, max(4.0, 0.09 * total + 1.5)))
    colors = plt.get_cmap("tab10")
    row = 0
    ticks, labels = [], []
    for k, pop in enumerate(pops):
        t, i = np.nonzero(record.spikes[pop.name])
        y = total - (row + i) - 1
        ax.scatter((t + record.t_start) * record.dt, y, s=9, marker="|", color=colors(k % 10), linewidths=1.2)
        ticks.append(total - row - pop.size / 2 - 0.5)
        labels.append(f"{pop.name} ({pop.size})")
        row += pop.size
        ax.axhline(total - row - 0.5, color="0.85", lw=0.6)
    for step, label in operations:
        x = step * record.dt
        ax.axvline(x, color="0.6", lw=0.7, ls="--")
        ax.text(x + 0.3, total + 0.3, label, rotation=40, fontsize=7, va="bottom", ha="left")
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(record.t_start * record.dt - 1, (record.t_start + record.steps) * record.dt + 1)
    ax.set_ylim(-1, total + 6)
    ax.set_xlabel("time (ms)")
    if title:
        ax.set_title(title, fontsize=10, pad=28)
    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=120, format="png")

    try:
        return atomic_write(path, write, suffix=".png")
    finally:
        plt.close(fig)
