"""HLOP model files and the ``neurohop cl run`` command: defaults, overrides, one-line errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurohop.cli
from neurohop.errors import ModelFileError
from neurohop.hlop import cli as hlop_cli
from neurohop.hlop.config import config_from_dict, read_config


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``neurohop.cli.main`` with only the HLOP command group registered."""
    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    return neurohop.cli.main


def test_benchmark_configuration_is_the_default() -> None:
    assert hlop_cli.default_model("mnist5k", "permuted") == "hlop_pmnist"
    cfg = read_config("hlop_pmnist")
    assert cfg.network.hidden == (400, 400) and cfg.network.timesteps == 10
    assert cfg.lateral.total_rows(0, 10) <= 784 and cfg.lateral.total_rows(1, 10) <= 400
    parser = argparse.ArgumentParser()
    hlop_cli.register(parser.add_subparsers())
    args = parser.parse_args(["cl", "run", "--method", "hlop"])
    assert (args.data, args.scenario, args.train, args.tasks, args.epochs, args.model) == ("mnist5k", "permuted", "dsr", None, None, None)


def test_all_model_files_read_and_the_cli_offers_the_registered_methods(main, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from neurohop.hlop.methods import METHODS

    for name in ("hlop_pmnist", "hlop_split", "hlop_digits"):
        read_config(name)
    assert {"baseline", "hlop", "svd-oracle", "gpm", "ewc", "replay", "hlop+replay", "multitask"} <= set(METHODS)
    assert all(cls.name == name for name, cls in METHODS.items())
    assert main(["cl", "run", "--data", "digits", "--tasks", "1", "--epochs", "1", "--quiet", "--method", "si"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurohop: --method: expected one of") or "--method: expected one of" in err
    assert all(repr(name) in err for name in METHODS)


def test_overrides_and_errors_name_file_and_field() -> None:
    cfg = read_config("hlop_digits", {"train.epochs": 2, "train.lr": 0.5, "lateral.spiking.enabled": True})
    assert cfg.train.epochs == 2 and cfg.train.lr["bptt"] == 0.5 and cfg.lateral.spiking.enabled
    with pytest.raises(ModelFileError, match=r"hlop_digits.yaml: network.beta: expected a number <= 1.0 \(got 1.5\)"):
        read_config("hlop_digits", {"network.beta": 1.5})
    with pytest.raises(ModelFileError, match=r"hlop_digits.yaml: train.epoch: unknown field"):
        read_config("hlop_digits", {"train.epoch": 3})
    with pytest.raises(ModelFileError, match="lateral.increment"):
        read_config("hlop_digits", {"lateral.increment": [1, 2]})
    with pytest.raises(ModelFileError, match="format"):
        config_from_dict({"format": "neurohop-model/1"}, "x.yaml")
    with pytest.raises(ModelFileError, match="not found"):
        read_config("no_such_model")


def test_cli_run_writes_json_plot_and_checkpoint(main, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    out, png, ckpt = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "c.npz"
    argv = ["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--method", "hlop", "--train", "dsr", "--quiet"]
    status = main([*argv, "--json", str(out), "--plot", str(png), "--save", str(ckpt), "--set", "lateral.hebbian.epochs=2"])
    assert status == 0
    doc = json.loads(out.read_text())
    assert doc["method"] == "hlop" and doc["train"] == "dsr" and len(doc["accuracy_matrix"]) == 2
    assert doc["config"]["lateral"]["hebbian"]["epochs"] == 2 and doc["config"]["train"]["epochs"] == 1
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    from neurohop.hlop.checkpoint import load_classifier

    clf = load_classifier(ckpt)
    assert clf.arrays["task_permutations"].shape == (2, 64) and "lateral0.weight" in clf.arrays
    assert "ACC" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "si"], "--method: expected one of"),
        (["--train", "eprop"], "--train: expected one of"),
        (["--data", "imagenet"], "--data: imagenet: expected one of"),
        (["--scenario", "split", "--tasks", "4"], "--tasks: 4: expected the 10 classes"),
        (["--scenario", "split", "--tasks", "4"], "possible task counts"),
        (["--set", "lateral.first=[80,30,30]"], "at most 64 lateral neurons"),
        (["--set", "network.v_th=-1"], "network.v_th"),
        (["--device", "cuda:99"], "--device"),
    ],
)
def test_cli_bad_input_is_one_line_with_status_2(main, capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    status = main(["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("neurohop: error:") and message in err


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X": np.zeros((10, 3))}, "expected an array named 'y'"),
        ({"X": np.zeros((10, 3)), "y": np.zeros(9, dtype=int)}, "expected 10 labels"),
    ],
)
def test_cli_bad_npz(main, tmp_path: Path, capsys: pytest.CaptureFixture[str], arrays: dict[str, np.ndarray], message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "user.npz"
    np.savez(path, **arrays)
    assert main(["cl", "run", "--data", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_building_the_parser_does_not_import_torch() -> None:
    code = "import sys, neurohop.hlop.cli, neurohop.hlop.methods, neurohop.data; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_cli_split_defaults_to_task_incremental_heads(main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert hlop_cli.default_model("mnist5k", "split") == "hlop_split"
    out = tmp_path / "split.json"
    argv = ["cl", "run", "--data", "digits", "--scenario", "split", "--method", "baseline", "--epochs", "1", "--quiet", "--json", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["settings"]["head"] == "multi" and doc["settings"]["scenario"] == "split"
    assert len(doc["accuracy_matrix"]) == 5  # --tasks defaults to 5 outside permuted MNIST
    assert doc["settings"]["tasks"]["classes"][:2] == [[0, 1], [2, 3]]
