"""The reference protocol on convolutional networks (hlop_cifar100_reference.yaml vs
hlop_cifar100.yaml): every difference is one named setting, and each setting the reference needs
(trainable thresholds, analog input current normalised per channel, per-task learning-rate
schedule, replay phase of the reference) does what it documents; with the defaults nothing changes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neurohop.data import load_digits, make_tasks
from neurohop.errors import InputError, ModelFileError
from neurohop.hlop import read_config, run_continual
from neurohop.hlop.conv import build_classifier
from neurohop.hlop.parts import Replay

#: The reference protocol's settings that both reference files share (override key -> value).
PROTOCOL: dict[str, Any] = {
    "network.patches": 0,
    "network.reset": "subtract",
    "network.train_threshold": True,
    "network.input": "current",
    "train.schedule": "cosine",
    "lateral.orthogonal_init": False,
    "lateral.during_training": True,
    "lateral.hebbian.lr_decay": False,
    "methods.replay.mode": "phase",
    "methods.replay.phase_epochs": 20,
    "methods.replay.lr": 0.001,
    "methods.replay.schedule": "cosine",
    "methods.replay.per_task": True,
    "methods.replay.projected": False,
    "methods.replay.selection": "first",
}

#: Every setting that tells the two CIFAR-100 files apart (override key -> reference value).
REFERENCE: dict[str, Any] = {
    **PROTOCOL,
    "network.input_mean": [0.49137, 0.48235, 0.44667],
    "network.input_std": [0.24706, 0.24353, 0.26157],
    "train.epochs": 200,
    "train.lr": {"default": 0.01},
    "train.warmup": 5,
    "lateral.increment": [2, 20, 40, 100],
    "lateral.hebbian.lr": [0.01, 0.01, 0.01, 0.01],
    "methods.replay.per_class": 50,
    "methods.replay.batch_size": 50,
}


#: The same for the ResNet-18 files (hlop_resnet18_reference.yaml, miniImageNet, vs hlop_resnet18.yaml).
RESNET_REFERENCE: dict[str, Any] = {
    **PROTOCOL,
    "network.stem_kernel": 5,
    "network.stem_stride": 2,
    "network.final_pool": 1,
    "network.timesteps": 20,
    "network.input_mean": [0.485, 0.456, 0.406],
    "network.input_std": [0.229, 0.224, 0.225],
    "train.epochs": 100,
    "train.lr": {"default": 0.1},
    "train.lr_continual": {"default": 0.01},
    "lateral.first": [24, 90, 90, 90, 90, 90, 180, 10, 180, 180, 180, 360, 20, 360, 360, 360, 720, 40, 720, 720, 26],
    "lateral.increment": [2, 6, 6, 6, 6, 6, 12, 1, 12, 12, 12, 24, 2, 24, 24, 24, 48, 4, 48, 48, 4],
    "lateral.reduce_at": [6],
    "lateral.reduce_by": [2, 4, 4, 4, 4, 4, 8, 1, 8, 8, 8, 16, 2, 16, 16, 16, 32, 4, 32, 32, 0],
    "lateral.reduce_mode": "cumulative",
    "lateral.hebbian.lr": [0.01] * 21,
    "methods.replay.per_class": 5,
    "methods.replay.batch_size": 5,
}


def _get(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.removeprefix("methods.").split("."):
        node = getattr(node, part)
    return node


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("reference", "own", "named"), [("hlop_cifar100_reference", "hlop_cifar100", REFERENCE), ("hlop_resnet18_reference", "hlop_resnet18", RESNET_REFERENCE)])
def test_reference_files_differ_from_neurohops_exactly_in_the_named_settings(reference: str, own: str, named: dict[str, Any]) -> None:
    ref, mine = read_config(reference), read_config(own)
    for key, value in named.items():
        if key.startswith("train.lr"):
            assert set(_get(ref, key).values()) == {value["default"]}, key
            assert _get(mine, key) is None or set(_get(mine, key).values()) != {value["default"]}, key
            continue
        assert _plain(_get(ref, key)) == value, key
        assert _plain(_get(mine, key)) != value, key  # a real difference, one setting each
    # neurohop's file with the named settings overridden is the reference file, field by field
    moved = read_config(own, named).to_dict()
    target = ref.to_dict()
    for doc in (moved, target):
        doc.pop("name"), doc.pop("source")
    assert moved == target


def test_reference_lateral_schedules() -> None:
    cifar = read_config("hlop_cifar100_reference").lateral
    # [6, 100, 200] then + [2, 20, 40] per task
    assert [cifar.total_rows(i, 10) for i in range(3)] == [6 + 9 * 2, 100 + 9 * 20, 200 + 9 * 40]
    res = read_config("hlop_resnet18_reference")
    # miniImageNet: the first increment for tasks 1-5, the second one from task 6 on
    assert [res.lateral.rows(0, t) for t in range(8)] == [24, 2, 2, 2, 2, 2, 0, 0]
    assert [res.lateral.rows(16, t) for t in (0, 1, 5, 6, 19)] == [720, 48, 48, 16, 16]
    net = build_classifier(res, (3, 84, 84), 3 * 84 * 84, (5,) * 20, torch.Generator().manual_seed(0), False, torch.device("cpu"))
    widths = tuple(layer.in_features for _, layer in net.projected_layers()) + (net.heads[0].in_features,)
    assert widths[0] == 5 * 5 * 3 and widths[7] == 20 and widths[-1] == 160  # 5x5 stem; 160 = 8 nf x 1 x 1
    res.lateral.check_capacity(widths, tuple(f"l{i}" for i in range(21)), 20)
    assert res.lateral.total_rows(0, 20) == 24 + 5 * 2 and res.lateral.total_rows(16, 20) == 720 + 5 * 48 + 14 * 16


def _reference_lr(epoch: int, lr: float = 0.01, warmup: int = 5, epochs: int = 200) -> float:
    """The reference's per-task schedule: (e + 1) / warmup, then half a cosine to 0."""
    if epoch < warmup:
        return lr * (epoch + 1) / warmup
    return lr * 0.5 * (1 + math.cos((epoch - warmup) / (epochs - warmup) * math.pi))


