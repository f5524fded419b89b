"""``cl sweep``: a grid on Dask, one JSON per run, restart skips finished runs, table = the runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurohop.errors import InputError
from neurohop.hlop.sweep import SweepRun, parse_seeds, run_sweep, summarise, table_markdown

pytest.importorskip("dask.distributed")

GRID = {
    "data": "digits",
    "scenario": "permuted",
    "tasks": 2,
    "overrides": {"train.epochs": 1, "lateral.hebbian.epochs": 1},
    "processes": False,  # threads of this process: no worker start-up cost in a test
    "workers": 1,
    "progress": False,
}


def test_parse_seeds() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0,2-3,2") == [0, 2, 3]
    for bad in ("", "a", "4-2", "-1", "1,,2"):
        with pytest.raises(InputError, match="seeds: expected"):
            parse_seeds(bad)


def test_sweep_runs_grid_tabulates_and_skips_finished_runs(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    report = run_sweep(["baseline", "hlop"], ["dsr"], "0-1", out, **GRID)
    keys = {"baseline__dsr__s0", "baseline__dsr__s1", "hlop__dsr__s0", "hlop__dsr__s1"}
    assert set(report["executed"]) == keys and report["skipped"] == [] and report["failed"] == {}
    runs = {k: json.loads((out / "runs" / f"{k}.json").read_text()) for k in keys}
    assert not any((out / "checkpoints").iterdir())  # removed once each run finished
    # the table is computed from exactly these files
    table = json.loads((out / "table.json").read_text())
    assert [(r["method"], r["train"], r["seeds"]) for r in table["rows"]] == [("baseline", "dsr", [0, 1]), ("hlop", "dsr", [0, 1])]
    for row in table["rows"]:
        docs = [runs[f"{row['method']}__dsr__s{s}"] for s in (0, 1)]
        acc = [d["acc"] for d in docs]
        bwt = [d["bwt"] for d in docs]
        assert row["acc"] == acc and row["bwt"] == bwt
        assert row["acc_mean"] == pytest.approx(np.mean(acc), abs=1e-12)
        assert row["acc_std"] == pytest.approx(np.std(acc, ddof=1), abs=1e-12)
        assert row["bwt_mean"] == pytest.approx(np.mean(bwt), abs=1e-12)
        assert row["bwt_std"] == pytest.approx(np.std(bwt, ddof=1), abs=1e-12)
        assert f"| {row['method']} | dsr | 0,1 | {np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f} |" in (out / "table.md").read_text()
    assert (out / "table.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # each run is the one `cl run --seed S` would give: seeded from its own seed only
    assert runs["hlop__dsr__s0"]["accuracy_matrix"] != runs["hlop__dsr__s1"]["accuracy_matrix"]

    # restart: finished runs are skipped; a lost one is run again, to the same result
    lost = runs["hlop__dsr__s1"]
    (out / "runs" / "hlop__dsr__s1.json").unlink()
    again = run_sweep(["baseline", "hlop"], ["dsr"], "0-1", out, **GRID)
    assert again["executed"] == ["hlop__dsr__s1"] and len(again["skipped"]) == 3
    redo = json.loads((out / "runs" / "hlop__dsr__s1.json").read_text())
    assert redo["accuracy_matrix"] == lost["accuracy_matrix"] and redo["diagnostics"] == lost["diagnostics"]
    # nothing left to run: no cluster at all, table rewritten
    third = run_sweep(["baseline", "hlop"], ["dsr"], [0, 1], out, **GRID)
    assert third["executed"] == [] and len(third["skipped"]) == 4
    rows = json.loads((out / "table.json").read_text())["rows"]

    def no_wall(rs: list) -> list:  # type: ignore[type-arg]
        return [{k: v for k, v in r.items() if k != "wall_time_s_mean"} for r in rs]

    assert no_wall(rows) == no_wall(table["rows"])  # the rerun's wall time differs, nothing else


def test_sweep_refuses_other_settings_and_bad_names(tmp_path: Path) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / "grid.json").write_text(json.dumps({"data": "mnist5k"}))
    with pytest.raises(InputError, match=r"grid\.json: out holds a sweep with other settings"):
        run_sweep(["baseline"], ["dsr"], "0", out, **GRID)
    with pytest.raises(InputError, match="method: expected one of"):
        run_sweep(["nope"], ["dsr"], "0", tmp_path / "t", **GRID)
    with pytest.raises(InputError, match="train: expected one of"):
        run_sweep(["hlop"], ["sgd"], "0", tmp_path / "t", **GRID)


def test_summary_of_one_seed_and_of_multitask() -> None:
    runs = {
        SweepRun("hlop", "dsr", 3): {"acc": 80.0, "bwt": -2.0, "wall_time_s": 1.0},
        SweepRun("multitask", "dsr", 0): {"acc": 90.0, "bwt": None, "wall_time_s": 2.0},
        SweepRun("multitask", "dsr", 1): {"acc": 92.0, "bwt": None, "wall_time_s": 2.0},
    }
    rows = summarise(runs, ["hlop", "multitask"], ["dsr"])
    assert rows[0]["acc_std"] == 0.0 and rows[0]["seeds"] == [3]
    assert rows[1]["bwt_mean"] is None and rows[1]["acc_mean"] == 91.0
    text = table_markdown(rows)
    assert "| multitask | dsr | 0,1 | 91.00 ± 1.41 | n/a |" in text


def test_cli_sweep_on_worker_processes_matches_cl_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The default local cluster (worker processes) gives the run ``cl run --seed S`` gives."""
    import neurohop.cli

    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    common = ["--data", "digits", "--tasks", "2", "--epochs", "1", "--set", "lateral.hebbian.epochs=1", "--quiet"]
    status = neurohop.cli.main(["cl", "sweep", "--method", "hlop", "--seeds", "1", "--workers", "1", "--out", str(tmp_path / "s"), *common])
    assert status == 0
    assert "| hlop | dsr | 1 |" in capsys.readouterr().out
    assert neurohop.cli.main(["cl", "run", "--method", "hlop", "--seed", "1", "--json", str(tmp_path / "one.json"), *common]) == 0
    swept = json.loads((tmp_path / "s" / "runs" / "hlop__dsr__s1.json").read_text())
    single = json.loads((tmp_path / "one.json").read_text())
    assert swept["accuracy_matrix"] == single["accuracy_matrix"] and swept["diagnostics"] == single["diagnostics"]
    assert neurohop.cli.main(["cl", "sweep", "--method", "hlop", "--seeds", "2-1", "--out", str(tmp_path / "t"), *common]) == 2
    assert "--seeds: expected a list like" in capsys.readouterr().err


