"""End-to-end continual-learning runs on the 8x8 digits (seconds each)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from neurohop.data import load_digits, make_tasks
from neurohop.errors import CapacityError, InputError, ModelFileError
from neurohop.hlop.config import read_config
from neurohop.hlop.metrics import ProjectionStabilityWarning, backward_transfer
from neurohop.hlop.methods import METHODS
from neurohop.hlop.runner import run_continual


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_digits()


def _permuted(ds, n: int = 3):  # type: ignore[no-untyped-def]
    return make_tasks(ds, "permuted", n, np.random.default_rng(0))


def test_hlop_forgets_much_less_than_fine_tuning(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 3})
    seq = _permuted(digits)
    hlop = run_continual(seq, "hlop", "dsr", cfg, seed=0)
    base = run_continual(seq, "baseline", "dsr", cfg, seed=0)
    assert base.bwt is not None and hlop.bwt is not None
    assert np.all(np.diag(base.accuracy_matrix) > 75)  # the baseline does learn each task
    assert hlop.bwt > base.bwt + 10, (hlop.bwt, base.bwt)
    assert hlop.acc > base.acc + 5
    # same seed, same start: task 0 is learned identically before any projection exists
    assert hlop.accuracy_matrix[0, 0] == base.accuracy_matrix[0, 0]
    doc = json.loads(json.dumps(hlop.to_dict()))
    for key in ("acc", "bwt", "accuracy_matrix", "method", "train", "wall_time_s", "diagnostics"):
        assert key in doc
    layers = doc["diagnostics"]["layers"]
    assert [layer["name"] for layer in layers] == ["fc0", "fc1", "head"]
    for layer in layers:
        assert len(layer["energy_captured"]) == 3 and len(layer["residual_old"]) == 3
        assert all(c <= o + 1e-9 for c, o in zip(layer["energy_captured"], layer["energy_optimal"]))
        assert min(layer["energy_captured"]) > 0.5 * max(layer["energy_optimal"]) * 0.5
        assert 0.5 < layer["eig_max"][-1] < 1.8
    assert doc["accuracy_matrix"][0][1] is None  # not measured: null, not NaN


@pytest.mark.parametrize("train", ["bptt", "ottt", "fa", "ss"])
def test_projection_protects_every_training_method(digits, train: str) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 2})
    seq = _permuted(digits)
    hlop = run_continual(seq, "hlop", train, cfg, seed=0)
    base = run_continual(seq, "baseline", train, cfg, seed=0)
    assert hlop.bwt is not None and base.bwt is not None
    assert base.bwt < -15, base.bwt  # the method does forget without projection
    assert hlop.bwt > base.bwt + 10, (train, hlop.bwt, base.bwt)


def test_old_rows_thresholds_and_frozen_parameters_are_bit_identical_across_a_later_task(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1, "network.bias": True})
    snapshots: list[dict[str, object]] = []

    def snap(t: int, net, lateral) -> None:  # type: ignore[no-untyped-def]
        snapshots.append(
            {
                "lateral": [h.detach().clone() for h in lateral],
                "thresholds": [v.clone() for v in net.thresholds()],
                "biases": [lin.bias.detach().clone() for lin in [*net.layers, *net.heads]],
                "weights": [lin.weight.detach().clone() for lin in net.layers],
            }
        )

    run_continual(_permuted(digits, 2), "hlop", "dsr", cfg, seed=1, on_task_end=snap)
    first, second = snapshots
    for old, new in zip(first["lateral"], second["lateral"]):  # type: ignore[arg-type]
        assert new.shape[0] > old.shape[0]
        assert torch.equal(new[: old.shape[0]], old)
    for key in ("thresholds", "biases"):
        for a, b in zip(first[key], second[key]):  # type: ignore[arg-type]
            assert torch.equal(a, b)
    assert any(float(b.abs().max()) > 0 for b in first["biases"])  # biases did train in task 0
    assert all(not torch.equal(a, b) for a, b in zip(first["weights"], second["weights"]))  # weights still learn


def test_old_heads_stay_bit_identical_in_task_incremental_split(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1})
    heads: list[list[torch.Tensor]] = []
    seq = make_tasks(digits, "split", 5, np.random.default_rng(0))
    res = run_continual(seq, "hlop", "bptt", cfg, seed=0, on_task_end=lambda t, net, lat: heads.append([h.weight.detach().clone() for h in net.heads]))
    assert torch.equal(heads[0][0], heads[-1][0])
    assert not torch.equal(heads[0][4], heads[-1][4])
    assert len(res.diagnostics["layers"]) == 2  # no shared head to project
    assert res.acc > 70


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"hlop", "baseline"}))
def test_every_method_runs(digits, method: str) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1, "methods.ewc.fisher_samples": 20})
    res = run_continual(_permuted(digits, 2), method, "dsr", cfg, seed=0)
    assert 40 < res.acc <= 100
    if method == "multitask":
        assert res.bwt is None and np.isnan(res.accuracy_matrix[0]).all()
    else:
        assert res.bwt is not None


def test_stability_warning_when_hebbian_learning_diverges(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1, "lateral.hebbian.lr": [3.0, 3.0, 3.0], "lateral.hebbian.lr_decay": False})
    with pytest.warns(ProjectionStabilityWarning, match="eigenvalue of H\\^T H"):
        res = run_continual(_permuted(digits, 1), "hlop", "dsr", cfg, seed=0)
    assert res.diagnostics["warnings"]


def test_too_many_lateral_neurons_is_refused_before_training(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"lateral.first": [70, 30, 30]})
    with pytest.raises(CapacityError, match="fc0.*at most 64"):
        run_continual(_permuted(digits, 2), "hlop", "dsr", cfg)


def test_unknown_method_and_training(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits")
    with pytest.raises(InputError, match="svd-oracle"):
        run_continual(_permuted(digits, 1), "si", "dsr", cfg)
    with pytest.raises(InputError, match="ottt"):
        run_continual(_permuted(digits, 1), "hlop", "eprop", cfg)


def test_backward_transfer_definition() -> None:
    a = np.array([[90.0, np.nan, np.nan], [80.0, 92.0, np.nan], [70.0, 85.0, 95.0]])
    assert backward_transfer(a) == pytest.approx(((70 - 90) + (85 - 92)) / 2)
    assert backward_transfer(a[:1, :1]) is None


def test_a_new_method_is_one_registered_class_and_the_runner_calls_only_its_hooks(digits, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from neurohop.hlop import methods

    calls: list[str] = []

    @dataclasses.dataclass(frozen=True)
    class FrozenSettings:
        from_task: int = 1

    class FrozenFirstLayer(methods.ContinualMethod):
        """Freezes the first hidden layer from task ``methods.frozen.from_task`` on (its gradient is zeroed)."""

        name = "frozen-fc0"
        settings_section, settings_class = "frozen", FrozenSettings

        def before_task(self, t, task):  # type: ignore[no-untyped-def]
            calls.append(f"before {t}")

        def penalty(self, net):  # type: ignore[no-untyped-def]
            calls.append("penalty")
            return None

        def transform_gradient(self, net):  # type: ignore[no-untyped-def]
            start = self.context.config.method_settings["frozen"].from_task
            if self.context.net.layers[0].weight.grad is not None and calls.count(f"before {start}"):
                net.layers[0].weight.grad.zero_()

        def after_task(self, t, task):  # type: ignore[no-untyped-def]
            calls.append(f"after {t}")

    monkeypatch.setitem(methods.METHODS, "frozen-fc0", FrozenFirstLayer)
    cfg = read_config("hlop_digits", {"train.epochs": 1, "methods.frozen.from_task": 1})  # its own settings section
    assert cfg.method_settings["frozen"] == FrozenSettings(1)
    with pytest.raises(ModelFileError, match="methods.frozen.from_tsk: unknown field"):
        read_config("hlop_digits", {"methods.frozen.from_tsk": 1})
    seen: list[torch.Tensor] = []
    res = run_continual(_permuted(digits, 2), "frozen-fc0", "dsr", cfg, seed=0, on_task_end=lambda t, net, lat: seen.append(net.layers[0].weight.detach().clone()))
    assert [c for c in calls if c != "penalty"] == ["before 0", "after 0", "before 1", "after 1"]
    assert calls.count("penalty") > 2  # once per batch
    assert torch.equal(seen[0], seen[1])  # the method's gradient change took effect
    base = run_continual(_permuted(digits, 2), "baseline", "dsr", cfg, seed=0)
    assert res.accuracy_matrix[0, 0] == base.accuracy_matrix[0, 0]  # task 0 untouched by the method
    with pytest.raises(InputError, match="already registered"):
        methods.register(type("Other", (methods.ContinualMethod,), {"name": "hlop"}))
