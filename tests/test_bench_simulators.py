"""The cross-simulator benchmark (benchmarks/bench_simulators.py): its one description and its
statistics (fast), and a smoke run of its neurohop part (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_simulators as bench  # noqa: E402


def test_the_description_is_the_specified_network() -> None:
    cfg = bench.Config()
    net = bench.describe(cfg)
    assert net.sizes == {"input": 1000, "exc": 3200, "inh": 800}
    lists = bench.synapse_lists(net)
    # expected synapses: 0.02 * (4000 * 3999) recurrent and 0.05 * 1000 * 4000 input; binomial sd about 560 and 440
    assert abs(lists["rec_pre"].size - 0.02 * 4000 * 3999) < 3000
    assert abs(lists["in_pre"].size - 0.05 * 1000 * 4000) < 3000
    rec = lists["rec_pre"] * 4000 + lists["rec_post"]
    assert np.unique(rec).size == rec.size and not np.any(lists["rec_pre"] == lists["rec_post"])  # no repeats, no autapses
    assert np.all(lists["rec_delay"] == 10) and np.all(lists["in_delay"] == 10)  # 1 ms at dt 0.1 ms
    assert np.all(lists["rec_weight"][lists["rec_pre"] < 3200] > 0) and np.all(lists["rec_weight"][lists["rec_pre"] >= 3200] < 0)
    v0 = net.population("exc").initial["v"]
    assert v0.min() >= -60.0 and v0.max() < -50.0
    assert bench.digest(bench.synapse_lists(bench.describe(cfg))) == bench.digest(lists)  # the same seeds give the same network
    raster = bench.input_raster(cfg)
    # 1000 sources x 10000 steps x p = 0.002: 20000 spikes expected, sd about 141
    assert abs(raster.sum() - 20000) < 1000
    assert not np.array_equal(bench.input_raster(cfg, 1), raster)


def test_spike_statistics_by_hand() -> None:
    cfg = replace(bench.Config(), n_exc=2, n_inh=1, time_ms=1000.0)
    # cell 0: spikes at steps 0, 10, 30 (ISIs 10, 20: CV = 5/15); cell 2 (inhibitory): 2 spikes (no CV)
    step = np.array([0, 10, 30, 5, 6])
    cell = np.array([0, 0, 0, 2, 2])
    stats = bench.spike_stats(cfg, step, cell)
    assert stats == pytest.approx({"rate_exc": 1.5, "rate_inh": 2.0, "cv_isi": 1 / 3})


@pytest.mark.slow
def test_quick_run_of_the_neurohop_part(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_simulators.py"), "--quick", "--time", "100", "--reps", "1", "--simulators", "neurohop", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())["results"]
    assert set(results) == set(bench.NEUROHOP)
    for name, row in results.items():
        assert row["run_s"] > 0 and row["peak_mb"] > 0, name
        assert row["rate_exc"] > 1.0 and row["rate_inh"] > 1.0, (name, row)
    # the event-driven backend runs the same network on the same inputs: the same spikes, so the same figures
    for key in ("rate_exc", "rate_inh", "cv_isi"):
        assert results["neurohop_torch_event"][key] == results["neurohop_torch_f64"][key]
    assert "neurohop torch float64" in proc.stdout and "x NEST" in proc.stdout
