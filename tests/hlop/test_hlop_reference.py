"""The reference protocol as settings: each difference from neurohop's variant is one named
setting that changes what it documents (hlop_pmnist_reference.yaml vs hlop_pmnist.yaml)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurohop.data import load_digits, make_tasks
from neurohop.errors import ModelFileError
from neurohop.hlop.config import read_config
from neurohop.hlop.lateral import SpikingLateralParameters, spiking_response
from neurohop.hlop.network import SpikingMLP
from neurohop.hlop.neurons import LayerParameters, LayerState, layer_step
from neurohop.hlop.projection import QuantisedBasis, project_out, traced_linear
from neurohop.hlop.runner import collect_activity, run_continual

#: Every setting that tells the two PMNIST files apart (section.field -> reference value).
REFERENCE = {
    "network.hidden": (800, 800),
    "network.timesteps": 20,
    "network.reset": "subtract",
    "network.train_threshold": True,
    "network.input": "current",
    "train.epochs": 1,
    "train.batch_size": 64,
    "train.momentum": 0.0,
    "lateral.first": (80, 200, 100),
    "lateral.increment": (70, 70, 70),
    "lateral.reduce_by": (20, 20, 20),
    "lateral.reduce_mode": "cumulative",
    "lateral.orthogonal_init": False,
    "lateral.during_training": True,
    "lateral.per_step": ("bptt", "ottt"),
    "lateral.hebbian.lr": (0.001, 0.01, 0.01),
    "lateral.hebbian.iterations": 5,
    "lateral.hebbian.lr_decay": False,
    "lateral.spiking.enabled": True,
    "lateral.spiking.range": 20.0,
    "lateral.spiking.quantiser": "round",
    "lateral.spiking.in_projection": True,
    "replay.per_class": 50,
    "replay.batch_size": 50,
    "replay.mode": "phase",
    "replay.lr": 0.01,
    "replay.per_task": True,
    "replay.projected": False,
    "replay.selection": "first",
    "ewc.variant": "original",
    "ewc.lam": 25.0,
}


def _get(cfg, key: str):  # type: ignore[no-untyped-def]
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_digits()


def _seq(ds, n: int = 2):  # type: ignore[no-untyped-def]
    return make_tasks(ds, "permuted", n, np.random.default_rng(0))


def test_reference_file_differs_from_neurohops_exactly_in_the_named_settings() -> None:
    ref, own = read_config("hlop_pmnist_reference"), read_config("hlop_pmnist")
    for key, value in REFERENCE.items():
        assert _get(ref, key) == value, key
        assert _get(own, key) != value, key  # a real difference, one setting each
    assert ref.train.lr["dsr"] == ref.train.lr["bptt"] == 0.1
    # the reference schedule: increment cut by 20 for good at tasks 3, 6 and 9
    assert [ref.lateral.total_rows(i, 10) for i in range(3)] == [470, 590, 490]
    assert [own.lateral.total_rows(i, 10) for i in range(3)] == [650, 350, 350]
    # both PMNIST files use GPM's permuted-MNIST rule (no per-task increment)
    assert ref.gpm.rule == own.gpm.rule == "pmnist"


def test_reduce_mode_once_vs_cumulative() -> None:
    once = read_config("hlop_pmnist_reference", {"lateral.reduce_mode": "once"}).lateral
    cum = read_config("hlop_pmnist_reference").lateral
    assert [once.rows(0, t) for t in range(10)] == [80, 70, 70, 50, 70, 70, 50, 70, 70, 50]
    assert [cum.rows(0, t) for t in range(10)] == [80, 70, 70, 50, 50, 50, 30, 30, 30, 10]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("network.reset", "soft", "network.reset: expected one of ['hard', 'subtract']"),
        ("network.input", "analog", "network.input: expected one of ['spikes', 'current']"),
        ("network.input_std", 0, "network.input_std: expected a number > 0.0"),
        ("network.train_threshold", "yes", "network.train_threshold: expected true or false"),
        ("lateral.reduce_mode", "always", "lateral.reduce_mode: expected one of ['once', 'cumulative']"),
        ("lateral.per_step", ["bptt", "rtrl"], "lateral.per_step[1]: expected a training method"),
        ("lateral.per_step", 3, "lateral.per_step: expected true, false or a list"),
        ("lateral.during_training", 1, "lateral.during_training: expected true or false"),
        ("lateral.hebbian.lr_decay", True, "lateral.hebbian.lr_decay: expected false when lateral.during_training is true"),
        ("lateral.spiking.quantiser", "floor", "lateral.spiking.quantiser: expected one of ['integrate', 'round']"),
        ("lateral.spiking.range", "auto", "lateral.spiking.range: expected a number (not 'auto') when lateral.spiking.in_projection is true"),
        ("methods.gpm.rule", "mnist", "methods.gpm.rule: expected one of ['pmnist', 'cifar']"),
        ("methods.ewc.variant", "offline", "methods.ewc.variant: expected one of ['online', 'original']"),
        ("methods.replay.mode", "interleaved", "methods.replay.mode: expected one of ['mixed', 'phase']"),
        ("methods.replay.phase_epochs", 0, "methods.replay.phase_epochs: expected an integer >= 1"),
    ],
)
def test_new_settings_are_checked_naming_file_and_field(key: str, value: object, message: str) -> None:
    with pytest.raises(ModelFileError) as info:
        read_config("hlop_pmnist_reference", {key: value})
    assert "hlop_pmnist_reference.yaml" in str(info.value) and message in str(info.value), str(info.value)


def test_in_projection_needs_spiking_lateral_neurons() -> None:
    with pytest.raises(ModelFileError, match="lateral.spiking.in_projection: expected false when lateral.spiking.enabled is false"):
        read_config("hlop_pmnist_reference", {"lateral.spiking.enabled": False})


def test_per_step_true_means_every_training_method() -> None:
    cfg = read_config("hlop_digits", {"lateral.per_step": True})
    assert set(cfg.lateral.per_step) == {"bptt", "dsr", "ottt", "fa", "ss"}
    assert read_config("hlop_digits").lateral.per_step == ()


def test_subtractive_reset_keeps_the_excess_over_threshold() -> None:
    cur = torch.tensor([[1.5, 0.5]])
    th = torch.ones(2)
    z, hard = layer_step(cur, LayerState(torch.zeros(1, 2)), LayerParameters(0.9, th))
    z2, sub = layer_step(cur, LayerState(torch.zeros(1, 2)), LayerParameters(0.9, th, reset="subtract"))
    assert torch.equal(z, z2) and z.tolist() == [[1.0, 0.0]]
    assert hard.v.tolist() == [[0.0, 0.5]]
    assert sub.v.tolist() == [[0.5, 0.5]]


def test_trainable_threshold_is_a_parameter_that_learns_in_task_0_only(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"network.train_threshold": True, "train.epochs": 1})
    fixed = read_config("hlop_digits", {"train.epochs": 1})
    net = SpikingMLP(64, (10,), cfg.network, torch.Generator().manual_seed(0))
    assert "v_th0" in dict(net.named_parameters()) and "v_th0" not in dict(net.named_buffers())
    res = run_continual(_seq(digits), "baseline", "bptt", cfg, seed=0)
    th = res.net.thresholds()[0].detach()
    assert not torch.all(th == 1.0)  # trained
    res_fixed = run_continual(_seq(digits), "baseline", "bptt", fixed, seed=0)
    assert torch.all(res_fixed.net.thresholds()[0] == 1.0)


def test_input_current_is_the_normalised_pixel_at_every_step() -> None:
    cfg = read_config("hlop_digits", {"network.input": "current", "network.input_mean": 0.25, "network.input_std": 0.5})
    net = SpikingMLP(64, (10,), cfg.network, torch.Generator().manual_seed(0))
    x = torch.linspace(0, 1, 64).reshape(1, 64)
    a = net.encode(x)
    assert a.shape == (10, 1, 64)
    assert torch.equal(a[3], (x - 0.25) / 0.5) and torch.equal(a[0], a[9])
    spikes = SpikingMLP(64, (10,), read_config("hlop_digits").network, torch.Generator().manual_seed(0)).encode(x)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_round_quantiser_is_the_reference_formula() -> None:
    y = torch.tensor([[-30.0, -7.3, 0.2, 0.26, 13.1, 25.0]])
    p = SpikingLateralParameters(40, 20, 20.0 * 40 / 20, False, "round", 20.0)
    expected = torch.round(y.clamp(-20, 20) / 20 * 40) / 40 * 20
    assert torch.equal(spiking_response(y, p), expected)
    assert spiking_response(y, p).tolist()[0][0] == -20.0 and spiking_response(y, p).tolist()[0][2] == 0.0
    # the integrate-and-fire counts truncate (no dither) and saturate at 20 counts of 1.0
    counts = spiking_response(y, p._replace(quantiser="integrate"))
    assert counts.tolist()[0] == [-20.0, -7.0, 0.0, 0.0, 13.0, 20.0]


def test_quantised_basis_is_used_inside_the_projection() -> None:
    g = torch.Generator().manual_seed(1)
    h = torch.linalg.qr(torch.randn(6, 2, generator=g))[0].T.contiguous()
    x = torch.randn(5, 6, generator=g)
    q = lambda c: torch.round(c * 2) / 2  # noqa: E731
    qb = QuantisedBasis(h, q)
    assert torch.equal(project_out(x, qb), x - q(x @ h.T) @ h)
    assert not torch.allclose(project_out(x, qb), project_out(x, h))
    w = torch.randn(3, 6, generator=g, requires_grad=True)
    traced_linear(x, w, basis=qb).sum().backward()
    assert torch.allclose(w.grad, torch.ones(5, 3).T @ (x - q(x @ h.T) @ h))


def test_in_projection_forces_the_input_path_and_changes_the_update(digits) -> None:  # type: ignore[no-untyped-def]
    over = {"train.epochs": 1, "lateral.spiking.enabled": True, "lateral.spiking.range": 4.0, "lateral.spiking.quantiser": "round", "lateral.spiking.timesteps": 8, "lateral.spiking.saturation": 8}
    plain = run_continual(_seq(digits), "hlop", "dsr", read_config("hlop_digits", {**over, "train.projection_path": "weight"}), seed=0)
    quant = run_continual(_seq(digits), "hlop", "dsr", read_config("hlop_digits", {**over, "train.projection_path": "weight", "lateral.spiking.in_projection": True}), seed=0)
    assert set(plain.diagnostics["projection_path"].values()) == {"weight"}
    assert set(quant.diagnostics["projection_path"].values()) == {"input"}
    assert plain.accuracy_matrix[0, 0] == quant.accuracy_matrix[0, 0]  # task 0 has nothing to project
    assert not torch.equal(plain.net.layers[0].weight, quant.net.layers[0].weight)


def test_during_training_learns_rows_on_every_batch_not_in_a_phase(digits, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from neurohop.hlop import parts

    calls = {"batch": 0, "phase": 0}
    learn_batch, circuit_learn = parts.Projector.learn_batch, parts.LateralCircuit.learn

    def counting_batch(self, activity):  # type: ignore[no-untyped-def]
        calls["batch"] += 1
        return learn_batch(self, activity)

    def counting_phase(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["phase"] += 1
        return circuit_learn(self, *a, **k)

    monkeypatch.setattr(parts.Projector, "learn_batch", counting_batch)
    monkeypatch.setattr(parts.LateralCircuit, "learn", counting_phase)
    cfg = read_config("hlop_digits", {"train.epochs": 1, "lateral.during_training": True, "lateral.hebbian.lr_decay": False})
    seq = _seq(digits)
    res = run_continual(seq, "hlop", "dsr", cfg, seed=0)
    n_batches = sum(-(-t.size("train") // cfg.train.batch_size) for t in seq.tasks)
    assert calls == {"batch": n_batches, "phase": 0}
    calls.update(batch=0, phase=0)
    sep = run_continual(seq, "hlop", "dsr", read_config("hlop_digits", {"train.epochs": 1}), seed=0)
    assert calls == {"batch": 0, "phase": 2 * 3}  # two tasks, three projected layers
    for layer in res.diagnostics["layers"]:
        assert layer["rows_added"] == [20 if layer["name"] == "fc0" else 30, 10 if layer["name"] == "fc0" else 15]
        assert layer["energy_captured"][0] > 0.3 * layer["energy_optimal"][0]  # the rows did learn the subspace
    assert res.bwt is not None and sep.bwt is not None


def test_per_step_rows_learn_on_every_step(digits) -> None:  # type: ignore[no-untyped-def]
    cfg = read_config("hlop_digits", {"train.epochs": 1})
    seq = _seq(digits)
    net = SpikingMLP(64, (20,), cfg.network, torch.Generator().manual_seed(0))
    n = seq.tasks[0].size("train")
    rates = collect_activity(net, seq.tasks[0], "train", n)
    steps = collect_activity(net, seq.tasks[0], "train", n, per_step=True)
    assert [s.shape for s in steps] == [(n * 10, 64), (n * 10, 100), (n * 10, 100)]
    # one batch: rows are step-major, (T, n) of each layer's spikes
    assert torch.allclose(steps[1].reshape(10, n, 100).mean(0), rates[1])
    a = run_continual(seq, "hlop", "bptt", cfg, seed=0)
    b = run_continual(seq, "hlop", "bptt", read_config("hlop_digits", {"train.epochs": 1, "lateral.per_step": ["bptt"]}), seed=0)
    c = run_continual(seq, "hlop", "dsr", read_config("hlop_digits", {"train.epochs": 1, "lateral.per_step": ["bptt"]}), seed=0)
    d = run_continual(seq, "hlop", "dsr", cfg, seed=0)
    assert not torch.equal(a.lateral[1], b.lateral[1])  # bptt: per-step rows
    assert torch.equal(c.lateral[1], d.lateral[1])  # dsr is not listed: rates as before


def test_gpm_rule_pmnist_keeps_the_threshold_cifar_raises_it(digits) -> None:  # type: ignore[no-untyped-def]
    over = {"train.epochs": 1, "methods.gpm.threshold": [0.9, 0.9, 0.9], "methods.gpm.threshold_step": 0.01}
    seq = _seq(digits)
    pm = run_continual(seq, "gpm", "dsr", read_config("hlop_digits", {**over, "methods.gpm.rule": "pmnist"}), seed=0)
    cf = run_continual(seq, "gpm", "dsr", read_config("hlop_digits", {**over, "methods.gpm.rule": "cifar"}), seed=0)
    assert [layer["threshold"] for layer in pm.diagnostics["layers"]] == [[0.9, 0.9]] * 3
    assert [layer["threshold"] for layer in cf.diagnostics["layers"]] == [[0.9, 0.91]] * 3


def test_ewc_original_keeps_one_penalty_per_task(digits) -> None:  # type: ignore[no-untyped-def]
    from neurohop.hlop.parts import EWC

    cfg = read_config("hlop_digits", {"methods.ewc.variant": "original", "methods.ewc.lambda": 2.0})
    net = SpikingMLP(64, (20,), cfg.network, torch.Generator().manual_seed(0))
    ewc, online = EWC(cfg, net, lr=0.03, momentum=0.9), EWC(read_config("hlop_digits", {"methods.ewc.lambda": 2.0}), net, lr=0.03, momentum=0.9)
    w = net.layers[0].weight.detach()
    f1, a1 = {"layers.0.weight": torch.full_like(w, 1.0)}, {"layers.0.weight": torch.zeros_like(w)}
    f2, a2 = {"layers.0.weight": torch.full_like(w, 3.0)}, {"layers.0.weight": torch.ones_like(w)}
    ewc.tasks = [(f1, a1), (f2, a2)]
    expected = 0.5 * 2.0 * float((1.0 * w**2).sum() + (3.0 * (w - 1) ** 2).sum())
    assert float(ewc.penalty(net).detach()) == pytest.approx(expected, rel=1e-5)  # float32 sums of 6400 terms
    # online: one Fisher (summed over tasks) around the latest parameters
    online.fisher, online.anchor = {"layers.0.weight": f1["layers.0.weight"] + f2["layers.0.weight"]}, a2
    assert float(online.penalty(net).detach()) == pytest.approx(0.5 * 2.0 * float((4.0 * (w - 1) ** 2).sum()), rel=1e-5)
    # end to end: one (Fisher, anchor) pair per finished task
    res = run_continual(_seq(digits, 3), "ewc", "dsr", read_config("hlop_digits", {"train.epochs": 1, "methods.ewc.variant": "original", "methods.ewc.fisher_samples": 20}), seed=0)
    assert res.bwt is not None


def test_ewc_caps_the_penalty_curvature_below_sgd_divergence() -> None:
    from neurohop.hlop.parts import EWC

    # plain SGD (lr 0.1, no momentum) diverges on a quadratic of curvature above 2 / 0.1 = 20;
    # "auto" caps lambda * F at half of that, 10, and scales only the weights above the cap
    def run(cap: object) -> tuple[float, list[float], dict]:  # type: ignore[type-arg]
        cfg = read_config("hlop_digits", {"methods.ewc.lambda": 1.0, "methods.ewc.max_stiffness": cap})
        net = SpikingMLP(2, (2,), cfg.network, torch.Generator().manual_seed(0))
        ewc = EWC(cfg, net, lr=0.1, momentum=0.0)
        w = net.layers[0].weight
        fisher = torch.zeros_like(w)
        fisher[:2, :2] = torch.tensor([[4.0, 40.0], [1.0, 25.0]])
        ewc.fisher, ewc.anchor = {"layers.0.weight": fisher}, {"layers.0.weight": torch.zeros_like(w)}
        largest, capped, _ = ewc.refresh_scale()
        with torch.no_grad():
            w.fill_(1.0)
        opt = torch.optim.SGD([w], lr=0.1)
        for _ in range(30):
            opt.zero_grad()
            ewc.penalty(net).backward()
            opt.step()
        return largest, [float(v) for v in w.detach()[:2, :2].abs().flatten()], {"capped": capped, "scale": ewc.scale}

    largest, w_none, info = run("none")
    assert largest == 40.0 and info["capped"] == 0
    # curvatures 40 and 25: |1 - 0.1 k| = 3 and 1.5 per step, so those weights blow up
    assert w_none[1] > 1e10 and w_none[3] > 1e4 and w_none[0] < 1e-3
    _, w_auto, info = run("auto")
    assert info["capped"] == 2
    scale = info["scale"]["layers.0.weight"]
    # float32 quotients: one rounding each
    assert torch.allclose(scale[:2, :2], torch.tensor([[1.0, 10 / 40], [1.0, 10 / 25]]), rtol=1e-6, atol=0) and int((scale != 1).sum()) == 2
    assert max(w_auto) < 0.05  # every weight contracts to its anchor; curvature 1 slowest, 0.9^30 = 0.042
    _, w_num, info = run(30.0)
    assert info["capped"] == 1 and w_num[3] > 1e4  # a cap of 30 still lets the 25 diverge
    for bad in ("sometimes", 0.0, -1.0, float("nan")):
        with pytest.raises(ModelFileError, match="methods.ewc.max_stiffness"):
            read_config("hlop_digits", {"methods.ewc.max_stiffness": bad})


def test_ewc_reports_the_cap_in_its_diagnostics_and_survives_a_huge_lambda(digits) -> None:  # type: ignore[no-untyped-def]
    seq = _seq(digits)
    over = {"train.epochs": 1, "methods.ewc.fisher_samples": 20, "methods.ewc.lambda": 1e7}
    capped = run_continual(seq, "ewc", "dsr", read_config("hlop_digits", over), seed=0)
    report = capped.diagnostics["ewc"]
    assert len(report) == 2 and report[0]["capped"] > 0 and report[0]["stiffness_max"] > report[0]["limit"]
    assert report[0]["cap"] == pytest.approx(report[0]["limit"] / 2)
    assert any("curvature cap" in w for w in capped.diagnostics["warnings"])
    assert np.isfinite(capped.accuracy_matrix[1, 1]) and capped.accuracy_matrix[1, 1] > 20  # chance is 10
    raw = run_continual(seq, "ewc", "dsr", read_config("hlop_digits", {**over, "methods.ewc.max_stiffness": "none"}), seed=0)
    assert raw.diagnostics["ewc"][0]["capped"] == 0 and raw.diagnostics["ewc"][0]["cap"] is None
    assert any("diverges" in w for w in raw.diagnostics["warnings"])


def test_replay_phase_trains_on_the_memory_after_each_task(digits, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from neurohop.hlop.methods.replay import ReplayMethod

    seen: list[int] = []
    original = ReplayMethod.phase_batches

    def spy(self, t):  # type: ignore[no-untyped-def]
        out = original(self, t)
        seen.append(sum(len(b[1]) for b in out))
        return out

    monkeypatch.setattr(ReplayMethod, "phase_batches", spy)
    seq = _seq(digits, 3)
    over = {"train.epochs": 1, "methods.replay.per_class": 5, "methods.replay.phase_epochs": 2}
    phase = run_continual(seq, "replay", "dsr", read_config("hlop_digits", {**over, "methods.replay.mode": "phase"}), seed=0)
    # nothing after task 0; then 2 passes over 5 samples x 10 classes of 2 and of 3 tasks
    assert seen == [0, 2 * 100, 2 * 150]
    seen.clear()
    mixed = run_continual(seq, "replay", "dsr", read_config("hlop_digits", over), seed=0)
    assert seen == [0, 0, 0]
    assert phase.accuracy_matrix[0, 0] == mixed.accuracy_matrix[0, 0]
    assert not np.array_equal(phase.accuracy_matrix, mixed.accuracy_matrix)


def test_subtractive_reset_survives_a_checkpoint_and_an_input_current_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from neurohop.errors import InputError
    from neurohop.hlop.as_network import from_network, to_network
    from neurohop.hlop.checkpoint import load_classifier, save_classifier

    sub = SpikingMLP(64, (10,), read_config("hlop_digits", {"network.reset": "subtract"}).network, torch.Generator().manual_seed(0))
    assert to_network(sub).population("lif0").model.reset == "subtract"
    assert from_network(to_network(sub)).config.reset == "subtract"
    save_classifier(tmp_path / "c.npz", sub)
    back = load_classifier(tmp_path / "c.npz").net
    assert back.config.reset == "subtract"
    x = torch.rand(5, 64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(back.simulate(back.encode(x)).logits, sub.simulate(sub.encode(x)).logits)
    cur = SpikingMLP(64, (10,), read_config("hlop_digits", {"network.input": "current"}).network, torch.Generator().manual_seed(0))
    with pytest.raises(InputError, match="to_network: net: expected a classifier with spike input"):
        to_network(cur)
