"""The capacity sweep: measured M_cap near the Willshaw bound, and the same rows on any Dask cluster."""

from __future__ import annotations

import logging

import pytest

from neurohop.cam.attractor.capacity import check_settings, checkpoints, measure_group, run_sweep
from neurohop.errors import InputError

SMALL = {"probes": 30, "refine": 2, "ratio": 1.4}


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_s_group"} for r in rows]


@pytest.mark.slow  # Dask cluster start / capacity sweep
def test_measured_capacity_is_close_to_the_willshaw_bound() -> None:
    rows = measure_group(96, 6, [0.5, 1.0], 0, seed=1, **SMALL)
    for row in rows:
        assert 0.5 <= row["ratio"] <= 1.6, row
        assert row["m_cap"] > row["hopfield_0138n"]
        assert row["curve"] and all(p["error"] <= 1 for p in row["curve"] if p["m"] <= row["m_cap"] // 2)
        assert row["bits_per_synapse"] > 0


@pytest.mark.slow  # Dask cluster start / capacity sweep
def test_local_cluster_and_scheduler_address_give_the_same_rows(worker_env: None) -> None:
    from dask.distributed import LocalCluster

    settings = [(48, 4, 0.5, 0), (48, 4, 1.0, 0), (40, 3, 1.0, 1)]
    local = run_sweep(settings, workers=2, progress=False, seed=3, **SMALL)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        remote = run_sweep(settings, scheduler=cluster.scheduler_address, progress=False, seed=3, **SMALL)
    assert _strip(local) == _strip(remote)
    assert [(r["n"], r["k"], r["cue_fraction"], r["false_bits"]) for r in local] == [(48, 4, 0.5, 0), (48, 4, 1.0, 0), (40, 3, 1.0, 1)]


@pytest.mark.parametrize(
    "setting,match",
    [
        ((64, 4, 0.0, 0), r"cue fraction: expected a number in \(0, 1\] \(got 0.0\)"),
        ((64, 4, 1.5, 0), r"cue fraction: expected a number in \(0, 1\] \(got 1.5\)"),
        ((64, 64, 0.5, 0), r"k: expected an integer in 1..63 \(got 64\)"),
        ((1, 1, 0.5, 0), r"n: expected an integer >= 2 \(got 1\)"),
        ((64, 4, 0.5, 61), r"false bits: expected an integer in 0..60 \(got 61\)"),
    ],
)
def test_bad_settings(setting: tuple, match: str) -> None:
    with pytest.raises(InputError, match=match):
        check_settings([setting])


def test_checkpoint_grid_brackets_the_bounds() -> None:
    grid = checkpoints([100.0, 400.0], ratio=1.5)
    assert grid[0] == 25 and grid[-1] == 1000
    assert all(1 < b / a <= 1.5 * 1.05 for a, b in zip(grid, grid[1:]))


@pytest.mark.slow  # Dask cluster start / capacity sweep
def test_brian2_sweep_runs_in_dask_workers(worker_env: None) -> None:
    """Brian2 is imported inside a worker thread (it installs a signal handler on import)."""
    settings = [(24, 3, 1.0, 0)]
    options = {"probes": 5, "refine": 0, "ratio": 3.0, "seed": 2}
    on_brian2 = run_sweep(settings, workers=1, progress=False, backend="brian2", **options)
    on_torch = measure_group(24, 3, [1.0], 0, **options)
    assert _strip(on_brian2)[0]["curve"] == _strip(on_torch)[0]["curve"]
