"""Feedback on stderr for long runs; stdout stays clean."""

from __future__ import annotations

import importlib.util
import json

import pytest

import neurohop.cli_support as support


def test_progress_waits_then_shows_on_stderr_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(support, "_stderr_is_tty", lambda: False)
    with support.progress(10, "quick") as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""  # a run shorter than the delay says nothing off a terminal
    monkeypatch.setattr(support, "PROGRESS_DELAY_S", 0.0)
    monkeypatch.setattr(support.time, "monotonic", iter(range(0, 10**6, 100)).__next__)  # 100 s per call
    with support.progress(1000, "slow") as bar:
        for _ in range(3):
            bar.update(100)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "slow" in captured.err and "will take about" in captured.err  # the estimate, once
    assert captured.err.count("will take about") == 1


def test_compile_notice_names_brian2s_cache(capsys: pytest.CaptureFixture[str]) -> None:
    support.compile_notice("brian2", target="numpy")
    assert capsys.readouterr().err == ""  # numpy code is not compiled
    if importlib.util.find_spec("Cython") is None:
        pytest.skip("Cython is not installed: brian2 would not compile")
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    support.compile_notice("torch")
    assert capsys.readouterr().err == ""  # nothing to say for a backend that does not compile
    support.compile_notice("nosuch")
    assert capsys.readouterr().err == ""  # the build names an unknown backend
    support.compile_notice("brian2", target="cython")
    err = capsys.readouterr().err
    assert "compil" in err and f"cache: {get_cython_cache_dir()}" in err and err.count("\n") == 1


def test_capacity_reports_each_checkpoint() -> None:
    from neurohop.cam.attractor.capacity import measure_group

    lines: list[str] = []
    rows = measure_group(64, 4, [1.0], probes=5, refine=0, report=lines.append)
    assert rows and lines and lines[0].startswith("N=64 k=4 F=0: checkpoint M=")


def test_replay_json_stdout_is_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop import resources
    from neurohop.cli import main

    path = resources.recording_path()
    assert main(["cam", "replay", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0  # the chunked run (for progress) replays bit-identically