def test_sweep_resumes_an_interrupted_run_from_its_checkpoint(tmp_path: Path) -> None:
    from neurohop.data import load_dataset, make_tasks
    from neurohop.hlop.config import read_config
    from neurohop.hlop.runner import run_continual

    grid = dict(GRID, tasks=3)
    out = tmp_path / "sweep"
    # the state a sweep worker leaves when killed after task 0 of hlop/dsr, seed 0
    config = read_config("hlop_digits", grid["overrides"])
    sequence = make_tasks(load_dataset("digits"), "permuted", 3, np.random.default_rng(0))

    def stop(t: int, net, lateral) -> None:  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_continual(sequence, "hlop", "dsr", config, seed=0, checkpoint_dir=out / "checkpoints" / "hlop__dsr__s0", on_task_end=stop)
    report = run_sweep(["hlop"], ["dsr"], "0", out, **grid)
    assert report["executed"] == ["hlop__dsr__s0"]
    doc = json.loads((out / "runs" / "hlop__dsr__s0.json").read_text())
    assert doc["settings"]["resumed_after_task"] == 0
    whole = run_continual(sequence, "hlop", "dsr", config, seed=0).to_dict()
    assert doc["accuracy_matrix"] == whole["accuracy_matrix"] and doc["diagnostics"] == whole["diagnostics"]
