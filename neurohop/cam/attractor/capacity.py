"""Measured capacity of the attractor memory, swept on Dask and compared with theory.

For one (N, k, false bits) a single memory stores a seeded stream of random patterns
incrementally; at checkpoints of M (a geometric grid around the Willshaw bound) it probes
recall from cues of every requested cue fraction and records mean missing bits, false bits
and overlap. M_cap, the largest M with mean (missing + false) <= 1, is then narrowed by
bisection between the last good and the first bad checkpoint: the memory returns to a
snapshot of the last good load and stores on from there. Every random draw is seeded from
(seed, N, k, false bits, M, cue), so a local cluster and a remote scheduler give the same
rows.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from neurohop.cam.attractor import theory
from neurohop.errors import InputError

__all__ = ["Setting", "check_settings", "checkpoints", "measure_group", "run_sweep", "MAX_ERROR"]

#: Capacity criterion: mean (missing + false) bits per recall.
MAX_ERROR = 1.0

Setting = tuple[int, int, float, int]  #: (n, k, cue fraction, false bits)


def check_settings(settings: Iterable[Setting]) -> list[Setting]:
    """Validate (n, k, cue fraction, false bits) tuples; :class:`InputError` names the bad one."""
    out = []
    for n, k, cue, f in settings:
        where = f"capacity setting n={n}, k={k}, cue={cue}, false_bits={f}"
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise InputError(f"{where}: n: expected an integer >= 2 (got {n!r})")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
            raise InputError(f"{where}: k: expected an integer in 1..{n - 1} (got {k!r})")
        if isinstance(cue, bool) or not isinstance(cue, (int, float)) or not 0 < cue <= 1:
            raise InputError(f"{where}: cue fraction: expected a number in (0, 1] (got {cue!r})")
        if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 0 <= f <= n - k:
            raise InputError(f"{where}: false bits: expected an integer in 0..{n - k} (got {f!r})")
        from neurohop.files import check_memory

        check_memory(40.0 * n * n, f"an attractor memory of n={n} cells (all-to-all recurrent synapses)", where)  # lower bound of AttractorMemory._static_bytes
        out.append((int(n), int(k), float(cue), int(f)))
    if not out:
        raise InputError("capacity: expected at least one setting")
    return out


def checkpoints(m_bounds: Sequence[float], ratio: float = 1.25, low: float = 0.25, high: float = 2.5, m_limit: int = 10**7) -> list[int]:
    """A geometric grid of loads from ``low * min(bound)`` to ``high * max(bound)``."""
    finite = [m for m in m_bounds if math.isfinite(m)] or [1.0]
    m, top = max(1.0, low * min(finite)), min(float(m_limit), max(2.0, high * max(finite)))
    grid = []
    while m <= top:
        grid.append(int(round(m)))
        m *= ratio
    grid.append(int(round(top)))
    return sorted(set(g for g in grid if g >= 1))


def _probe(mem: Any, patterns: np.ndarray, m: int, c: int, false_bits: int, probes: int, seed: int, ci: int) -> dict[str, float]:
    from neurohop.cam.attractor.memory import make_cues

    rng = np.random.default_rng([seed, mem.n, mem.k, false_bits, 1, m, ci])
    ids = rng.choice(m, size=probes, replace=probes > m)
    cues, targets = make_cues(rng, patterns[ids], mem.n, c, false_bits)
    res = mem.recall(cues, targets)
    return {"m": int(m), "missing": res.mean_missing, "false": res.mean_false, "overlap": res.mean_overlap, "error": res.mean_error}


def measure_group(
    n: int,
    k: int,
    cue_fractions: Sequence[float],
    false_bits: int = 0,
    *,
    seed: int = 0,
    probes: int = 100,
    backend: str = "torch_event",
    device: str = "cpu",
    dtype: str | None = None,
    model: str = "ca3_attractor",
    ratio: float = 1.25,
    refine: int = 3,
    stop_error: float = 4.0,
    threads: int = 1,
    report: Callable[[str], Any] | None = None,
) -> list[dict[str, Any]]:
    """Measure M_cap for every cue fraction of one (N, k, false bits); one row per cue fraction.

    One memory stores a seeded pattern stream up to the last checkpoint that any cue
    fraction still recalls with mean error <= ``stop_error``; bisection (``refine`` halvings)
    then narrows each M_cap between the last good and the first bad checkpoint. ``report``,
    when given, is called with one line of text after each checkpoint (progress feedback).
    """
    import time

    import torch

    from neurohop.cam.attractor.memory import AttractorMemory, random_patterns

    torch.set_num_threads(threads)
    _import_backend(backend)
    start = time.perf_counter()
    cs = [theory.correct_bits(k, f) for f in cue_fractions]
    bounds = [theory.m_max_willshaw(n, k, c) for c in cs]
    grid = checkpoints(bounds, ratio=ratio)
    options: dict[str, Any] = {"device": device} if dtype is None else {"device": device, "dtype": dtype}
    mem = AttractorMemory(n, k, model=model, backend=backend, false_tolerance=false_bits, **options)
    patterns = random_patterns(np.random.default_rng([seed, n, k, false_bits, 0]), grid[-1], n, k)
    curves: list[list[dict[str, float]]] = [[] for _ in cs]
    good = [0] * len(cs)
    bad: list[int | None] = [None] * len(cs)
    snaps = [mem.snapshot() for _ in cs] if refine else [None] * len(cs)
    active = list(range(len(cs)))
    for m in grid:
        if not active:
            break
        mem.store(patterns[mem.stored : m])
        still = []
        for ci in active:
            point = _probe(mem, patterns, m, cs[ci], false_bits, probes, seed, ci)
            curves[ci].append(point)
            if point["error"] <= MAX_ERROR and bad[ci] is None:
                good[ci] = m
                if refine:
                    snaps[ci] = mem.snapshot()
            elif bad[ci] is None:
                bad[ci] = m
            if point["error"] <= stop_error:
                still.append(ci)
        active = still
        if report is not None:
            report(f"N={n} k={k} F={false_bits}: checkpoint M={m} of {grid[-1]} after {time.perf_counter() - start:.0f} s")
    for ci in range(len(cs)):
        lo, hi = good[ci], bad[ci]
        if not refine or hi is None:
            continue
        mem.restore(snaps[ci])
        for _ in range(refine):
            mid = (lo + hi) // 2
            if mid <= lo:
                break
            if mem.stored != lo:
                mem.restore(snaps[ci])
            mem.store(patterns[lo:mid])
            point = _probe(mem, patterns, mid, cs[ci], false_bits, probes, seed, ci)
            curves[ci].append(point)
            if point["error"] <= MAX_ERROR:
                lo = mid
                snaps[ci] = mem.snapshot()
            else:
                hi = mid
        good[ci] = lo
    synapses = mem.synapses
    wall = time.perf_counter() - start
    rows = []
    for ci, (cue, c) in enumerate(zip(cue_fractions, cs)):
        m_cap, m_max = good[ci], bounds[ci]
        rows.append(
            {
                "n": n,
                "k": k,
                "cue_fraction": float(cue),
                "false_bits": false_bits,
                "correct_bits": c,
                "m_cap": int(m_cap),
                "m_max_willshaw": m_max,
                "ratio": m_cap / m_max if math.isfinite(m_max) and m_max > 0 else None,
                "bits_per_synapse": theory.bits_per_synapse(n, k, m_cap, synapses),
                "bits_per_synapse_willshaw": theory.bits_per_synapse(n, k, m_max, synapses) if math.isfinite(m_max) else None,
                "hopfield_0138n": theory.hopfield_limit(n),
                "above_hopfield": m_cap > theory.hopfield_limit(n),
                "first_failing_m": bad[ci],
                "curve": sorted(curves[ci], key=lambda p: p["m"]),
                "settings": {"seed": seed, "probes": probes, "backend": backend, "device": device, "dtype": dtype, "model": model, "grid_ratio": ratio, "bisection_steps": refine, "max_error": MAX_ERROR},
                "wall_s_group": round(wall, 3),
            }
        )
    return rows


def _import_backend(backend: str) -> None:
    """Import a backend's module from a worker thread.

    Some simulators (Brian2) install a Ctrl-C handler when imported, which Python allows
    only in the main thread; Dask runs tasks in worker threads. The handler is skipped there
    (the worker process handles its own signals).
    """
    import signal
    import threading

    from neurohop.backends import simulation_class

    if threading.current_thread() is threading.main_thread():
        simulation_class(backend)
        return
    original = signal.signal
    signal.signal = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        simulation_class(backend)
    finally:
        signal.signal = original


#: Dask event topic on which workers report checkpoints.
PROGRESS_TOPIC = "neurohop-capacity-progress"


def _measure_reporting(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`measure_group` on a Dask worker, reporting each checkpoint as a worker event."""
    from distributed import get_worker

    worker = get_worker()
    return measure_group(*args, report=lambda text: worker.log_event(PROGRESS_TOPIC, text), **kwargs)


