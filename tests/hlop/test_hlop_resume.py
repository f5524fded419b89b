"""Per-task checkpoints: a run interrupted after task k and resumed equals an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurohop.data import load_digits, make_tasks
from neurohop.errors import InputError
from neurohop.hlop.config import read_config
from neurohop.hlop.runner import CHECKPOINT_NAME, run_continual


class Interrupted(Exception):
    """Stands in for a killed process."""


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_digits()


def _stop_after(k: int):  # type: ignore[no-untyped-def]
    def hook(t: int, net, lateral) -> None:  # type: ignore[no-untyped-def]
        if t == k:
            raise Interrupted(f"stopped after task {k}")

    return hook


def _strip_times(doc: dict) -> dict:  # type: ignore[type-arg]
    doc = dict(doc)
    for key in ("wall_time_s", "task_times_s", "settings"):
        doc.pop(key)
    return doc


# fa: the fixed feedback matrices; replay and ewc: their memories; hlop: the lateral circuits and
# the lateral generator (dither); every method: the batch-order generator.
@pytest.mark.parametrize(
    ("method", "train", "stop"),
    [("hlop", "dsr", 0), ("hlop+replay", "fa", 1), ("ewc", "dsr", 1), ("hlop", "dsr", 2)],
)
def test_resumed_run_equals_uninterrupted(digits, tmp_path: Path, method: str, train: str, stop: int) -> None:  # type: ignore[no-untyped-def]
    overrides = {"train.epochs": 1, "lateral.hebbian.epochs": 1, "methods.ewc.fisher_samples": 20}
    if method == "hlop" and stop == 0:
        overrides["lateral.spiking.enabled"] = True  # dithered spiking lateral neurons draw from the lateral generator
    cfg = read_config("hlop_digits", overrides)
    seq = make_tasks(digits, "permuted", 3, np.random.default_rng(0))
    full = run_continual(seq, method, train, cfg, seed=1)
    with pytest.raises(Interrupted):
        run_continual(seq, method, train, cfg, seed=1, checkpoint_dir=tmp_path, on_task_end=_stop_after(stop))
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    resumed = run_continual(seq, method, train, cfg, seed=1, checkpoint_dir=tmp_path, resume=True)
    # bit for bit on the CPU: the same floating-point operations in the same order
    np.testing.assert_array_equal(resumed.accuracy_matrix, full.accuracy_matrix)
    assert _strip_times(resumed.to_dict()) == _strip_times(full.to_dict())
    for a, b in zip(resumed.net.state_dict().values(), full.net.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(resumed.lateral, full.lateral):
        assert torch.equal(a, b)
    assert resumed.settings["resumed_after_task"] == (stop if stop < 2 else 2)


def test_checkpoint_guards(digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1, "lateral.hebbian.epochs": 1})
    seq = make_tasks(digits, "permuted", 2, np.random.default_rng(0))
    with pytest.raises(InputError, match="resume: expected a checkpoint_dir"):
        run_continual(seq, "baseline", "dsr", cfg, resume=True)
    # resume with nothing to resume from: a fresh start, then a finished checkpoint is simply reread
    first = run_continual(seq, "baseline", "dsr", cfg, seed=0, checkpoint_dir=tmp_path, resume=True)
    again = run_continual(seq, "baseline", "dsr", cfg, seed=0, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(first.accuracy_matrix, again.accuracy_matrix)
    assert again.settings["resumed_after_task"] == 1
    with pytest.raises(InputError, match="holds a checkpoint of an earlier run"):
        run_continual(seq, "baseline", "dsr", cfg, seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(InputError, match=r"belongs to another run \(differs in \['seed'\]\)"):
        run_continual(seq, "baseline", "dsr", cfg, seed=5, checkpoint_dir=tmp_path, resume=True)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read as a run checkpoint"):
        run_continual(seq, "baseline", "dsr", cfg, seed=0, checkpoint_dir=tmp_path, resume=True)


def test_multitask_checkpoint(digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1})
    seq = make_tasks(digits, "permuted", 2, np.random.default_rng(0))
    done = run_continual(seq, "multitask", "dsr", cfg, seed=0, checkpoint_dir=tmp_path)
    again = run_continual(seq, "multitask", "dsr", cfg, seed=0, checkpoint_dir=tmp_path, resume=True)
    assert json.dumps(_strip_times(done.to_dict())) == json.dumps(_strip_times(again.to_dict()))


def test_cli_checkpoint_dir_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import neurohop.cli

    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    argv = ["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--method", "baseline", "--quiet", "--checkpoint-dir", str(tmp_path / "ck")]
    assert neurohop.cli.main([*argv, "--json", str(tmp_path / "a.json")]) == 0
    assert (tmp_path / "ck" / CHECKPOINT_NAME).is_file()
    assert neurohop.cli.main(argv) == 2
    assert "add --resume to continue it" in capsys.readouterr().err
    assert neurohop.cli.main([*argv, "--resume", "--json", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["accuracy_matrix"] == b["accuracy_matrix"] and b["settings"]["resumed_after_task"] == 1
    assert neurohop.cli.main(["cl", "run", "--data", "digits", "--resume"]) == 2
    assert "--resume: expected --checkpoint-dir" in capsys.readouterr().err
