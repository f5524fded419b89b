"""Side-by-side tables and target checks from finished ``neurohop cl sweep`` directories.

    python benchmarks/hlop_tables.py --sweep neurohop=DIR [--sweep reference=DIR ...]
                                     [--step bptt=DIR --step ottt=DIR] [--markdown OUT.md]

Each ``--sweep LABEL=DIR`` names the output directory of one sweep of permuted MNIST (its
``table.json``, written by ``neurohop cl sweep``); the rows of all of them are printed as one
table, a column pair (ACC, BWT: mean +- sample std over seeds) per label, plus the mean wall time.
``--step T=DIR`` names a sweep of ``hlop`` trained with ``T`` and per-step subspaces.

The issue-13 targets checked (PASS / FAIL, with the figures):

* on at least one label: HLOP's mean BWT >= -2.5 and HLOP's mean ACC >= GPM's;
* per ``--step`` sweep: mean BWT >= -2.5 with a margin (mean + 2.5) larger than the seed std.

Nothing is run here: the figures are the sweeps' own, which keep every run's JSON (settings,
machine, library versions) under ``DIR/runs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ORDER = ("baseline", "ewc", "replay", "gpm", "hlop", "hlop+replay", "multitask", "svd-oracle")
BWT_TARGET = -2.5


def _pair(text: str, flag: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise SystemExit(f"hlop_tables: {flag}: expected LABEL=DIR (got {text!r})")
    return label, Path(path)


def read_table(path: Path) -> dict[str, Any]:
    """The ``table.json`` of a sweep directory, checked for the fields used here."""
    file = path / "table.json"
    try:
        doc = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"hlop_tables: {file}: cannot read a sweep table ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not isinstance(doc.get("grid"), dict):
        raise SystemExit(f"hlop_tables: {file}: expected a sweep table with 'grid' and 'rows'")
    return doc


def _fmt(mean: float | None, std: float | None) -> str:
    return "-" if mean is None else f"{mean:.2f} ± {std:.2f}"


def side_by_side(tables: dict[str, dict[str, Any]]) -> str:
    """One markdown table: a row per (method, train), ACC / BWT / wall per label."""
    rows: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for label, doc in tables.items():
        for r in doc["rows"]:
            rows.setdefault((r["method"], r["train"]), {})[label] = r
    keys = sorted(rows, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else len(ORDER), k[0], k[1]))
    labels = list(tables)
    head = "| method | train | " + " | ".join(f"{lb}: ACC % | {lb}: BWT | {lb}: wall s" for lb in labels) + " |"
    out = [head, "|" + "---|" * (2 + 3 * len(labels))]
    for key in keys:
        cells = []
        for lb in labels:
            r = rows[key].get(lb)
            if r is None:
                cells += ["-", "-", "-"]
                continue
            seeds = len(r["seeds"])
            note = "" if seeds == 5 else f" ({seeds} seeds)"
            cells += [_fmt(r["acc_mean"], r["acc_std"]) + note, _fmt(r["bwt_mean"], r["bwt_std"]), f"{r['wall_time_s_mean']:.0f}"]
        out.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def check_targets(tables: dict[str, dict[str, Any]], steps: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """(target, met, figures) for each issue-13 target that the given sweeps can decide."""
    results = []
    verdicts = []
    for label, doc in tables.items():
        by = {(r["method"], r["train"]): r for r in doc["rows"]}
        hlop, gpm = by.get(("hlop", "dsr")), by.get(("gpm", "dsr"))
        if hlop is None or gpm is None or hlop["bwt_mean"] is None:
            continue
        ok = hlop["bwt_mean"] >= BWT_TARGET and hlop["acc_mean"] >= gpm["acc_mean"]
        verdicts.append(ok)
        results.append(
            (
                f"{label}: HLOP mean BWT >= {BWT_TARGET} and mean ACC >= GPM's",
                ok,
                f"BWT {hlop['bwt_mean']:.2f}, ACC {hlop['acc_mean']:.2f} vs GPM {gpm['acc_mean']:.2f}",
            )
        )
    if verdicts:
        results.append(("on at least one variant", any(verdicts), f"{sum(verdicts)} of {len(verdicts)}"))
    for train, doc in steps.items():
        row = next((r for r in doc["rows"] if r["method"] == "hlop" and r["train"] == train), None)
        if row is None or row["bwt_mean"] is None:
            results.append((f"{train} per step: a hlop/{train} row", False, "missing"))
            continue
        margin = row["bwt_mean"] - BWT_TARGET
        ok = row["bwt_mean"] >= BWT_TARGET and margin > row["bwt_std"]
        results.append(
            (
                f"{train} per step: mean BWT >= {BWT_TARGET}, margin > seed std",
                ok,
                f"BWT {row['bwt_mean']:.2f} ± {row['bwt_std']:.2f} over {len(row['seeds'])} seeds, margin {margin:.2f}",
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sweep", action="append", default=[], metavar="LABEL=DIR", help="a finished sweep directory")
    ap.add_argument("--step", action="append", default=[], metavar="TRAIN=DIR", help="a per-step hlop sweep")
    ap.add_argument("--markdown", metavar="OUT.md", help="also write the table and the targets here")
    args = ap.parse_args(argv)
    if not args.sweep and not args.step:
        ap.error("give at least one --sweep or --step")
    tables = {label: read_table(path) for label, path in (_pair(s, "--sweep") for s in args.sweep)}
    steps = {train: read_table(path) for train, path in (_pair(s, "--step") for s in args.step)}
    lines = []
    if tables:
        lines += [side_by_side(tables), ""]
    if steps:  # one column group: the per-step sweeps differ in their training method only
        lines += [side_by_side({"per step": {"rows": [r for doc in steps.values() for r in doc["rows"]]}}), ""]
    for target, ok, figures in check_targets(tables, steps):
        lines.append(f"- {'PASS' if ok else 'FAIL'}: {target} ({figures})")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
