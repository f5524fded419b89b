"""The ``neurohop cam`` command: the main job and the recording replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurohop.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_the_table_and_writes_a_raster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cam", "demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "recall by content {0,4}" in out and "cues [0, 3]" in out
    assert "forgetting {5,6}" in out
    assert "all answers match an ideal memory: yes" in out
    png = tmp_path / "cam_demo_torch.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"raster plot: {png.resolve()}" in out


@pytest.mark.parametrize("backend", ["torch_event", "fixed:spinnaker1"])
def test_demo_runs_on_other_backends_through_the_same_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str) -> None:
    """The demo on the event-driven backend and on the bit-accurate SpiNNaker simulator:
    the same ContentAddressableMemory code, the same answers."""
    assert main(["cam", "demo", "--backend", backend, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"backend {backend}" in out and "forgetting {5,6}" in out
    assert "all answers match an ideal memory: yes" in out


def test_replay_json_is_the_only_thing_on_stdout(recording_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "neurohop", "cam", "replay", str(recording_path), "--backend", "brian2", "--target", "numpy", "--json"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )
    report = json.loads(proc.stdout)
    assert report["mismatches"] == 0 and report["compared_spikes"] == 262 and report["backend"] == "brian2"


def test_replay_table(recording_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cam", "replay", str(recording_path)]) == 0
    out = capsys.readouterr().out
    assert "compared spikes: 262, mismatches: 0" in out and "cont_cond_int" in out


def test_errors_are_one_line_with_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cue_size": 2}')
    assert main(["cam", "replay", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurohop: error: ") and "content_size: expected an integer >= 1" in err and "\n" not in err
    assert main(["cam", "replay", str(bad), "--backend", "nest"]) == 2
    assert "neurohop: error:" in capsys.readouterr().err
    assert main(["cam", "demo", "--backend", "brian2", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "brian2: device: expected one of ['cpu'] (got 'cuda')" in capsys.readouterr().err
    assert main(["cam", "demo", "--backend", "fixed:spinnaker1", "--dtype", "float32", "--out", str(tmp_path)]) == 2
    assert "--dtype: backend 'fixed:spinnaker1' takes no dtype option" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))