def test_schedule_gives_the_reference_learning_rate_per_epoch() -> None:
    tc = read_config("hlop_cifar100_reference").train
    lrs = [tc.lr_at("dsr", 3, e) for e in range(200)]
    np.testing.assert_allclose(lrs, [_reference_lr(e) for e in range(200)], rtol=1e-12, atol=0)
    assert lrs[0] == pytest.approx(0.002) and lrs[4] == pytest.approx(0.01) and lrs[5] == pytest.approx(0.01)
    own = read_config("hlop_cifar100").train
    assert {own.lr_at("dsr", t, e) for t in (0, 4) for e in range(50)} == {0.05}  # constant, exactly
    cont = read_config("hlop_cifar100", {"train.lr_continual": 0.01}).train
    assert (cont.lr_at("dsr", 0, 0), cont.lr_at("dsr", 1, 0)) == (0.05, 0.01)
    res = read_config("hlop_resnet18_reference").train  # no warm-up, 0.1 then 0.01, over 100 epochs
    np.testing.assert_allclose([res.lr_at("dsr", 0, e) for e in range(100)], [_reference_lr(e, 0.1, 0, 100) for e in range(100)], rtol=1e-12)
    np.testing.assert_allclose([res.lr_at("bptt", 7, e) for e in range(100)], [_reference_lr(e, 0.01, 0, 100) for e in range(100)], rtol=1e-12)
    rp = read_config("hlop_cifar100_reference").replay
    np.testing.assert_allclose([rp.phase_lr(0.01, e) for e in range(20)], [0.001 * 0.5 * (1 + math.cos(e * math.pi / 20)) for e in range(20)], rtol=1e-12)


def _digits_tasks(n: int = 2):  # type: ignore[no-untyped-def]
    return make_tasks(load_digits(), "split", n, np.random.default_rng(0))


def _tiny(**extra: Any):  # type: ignore[no-untyped-def]
    over = {"network.timesteps": 3, "train.epochs": 2, "lateral.hebbian.epochs": 1}
    over.update(extra)
    return read_config("hlop_digits_cnn", over)


def test_runner_applies_the_schedule_per_epoch_and_the_replay_phase_learning_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    class Recording(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[no-untyped-def, override]
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", Recording)
    over = {"train.epochs": 3, "train.schedule": "cosine", "train.warmup": 1, "train.batch_size": 100, "train.lr": 0.04, "train.lr_continual": 0.02,
            "methods.replay.mode": "phase", "methods.replay.phase_epochs": 2, "methods.replay.lr": 0.001, "methods.replay.schedule": "cosine",
            "methods.replay.batch_size": 10, "methods.replay.per_class": 10}  # fmt: skip
    seq = _digits_tasks()
    run_continual(seq, "replay", "dsr", _tiny(**over), seed=0)
    per_epoch = [math.ceil(t.size("train") / 100) for t in seq.tasks]
    expected: list[float] = []
    for t, lr in enumerate((0.04, 0.02)):
        for e in range(3):  # warm-up epoch 0: lr / 1, then half a cosine over the remaining 2
            factor = 1.0 if e == 0 else 0.5 * (1 + math.cos((e - 1) / 2 * math.pi))
            expected += [lr * factor] * per_epoch[t]
    # the phase after task 1: memory of 2 tasks x 5 classes x 10 samples, 10 per task per update
    for e in range(2):
        expected += [0.001 * 0.5 * (1 + math.cos(e / 2 * math.pi))] * 10
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=0)


