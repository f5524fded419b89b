"""``neurohop attractor capacity`` end to end, and its errors (one line, exit 2, no files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurohop.cam.attractor.cli import parse_k
from neurohop.cli import main


@pytest.mark.slow  # starts a Dask cluster
def test_capacity_command_writes_rows_and_plot(tmp_path: Path, worker_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "cap.json", tmp_path / "cap.png"
    status = main(["attractor", "capacity", "--n", "48", "--k", "4", "--cue", "0.5", "1.0", "--probes", "20", "--bisect", "1", "--grid-ratio", "1.5", "--workers", "1", "--quiet", "--json", str(out), "--plot", str(png)])
    assert status == 0
    doc = json.loads(out.read_text())
    assert [r["cue_fraction"] for r in doc["rows"]] == [0.5, 1.0]
    for row in doc["rows"]:
        for key in ("n", "k", "cue_fraction", "false_bits", "m_cap", "m_max_willshaw", "ratio", "bits_per_synapse", "hopfield_0138n", "curve", "settings"):
            assert key in row
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "M_cap" in table and "   48    4  0.50" in table


@pytest.mark.parametrize(
    "args,message",
    [
        (["--n", "64", "--k", "4", "--cue", "1.5"], r"cue fraction: expected a number in (0, 1] (got 1.5)"),
        (["--n", "64", "--k", "4", "--cue", "0"], r"cue fraction: expected a number in (0, 1] (got 0.0)"),
        (["--n", "64", "--k", "70", "--cue", "0.5"], r"k: expected an integer in 1..63 (got 70)"),
        (["--n", "64", "--k", "four", "--cue", "0.5"], r"--k: expected an integer, 'log2' or a percentage like '5%' (got 'four')"),
        (["--n", "64", "--k", "4", "--cue", "0.5", "--false-bits", "61"], r"false bits: expected an integer in 0..60 (got 61)"),
        (["--n", "64", "--k", "4", "--cue", "0.5", "--probes", "0"], r"--probes: expected an integer >= 1 (got 0)"),
        (["--n", "64", "--k", "4", "--cue", "0.5", "--backend", "brian2", "--device", "cuda"], r"brian2: device: expected one of ['cpu'] (got 'cuda')"),
        (["--n", "64", "--k", "4", "--cue", "0.5", "--model", "no_such_model"], "no_such_model"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    out, png = tmp_path / "cap.json", tmp_path / "cap.png"
    status = main(["attractor", "capacity", *args, "--json", str(out), "--plot", str(png), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("neurohop: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists() and not png.exists()
    assert list(tmp_path.iterdir()) == []


def test_plot_must_be_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", str(tmp_path / "a.json"), "--plot", str(tmp_path / "a.pdf")])
    assert status == 2 and "expected a file ending in .png" in capsys.readouterr().err


def test_parse_k() -> None:
    assert parse_k("log2", 1024) == 10 and parse_k("5%", 1024) == 51 and parse_k("12", 4096) == 12
