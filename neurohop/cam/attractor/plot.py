"""Plot of a capacity sweep: measured recall error against the number of stored patterns."""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

__all__ = ["capacity_png"]


def capacity_png(rows: Sequence[dict[str, Any]]) -> bytes:
    """Render the rows of :func:`neurohop.cam.attractor.capacity.run_sweep` as PNG bytes.

    One panel per (N, k, false bits); per cue fraction the mean (missing + false) bits
    against M (log axis), its Willshaw bound M_max (dashed, same colour), the measured
    M_cap (dot), the criterion of 1 bit (grey) and the Hopfield line 0.138 N (dotted).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    panels: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        panels.setdefault((row["n"], row["k"], row["false_bits"]), []).append(row)
    cols = min(3, len(panels))
    lines = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(4.6 * cols, 3.6 * lines), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, ((n, k, f), group) in zip(axes.flat, panels.items()):
        for i, row in enumerate(group):
            color = colors(i % 10)
            curve = sorted(row["curve"], key=lambda p: p["m"])
            ax.plot([p["m"] for p in curve], [max(p["error"], 1e-2) for p in curve], "o-", ms=3, color=color, label=f"cue {row['cue_fraction']:g} (c={row['correct_bits']})")
            if math.isfinite(row["m_max_willshaw"]):
                ax.axvline(row["m_max_willshaw"], color=color, ls="--", lw=1)
            if row["m_cap"] > 0:
                ax.plot([row["m_cap"]], [1.0], "D", color=color, ms=6)
        ax.axvline(group[0]["hopfield_0138n"], color="0.3", ls=":", lw=1, label="Hopfield 0.138 N")
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("stored patterns M")
        ax.set_ylabel("mean missing + false bits (0 at 0.01)")
        ax.set_title(f"N={n}, k={k}" + (f", {f} false bits" if f else ""), fontsize=10)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("CA3 attractor: measured recall error vs M (dashed: Willshaw bound M_max; diamond: M_cap)", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()