def test_replay_phase_per_task_takes_the_same_positions_of_every_task() -> None:
    seq = _digits_tasks()
    cfg = _tiny(**{"methods.replay.per_class": 3, "methods.replay.batch_size": 4})
    mem = Replay(cfg)
    rng = np.random.default_rng(0)
    for t, task in enumerate(seq.tasks):
        mem.store(task, t, 0, rng)
    batches = mem.phase(np.random.default_rng(1), 2, per_task=True)
    assert len(batches) == 2 * math.ceil(15 / 4)  # 5 classes x 3 per task, 4 positions per update
    for x, y, h, groups in batches:
        a, b = np.flatnonzero(groups == 0), np.flatnonzero(groups == 1)
        assert len(a) == len(b) > 0 and np.array_equal(h[a], np.zeros(len(a))) and np.array_equal(h[b], np.ones(len(b)))
        # the same positions in each task's memory (stored task after task, 15 rows each)
        rows = [int(np.flatnonzero((mem.x == row).all(1))[0]) for row in x]
        np.testing.assert_array_equal(np.array(rows)[b] - 15, np.array(rows)[a])
    first = np.concatenate([bt[3] for bt in batches[:4]])
    assert np.bincount(first).tolist() == [15, 15]  # one pass covers each task's memory once
    assert len(mem.phase(np.random.default_rng(1), 1)[0]) == 3  # without per_task: no groups
    # selection: first keeps the first per_class samples of each class, in the task's order
    first = Replay(_tiny(**{"methods.replay.per_class": 3, "methods.replay.selection": "first"}))
    first.store(seq.tasks[0], 0, 0, np.random.default_rng(0))
    x, y = seq.tasks[0].arrays("train")
    want = np.sort(np.concatenate([np.flatnonzero(y == c)[:3] for c in range(seq.tasks[0].n_classes)]))
    np.testing.assert_array_equal(first.x, x[want])


def test_thresholds_train_in_task_0_and_stay_frozen_after() -> None:
    seq = _digits_tasks()
    cfg = _tiny(**{"network.train_threshold": True, "network.reset": "subtract", "lateral.during_training": True, "lateral.hebbian.lr_decay": False})
    snaps: list[torch.Tensor] = []
    weights: list[torch.Tensor] = []
    r = run_continual(seq, "hlop", "dsr", cfg, seed=0, on_task_end=lambda t, net, lat: (snaps.append(net.v_th.detach().clone()), weights.append(net.layers[1].weight.detach().clone())))
    net = r.net
    assert isinstance(net.v_th, torch.nn.Parameter) and net.v_th.shape == (2,)  # one per LIF layer
    assert not torch.equal(snaps[0], torch.full((2,), cfg.network.v_th))  # trained in task 0
    assert torch.equal(snaps[1], snaps[0])  # frozen from task 1 on, like the reference's
    assert not torch.equal(weights[1], weights[0])  # while the weights still learn
    # BPTT reaches the thresholds too (surrogate gradient of v - v_th)
    net = build_classifier(cfg, (8, 8), 64, (2, 2), torch.Generator().manual_seed(0), False, torch.device("cpu"))
    net.train()
    x = torch.rand(4, 64, generator=torch.Generator().manual_seed(1))
    net.make_trainer("bptt", torch.Generator()).loss(net.encode(x), torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 1, 1])).backward()
    assert net.v_th.grad is not None and bool(torch.all(net.v_th.grad != 0))
    # a ResNet-18 has one threshold per LIF layer too: two per block and the last one
    res = read_config("hlop_resnet18", {"network.width": 4, "network.timesteps": 2, "network.train_threshold": True})
    rn = build_classifier(res, (3, 16, 16), 768, (3,), torch.Generator().manual_seed(0), False, torch.device("cpu"))
    assert rn.v_th.shape == (17,)


