"""Grids of continual-learning runs on Dask, kept on disk run by run, summarised over seeds.

:func:`run_sweep` runs every (method, training method, seed) of a grid on one data set and
scenario with :func:`~neurohop.hlop.runner.run_continual`, on a Dask cluster (a
:class:`dask.distributed.LocalCluster` by default, ``scheduler='tcp://host:port'`` for a
running one). Layout of the output directory:

``grid.json``
    The settings shared by every run (data, scenario, tasks, model file, overrides, device).
    A restart with other shared settings is refused, so runs of different grids never mix.
``runs/<method>__<train>__s<seed>.json``
    One finished run: exactly what ``neurohop cl run --json`` writes, written atomically when
    the run ends. Runs whose file exists are skipped on a restart.
``checkpoints/<method>__<train>__s<seed>/``
    Per-task checkpoints of the runs in progress (removed when a run finishes), so an
    interrupted run continues from its last finished task.
``table.md``, ``table.json``, ``table.png``
    Per method and training method: ACC and BWT as mean and sample standard deviation
    (``ddof=1``; 0 for one seed) over the seeds, mean wall time, and the seeds used.

Every run is seeded from its own seed only, so a local cluster, a remote one and a plain
``neurohop cl run --seed S`` give the same accuracy matrices.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from neurohop.errors import InputError

__all__ = ["SweepRun", "parse_seeds", "run_one", "run_sweep", "summarise", "table_markdown", "write_table", "plot_table"]


@dataclass(frozen=True)
class SweepRun:
    """One cell of the grid."""

    method: str
    train: str
    seed: int

    @property
    def key(self) -> str:
        """File-name stem of the run (``hlop__dsr__s0``)."""
        return f"{self.method}__{self.train}__s{self.seed}"


#: The most seeds one sweep takes (each is a full run per method and training method).
MAX_SEEDS = 10_000


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """Seeds from ``'0-4'``, ``'0,2,7'``, ``'3'`` (or a list of integers), in order, without repeats."""
    if not isinstance(text, str):
        items = list(text)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in items):
            raise InputError(f"seeds: expected integers >= 0 (got {items!r})")
        out = [int(s) for s in items]
        if len(out) > MAX_SEEDS:
            raise InputError(f"seeds: expected at most {MAX_SEEDS} seeds (got {len(out)})")
    else:
        out = []
        for part in text.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
                raise InputError(f"seeds: expected a list like '0-4' or '0,2,5' of integers >= 0 (got {text!r})")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if len(out) + hi - lo + 1 > MAX_SEEDS:
                raise InputError(f"seeds: expected at most {MAX_SEEDS} seeds (got {text!r})")
            out += list(range(lo, hi + 1))
    out = list(dict.fromkeys(out))
    if not out:
        raise InputError(f"seeds: expected at least one seed (got {text!r})")
    return out


def run_one(run: SweepRun, shared: Mapping[str, Any], checkpoint_dir: str | None) -> dict[str, Any]:
    """Run one cell of the grid (on a Dask worker) and return its result dictionary.

    ``shared`` holds the grid settings (see :func:`run_sweep`); the data set is loaded here, so
    nothing large travels between client and worker.
    """
    import torch

    from neurohop.data import load_dataset, make_tasks
    from neurohop.hlop.config import read_config
    from neurohop.hlop.metrics import ProjectionStabilityWarning
    from neurohop.hlop.runner import run_continual

    if shared.get("threads"):
        torch.set_num_threads(int(shared["threads"]))
    config = read_config(shared["model"], dict(shared["overrides"]))
    dataset = load_dataset(shared["data"])
    sequence = make_tasks(dataset, shared["scenario"], int(shared["tasks"]), np.random.default_rng(run.seed), head=shared["head"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProjectionStabilityWarning)  # kept in the result's diagnostics
        result = run_continual(
            sequence, run.method, run.train, config, seed=run.seed, device=shared["device"], checkpoint_dir=checkpoint_dir, resume=checkpoint_dir is not None
        )
    doc = result.to_dict()
    doc["settings"]["model_file"] = config.source
    doc["settings"]["data_source"] = shared["data"]
    return doc


def _read_run(path: Path) -> dict[str, Any] | None:
    """A finished run's JSON, or None when absent or unreadable (the run is then done again)."""
    from neurohop.errors import NeurohopError
    from neurohop.files import read_json

    if not path.is_file():
        return None
    try:
        doc = read_json(path, error=InputError)
    except NeurohopError:
        return None
    return doc if isinstance(doc, dict) and "acc" in doc and "accuracy_matrix" in doc else None


def _write_json(path: Path, doc: Any) -> None:
    from neurohop.files import atomic_write

    text = json.dumps(doc, indent=1)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))


