"""The same small PyNN script on pyNN.nest and neurohop.pynn gives matching statistics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("nest", reason="NEST is a peer (nest-simulator): pip install '.[peers]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

# NEST and PyNN's NEST module warn about their own deprecations and a missing nest-config.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_vogels_abbott_statistics_match_nest():
    import bench_pynn_nest as bench

    import neurohop.pynn as nh
    import pyNN.nest as nest_sim

    n, t_stop = 400, 600.0
    ours = bench.build_and_run(nh, n, t_stop, seed=11, backend="torch")
    theirs = bench.build_and_run(nest_sim, n, t_stop, seed=11, threads=1)
    a = bench.statistics_of(ours["trains"], ours["n_exc"], t_stop)
    b = bench.statistics_of(theirs["trains"], theirs["n_exc"], t_stop)
    # ~ 400 cells x 0.5 s x 20 Hz = 4000 spikes per side: Poisson noise on a rate is ~2%;
    # 10% leaves room for the different random streams of the two simulators.
    for key in ("rate_exc_hz", "rate_inh_hz"):
        assert a[key] > 5.0
        assert abs(a[key] - b[key]) < 0.10 * b[key], (key, a, b)
    assert abs(a["cv_isi"] - b["cv_isi"]) < 0.05, (a, b)