def test_input_current_is_the_image_normalised_per_channel_at_every_step() -> None:
    mean, std = [0.1, 0.5, 0.9], [0.5, 0.25, 2.0]
    cfg = read_config("hlop_resnet18", {"network.width": 4, "network.timesteps": 3, "network.input": "current", "network.input_mean": mean, "network.input_std": std})
    net = build_classifier(cfg, (3, 16, 16), 768, (3,), torch.Generator().manual_seed(0), False, torch.device("cpu"))
    x = torch.rand(2, 768, generator=torch.Generator().manual_seed(2))
    a = net.encode(x)
    assert a.shape == (3, 2, 3, 16, 16)
    img = x.reshape(2, 3, 16, 16)
    for c in range(3):
        want = (img[:, c] - mean[c]) / std[c]
        for t in range(3):
            torch.testing.assert_close(a[t, :, c], want, rtol=0, atol=1e-6)  # float32 of the same arithmetic
    # the first convolution's lateral circuit sees the normalised image (its mean over steps)
    sim = net.simulate(a, 0)
    torch.testing.assert_close(sim.inputs[0], img.sub(torch.tensor(mean).view(3, 1, 1)).div(torch.tensor(std).view(3, 1, 1)), rtol=0, atol=1e-6)
    # one value serves every channel
    one = read_config("hlop_digits_cnn", {"network.input": "current", "network.input_mean": 0.5, "network.input_std": [0.25]})
    net1 = build_classifier(one, (8, 8), 64, (2,), torch.Generator(), True, torch.device("cpu"))
    torch.testing.assert_close(net1.encode(torch.full((1, 64), 0.75))[0], torch.ones(1, 1, 8, 8), rtol=0, atol=0)


def test_bad_values_get_clear_errors() -> None:
    with pytest.raises(InputError, match=r"network.input_mean: expected one value or 3, one per input channel \(got 2 values\)"):
        cfg = read_config("hlop_cifar100_reference", {"network.input_mean": [0.5, 0.5]})
        build_classifier(cfg, (3, 32, 32), 3072, (10,), torch.Generator(), False, torch.device("cpu"))
    for key, value, message in (
        ("network.input_std", [0.2, 0.0, 0.2], "network.input_std[1]: expected a number > 0.0"),
        ("network.input_mean", [], "network.input_mean: expected a number or a non-empty list"),
        ("train.schedule", "step", "train.schedule: expected one of ['constant', 'cosine']"),
        ("train.warmup", -1, "train.warmup: expected an integer >= 0"),
        ("train.lr_continual", {"default": 0.0}, "train.lr_continual.bptt: expected a number > 0.0"),
        ("methods.replay.lr", 0, "methods.replay.lr: expected a number > 0.0"),
        ("methods.replay.schedule", "linear", "methods.replay.schedule: expected one of ['constant', 'cosine']"),
        ("methods.replay.per_task", "yes", "methods.replay.per_task: expected true or false"),
        ("methods.replay.projected", 1, "methods.replay.projected: expected true or false"),
        ("methods.replay.selection", "last", "methods.replay.selection: expected one of ['random', 'first']"),
        ("network.stem_kernel", 4, "network.stem_kernel: expected an odd kernel size"),
        ("network.stem_stride", 0, "network.stem_stride: expected an integer >= 1"),
        ("network.final_pool", 0, "network.final_pool: expected an integer >= 1"),
    ):
        with pytest.raises(ModelFileError) as info:
            read_config("hlop_cifar100_reference", {key: value})
        assert "hlop_cifar100_reference.yaml" in str(info.value) and message in str(info.value), str(info.value)
    with pytest.raises(ModelFileError, match=r"network.input_mean: expected a number \(got \[0.1, 0.2\]\)"):
        read_config("hlop_pmnist_reference", {"network.input_mean": [0.1, 0.2]})