def run_sweep(
    settings: Iterable[Setting],
    *,
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = True,
    **options: Any,
) -> list[dict[str, Any]]:
    """Measure every setting on Dask and return one row per setting, in the given order.

    Settings sharing (N, k, false bits) are measured by one task on one memory. Without
    ``scheduler`` a :class:`dask.distributed.LocalCluster` of ``workers`` single-threaded
    processes is started and closed; with ``scheduler="tcp://host:port"`` the tasks go to
    that cluster. ``options`` go to :func:`measure_group`.
    """
    from dask.distributed import as_completed
    from tqdm import tqdm

    from neurohop.cluster import dask_client

    settings = check_settings(settings)
    groups: dict[tuple[int, int, int], list[float]] = {}
    for n, k, cue, f in settings:
        cues = groups.setdefault((n, k, f), [])
        if cue not in cues:
            cues.append(cue)
    if not scheduler and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"capacity: workers: expected an integer >= 1 (got {workers!r})")
    rows: dict[tuple[int, int, float, int], dict[str, Any]] = {}
    with dask_client(scheduler, min(workers, len(groups)) if not scheduler else 1) as client:
        futures = [client.submit(_measure_reporting, n, k, cues, f, pure=False, **options) for (n, k, f), cues in groups.items()]
        with tqdm(total=len(futures), desc="attractor capacity", unit="setting group", disable=not progress) as bar:
            if progress:  # each worker reports its checkpoints, so the first minutes are not silent
                client.subscribe_topic(PROGRESS_TOPIC, lambda event: bar.set_postfix_str(str(event[1]), refresh=True))
            for fut in as_completed(futures):
                for row in fut.result():
                    rows[(row["n"], row["k"], row["cue_fraction"], row["false_bits"])] = row
                bar.update(1)
    return [rows[s] for s in settings]