def _check_names(methods: Sequence[str], trains: Sequence[str]) -> None:
    from neurohop.hlop.config import TRAIN_METHODS
    from neurohop.hlop.methods import METHODS

    for name in methods:
        if name not in METHODS:
            raise InputError(f"method: expected one of {list(METHODS)} (got {name!r})")
    for name in trains:
        if name not in TRAIN_METHODS:
            raise InputError(f"train: expected one of {list(TRAIN_METHODS)} (got {name!r})")
    if not methods or not trains:
        raise InputError(f"sweep: expected at least one method and one training method (got {list(methods)} and {list(trains)})")


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarise(runs: Mapping[SweepRun, Mapping[str, Any]], methods: Sequence[str], trains: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (method, training method) with any finished run: ACC/BWT mean and std over seeds."""
    rows = []
    for method in methods:
        for train in trains:
            cells = sorted(((r.seed, doc) for r, doc in runs.items() if r.method == method and r.train == train), key=lambda c: c[0])
            if not cells:
                continue
            accs = [float(doc["acc"]) for _, doc in cells]
            bwts = [float(doc["bwt"]) for _, doc in cells if doc.get("bwt") is not None]
            walls = [float(doc["wall_time_s"]) for _, doc in cells]
            acc_mean, acc_std = _mean_std(accs)
            bwt_mean, bwt_std = _mean_std(bwts)
            rows.append(
                {
                    "method": method,
                    "train": train,
                    "seeds": [s for s, _ in cells],
                    "acc": accs,
                    "bwt": [float(doc["bwt"]) if doc.get("bwt") is not None else None for _, doc in cells],
                    "acc_mean": acc_mean,
                    "acc_std": acc_std,
                    "bwt_mean": bwt_mean,
                    "bwt_std": bwt_std,
                    "wall_time_s_mean": float(np.mean(walls)),
                }
            )
    return rows


def _pm(mean: float | None, std: float | None) -> str:
    return "n/a" if mean is None else f"{mean:.2f} ± {std:.2f}"


def table_markdown(rows: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """The paper-style table: ACC (%) and BWT (points) as mean ± sample std over seeds."""
    lines = [f"{title}\n" if title else ""]
    lines.append("| method | train | seeds | ACC % (mean ± std) | BWT (mean ± std) | wall s (mean) |")
    lines.append("|---|---|---|---|---|---|")
    for r in rows:
        seeds = ",".join(str(s) for s in r["seeds"])
        lines.append(
            f"| {r['method']} | {r['train']} | {seeds} | {_pm(r['acc_mean'], r['acc_std'])} | {_pm(r['bwt_mean'], r['bwt_std'])} | {r['wall_time_s_mean']:.1f} |"
        )
    return "\n".join(line for line in lines if line) + "\n"


def plot_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Bar chart of ACC and BWT (mean, error bars one std, the seeds as dots) per method and training method."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from neurohop.files import atomic_write

    labels = [f"{r['method']}\n{r['train']}" for r in rows]
    fig = Figure(figsize=(2.0 + 0.9 * max(len(rows), 1), 5.5), dpi=110)
    FigureCanvasAgg(fig)
    x = np.arange(len(rows))
    for k, (key, name) in enumerate((("acc", "ACC %"), ("bwt", "BWT (points)"))):
        ax = fig.add_subplot(2, 1, k + 1)
        means = [np.nan if r[f"{key}_mean"] is None else r[f"{key}_mean"] for r in rows]
        stds = [0.0 if r[f"{key}_std"] is None else r[f"{key}_std"] for r in rows]
        ax.bar(x, means, yerr=stds, color="tab:blue" if key == "acc" else "tab:red", alpha=0.6, capsize=3)
        for i, r in enumerate(rows):
            vals = [v for v in r[key] if v is not None]
            ax.plot([i] * len(vals), vals, "k.", markersize=4)
        ax.set_ylabel(name)
        ax.set_xticks(x)
        ax.set_xticklabels(labels if k == 1 else [""] * len(rows), fontsize=7)
        ax.axhline(0.0, color="grey", linewidth=0.5)
    fig.tight_layout()
    target = Path(path)

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png")

    return atomic_write(target, write)


def write_table(out: Path, rows: list[dict[str, Any]], shared: Mapping[str, Any], failed: Mapping[str, str]) -> None:
    """``table.md``, ``table.json`` and ``table.png`` in ``out``."""
    from neurohop.files import atomic_write

    title = f"{shared['data']}, {shared['scenario']}, {shared['tasks']} tasks (model {shared['model']})"
    text = table_markdown(rows, f"### {title}")
    atomic_write(out / "table.md", lambda tmp: Path(tmp).write_text(text))
    _write_json(out / "table.json", {"grid": dict(shared), "rows": rows, "failed": dict(failed), "std": "sample standard deviation over seeds (ddof=1; 0 for one seed)"})
    if rows:
        plot_table(rows, out / "table.png")


def run_sweep(
    methods: Sequence[str],
    trains: Sequence[str],
    seeds: str | Iterable[int],
    out: str | os.PathLike[str],
    *,
    data: str = "mnist5k",
    scenario: str = "permuted",
    tasks: int = 10,
    model: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    head: str | None = None,
    device: str = "cpu",
    scheduler: str | None = None,
    workers: int = 2,
    processes: bool = True,
    threads: int | None = 1,
    checkpoints: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the grid methods x trains x seeds, skipping runs already on disk, and write the table.

    Parameters
    ----------
    methods, trains : sequence of str
        Continual-learning and training methods.
    seeds : str or iterable of int
        ``'0-4'``, ``'0,3'`` or a list.
    out : path
        Output directory (layout in the module docstring).
    data, scenario, tasks, model, overrides, head, device
        As for ``neurohop cl run`` (``model`` None: the default model file for the data and
        scenario; ``overrides``: dotted model-file fields).
    scheduler : str, optional
        Address of a running Dask scheduler; None starts a local cluster of ``workers`` workers
        (``processes`` True: one process each, else threads of this process).
    threads : int or None
        torch threads per run (1 by default: one run per core).
    checkpoints : bool
        Per-task checkpoints under ``out/checkpoints`` (with a remote scheduler ``out`` must be
        a path the workers can write).

    Returns
    -------
    dict
        ``rows`` (see :func:`summarise`), ``executed`` and ``skipped`` (run keys), ``failed``
        (key -> error message of runs that raised).
    """
    from neurohop.hlop.cli import default_model

    _check_names(methods, trains)
    seed_list = parse_seeds(seeds)
    if isinstance(tasks, bool) or not isinstance(tasks, (int, np.integer)) or tasks < 1:
        raise InputError(f"tasks: expected an integer >= 1 (got {tasks!r})")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers: expected an integer >= 1 (got {workers!r})")
    from neurohop.hlop.config import read_config

    model_name = model or default_model(data, scenario)
    read_config(model_name, dict(overrides or {}))  # bad settings fail here, before any cluster starts
    from neurohop.data import load_dataset

    load_dataset(data)  # likewise a bad data path
    shared = {
        "data": str(data),
        "scenario": scenario,
        "tasks": int(tasks),
        "model": model_name,
        "overrides": {str(k): v for k, v in (overrides or {}).items()},
        "head": head,
        "device": device,
        "threads": threads,
    }
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: out: expected a directory (got a file)")
    grid_file = root / "grid.json"
    if grid_file.exists():
        from neurohop.files import read_json

        before = read_json(grid_file, error=InputError)
        if not isinstance(before, dict):
            raise InputError(f"{grid_file}: expected the sweep's settings as a JSON object (got {type(before).__name__})")
        same = {k: v for k, v in shared.items() if k not in ("threads",)}
        old = {k: v for k, v in before.items() if k not in ("threads",)}
        if json.loads(json.dumps(same)) != old:
            diff = sorted(k for k in same if json.loads(json.dumps(same.get(k))) != old.get(k))
            raise InputError(f"{grid_file}: out holds a sweep with other settings (differs in {diff}); use another directory")
    else:
        _write_json(grid_file, shared)

    grid = [SweepRun(m, t, s) for m in methods for t in trains for s in seed_list]
    done: dict[SweepRun, dict[str, Any]] = {}
    pending: list[SweepRun] = []
    for run in grid:
        doc = _read_run(root / "runs" / f"{run.key}.json")
        if doc is not None:
            done[run] = doc
        else:
            pending.append(run)
    skipped = [r.key for r in grid if r in done]
    executed: list[str] = []
    failed: dict[str, str] = {}
    if pending:
        from dask.distributed import as_completed
        from tqdm import tqdm

        from neurohop.cluster import dask_client

        with dask_client(scheduler, min(int(workers), len(pending)), processes) as client:
            if progress:
                print(f"cl sweep: {len(pending)} runs to do, {len(skipped)} on disk; Dask dashboard {client.dashboard_link}", file=sys.stderr)
            futures = {}
            for run in pending:
                ck = str(root / "checkpoints" / run.key) if checkpoints else None
                futures[client.submit(run_one, run, shared, ck, pure=False, key=f"hlop-sweep-{run.key}")] = run
            with tqdm(total=len(futures), desc="cl sweep", unit="run", disable=not progress) as bar:
                for fut in as_completed(futures):
                    run = futures[fut]
                    try:
                        doc = fut.result()
                    except Exception as exc:  # one failed run must not lose the others
                        failed[run.key] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    else:
                        _write_json(root / "runs" / f"{run.key}.json", doc)
                        done[run] = doc
                        executed.append(run.key)
                        if checkpoints:
                            shutil.rmtree(root / "checkpoints" / run.key, ignore_errors=True)
                    bar.update(1)
    rows = summarise(done, methods, trains)
    write_table(root, rows, shared, failed)
    return {"rows": rows, "executed": executed, "skipped": skipped, "failed": failed, "out": str(root)}