def test_defaults_leave_the_run_unchanged() -> None:
    """The new settings at values equal to the defaults' effect (explicit learning rates through
    their own code paths) give the same weights, bit for bit, as the file without them."""
    seq = _digits_tasks()
    base = {"methods.replay.mode": "phase", "methods.replay.phase_epochs": 2}
    plain = run_continual(seq, "hlop+replay", "dsr", _tiny(**base), seed=3)
    lr = plain.config.train.lr["dsr"]
    explicit = {**base, "train.schedule": "constant", "train.warmup": 0, "train.lr_continual": dict(plain.config.train.lr), "methods.replay.lr": lr,
                "methods.replay.schedule": "constant", "methods.replay.per_task": False, "methods.replay.projected": True}  # fmt: skip
    same = run_continual(seq, "hlop+replay", "dsr", _tiny(**explicit), seed=3)
    np.testing.assert_array_equal(same.accuracy_matrix, plain.accuracy_matrix)
    for (k, a), (_, b) in zip(plain.net.state_dict().items(), same.net.state_dict().items()):
        assert torch.equal(a, b), k
    assert not isinstance(plain.net.v_th, torch.nn.Parameter) and plain.net.v_th.dim() == 0
    # and the reference's unprojected phase does change them (the switch is live)
    other = run_continual(seq, "hlop+replay", "dsr", _tiny(**base, **{"methods.replay.projected": False}), seed=3)
    assert not torch.equal(other.net.layers[1].weight, plain.net.layers[1].weight)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import neurohop.cli

    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    return neurohop.cli.main


def test_cifar100_reference_runs_end_to_end_on_a_fake_binary_release(main, tmp_path: Path, fake_cifar100) -> None:  # type: ignore[no-untyped-def]
    """hlop+replay with the reference file, 2 tasks, on a small file in the release's format
    (smaller convolutions and schedules through --set, so that it runs in seconds)."""
    root = fake_cifar100(tmp_path / "cifar-100-binary")
    out = tmp_path / "run.json"
    argv = ["cl", "run", "--data", str(root), "--scenario", "split", "--tasks", "2", "--model", "hlop_cifar100_reference", "--method", "hlop+replay",
            "--train", "dsr", "--quiet", "--json", str(out),
            "--set", "network.conv=[4, 8, 8]", "--set", "network.timesteps=2", "--set", "network.patches=4",
            "--set", "train.epochs=2", "--set", "train.warmup=1", "--set", "train.batch_size=25",
            "--set", "lateral.first=[6, 10, 10, 10]", "--set", "lateral.increment=[2, 4, 4, 4]",
            "--set", "methods.replay.per_class=1", "--set", "methods.replay.phase_epochs=2"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    cfg = doc["config"]
    assert cfg["network"]["input"] == "current" and cfg["network"]["train_threshold"] is True
    assert cfg["train"]["schedule"] == "cosine" and cfg["replay"]["per_task"] is True
    matrix = np.array([[np.nan if v is None else v for v in row] for row in doc["accuracy_matrix"]])
    assert matrix.shape == (2, 2) and np.all(np.isfinite([matrix[0, 0], matrix[1, 0], matrix[1, 1]]))
    layers = doc["diagnostics"]["layers"]
    assert [entry["name"] for entry in layers] == ["conv0", "conv1", "conv2"]
    assert [entry["rows_total"] for entry in layers] == [[6, 8], [10, 14], [10, 14]]


def test_resnet18_reference_runs_end_to_end_on_a_fake_binary_release(main, tmp_path: Path, fake_cifar100) -> None:  # type: ignore[no-untyped-def]
    """The ResNet-18 reference file (5x5 stride-2 stem, 1x1 pooling, input current, per-task
    replay phase) through the CLI on 32x32 images, narrowed so that it runs in seconds."""
    root = fake_cifar100(tmp_path / "cifar-100-binary")
    out = tmp_path / "run.json"
    ones = "[" + ", ".join(["1"] * 21) + "]"
    argv = ["cl", "run", "--data", str(root), "--scenario", "split", "--tasks", "2", "--model", "hlop_resnet18_reference", "--method", "hlop+replay",
            "--train", "dsr", "--quiet", "--json", str(out),
            "--set", "network.width=4", "--set", "network.timesteps=2", "--set", "network.patches=2", "--set", "train.epochs=2",
            "--set", "train.batch_size=50", "--set", f"lateral.first={ones}", "--set", f"lateral.increment={ones}",
            "--set", "lateral.reduce_by=" + ones.replace("1", "0"), "--set", "methods.replay.per_class=1", "--set", "methods.replay.phase_epochs=1"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    layers = doc["diagnostics"]["layers"]
    assert len(layers) == 20 and layers[0]["width"] == 75 and all(entry["rows_total"] == [1, 2] for entry in layers)
    matrix = doc["accuracy_matrix"]
    assert all(v is not None for v in (matrix[0][0], matrix[1][0], matrix[1][1]))


def test_help_lists_every_packaged_hlop_model(main, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["cl", "run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("hlop_cifar100_reference", "hlop_resnet18_reference", "hlop_pmnist_reference", "hlop_cifar100", "hlop_pmnist"):
        assert name in text.replace(",", " ").replace("(", " ").replace(")", " ").split(), name
