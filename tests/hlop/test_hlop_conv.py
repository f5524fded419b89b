"""Spiking convolutional networks with HLOP: patch-level lateral circuits, projected convolution
gradients, frozen batch norm, the packaged CNN / ResNet-18 / CIFAR-100 model files, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurohop.data import load_dataset, make_tasks
from neurohop.errors import InputError, ModelFileError
from neurohop.hlop import read_config, run_continual
from neurohop.hlop.conv import PatchConv2d, SpikingConvNet, _Pass, build_classifier, patch_rows
from neurohop.hlop.lateral import orthonormal_rows
from neurohop.hlop.projection import project_weight_gradient


def _tiny_config(**extra: object):  # type: ignore[no-untyped-def]
    over = {"network.timesteps": 4, "train.epochs": 1, "lateral.hebbian.epochs": 1}
    over.update(extra)
    return read_config("hlop_digits_cnn", over)


def _net(shared: bool = False, heads: tuple[int, ...] = (2, 2), **extra: object) -> SpikingConvNet:
    cfg = _tiny_config(**extra)
    return build_classifier(cfg, (8, 8), 64, (10,) if shared else heads, torch.Generator().manual_seed(0), shared, torch.device("cpu"))


def _batch(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 64, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- patches


def test_patch_rows_are_the_unfolded_patches_and_subsample_evenly() -> None:
    conv = PatchConv2d(2, 3, 3, padding=1, bias=False)
    assert (conv.in_features, conv.out_features) == (18, 3)
    x = torch.rand(3, 2, 5, 5, generator=torch.Generator().manual_seed(1))
    every = patch_rows(conv, x, 0)
    assert every.shape == (3 * 25, 18)
    # the convolution is W_mat @ patch at every position
    y = torch.nn.functional.conv2d(x, conv.weight, padding=1)  # (3, 3, 5, 5)
    w_mat = conv.weight.reshape(3, -1)
    torch.testing.assert_close((every @ w_mat.T).reshape(3, 25, 3).transpose(1, 2).reshape(3, 3, 5, 5), y)
    some = patch_rows(conv, x, 5)
    assert some.shape == (15, 18)
    # image b gets positions {0, 5, 10, 15, 20} shifted by b: rows are exact patches of that image
    for b in range(3):
        expected = every.reshape(3, 25, 18)[b, [(p + b) % 25 for p in (0, 5, 10, 15, 20)]]
        torch.testing.assert_close(some[b * 5 : (b + 1) * 5], expected)
    assert patch_rows(conv, x, 100).shape == (75, 18)  # more than the positions: all of them


# ---------------------------------------------------------------- training passes


def test_dsr_rate_pass_reproduces_the_simulated_rates_and_logits() -> None:
    """DSR's straight-through forward value is the simulation: the same logits (float rounding only),
    with running statistics (evaluation, tasks > 0) and with batch statistics (task 0)."""
    net = _net()
    net.eval()
    spikes = net.encode(_batch())
    sim = net.simulate(spikes, 1)
    record, _ = net._run(spikes)
    ps = _Pass(net, "rate", None, record=record, grad=True)
    feats = net._program(ps, spikes.mean(0))
    torch.testing.assert_close(net.heads[1](feats), sim.logits, rtol=1e-5, atol=1e-5)
    net.train()
    before = net.norms[0].running_mean.clone()
    record, time_feats = net._run(spikes, batch_stats=True)
    assert not torch.equal(net.norms[0].running_mean, before)  # task 0: the running statistics learn
    ps = _Pass(net, "rate", None, record=record, grad=True, batch_stats=True)
    torch.testing.assert_close(net._program(ps, spikes.mean(0)), time_feats.mean(0), rtol=1e-5, atol=1e-5)
    sim_after = net.simulate(spikes, 1)  # evaluation uses the running statistics, whatever the mode
    net.eval()
    torch.testing.assert_close(net.simulate(spikes, 1).logits, sim_after.logits, rtol=0, atol=0)


@pytest.mark.parametrize("train", ["dsr", "bptt"])
def test_convolution_gradients_are_projected_orthogonal_to_the_lateral_rows(train: str) -> None:
    """``G_mat H^T = 0`` for every projected convolution, and equal to the weight path ``G - (G H^T) H``."""
    net = _net()
    net.eval()
    gen = torch.Generator().manual_seed(3)
    bases = [orthonormal_rows(k, layer.in_features, gen) for k, (_, layer) in zip((4, 50), net.projected_layers())]
    trainer = net.make_trainer(train, gen)
    spikes = net.encode(_batch(8, 2))
    targets = torch.tensor([0, 1] * 4)
    heads = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1])
    raw = []
    for with_bases in (False, True):
        net.zero_grad()
        trainer.loss(spikes, targets, heads, bases if with_bases else None).backward()
        raw.append([layer.weight.grad.clone() for layer in net.layers])
    for g_raw, g_proj, h in zip(raw[0], raw[1], bases):
        assert float(g_raw.abs().sum()) > 0
        g = g_proj.reshape(g_proj.shape[0], -1)
        assert float((g @ h.T).abs().max()) < 1e-5 * float(g.abs().max() + 1e-12)
        torch.testing.assert_close(g, project_weight_gradient(g_raw.reshape(g_raw.shape[0], -1), h), rtol=1e-5, atol=1e-7)


def test_convolutional_networks_refuse_training_methods_they_lack() -> None:
    net = _net()
    with pytest.raises(InputError, match=r"train: expected one of \['dsr', 'bptt'\] for a convolutional network \(network.kind: cnn\) \(got 'ottt'\)"):
        net.make_trainer("ottt", torch.Generator())


# ---------------------------------------------------------------- the runner


def _digits_tasks(n: int = 2, head: str | None = None):  # type: ignore[no-untyped-def]
    return make_tasks(load_dataset("digits"), "split", 5, np.random.default_rng(0), head=head)


def _conv_run(method: str):  # type: ignore[no-untyped-def]
    cfg = _tiny_config(**{"train.epochs": 2, "lateral.hebbian.epochs": 3})
    snaps: list[dict[str, torch.Tensor]] = []
    laterals: list[list[torch.Tensor]] = []

    def keep(t: int, net, lateral) -> None:  # type: ignore[no-untyped-def]
        snaps.append({k: v.detach().clone() for k, v in net.state_dict().items()})
        laterals.append([h.clone() for h in lateral])

    return run_continual(_digits_tasks(), method, "dsr", cfg, seed=0, on_task_end=keep), snaps, laterals


def _leak(snaps: list[dict[str, torch.Tensor]], h: torch.Tensor, t: int, i: int) -> float:
    """``||dW_mat H^T|| / ||dW_mat||`` of convolution ``i`` over task ``t``: the share of the update in the old subspace."""
    key = f"layers.{i}.weight"
    dw = (snaps[t][key] - snaps[t - 1][key]).reshape(snaps[t][key].shape[0], -1).double()
    return float(torch.linalg.norm(dw @ h.double().T)) / max(float(torch.linalg.norm(dw)), 1e-12)


def test_hlop_run_freezes_batch_norm_and_keeps_old_patch_responses() -> None:
    """After task 0 batch norm never changes; each later task's convolution update stays out of
    the frozen rows' span, where fine-tuning (same seed) puts a large share of it."""
    result, snaps, laterals = _conv_run("hlop")
    base, base_snaps, _ = _conv_run("baseline")
    assert result.accuracy_matrix.shape == (5, 5) and result.acc > 60.0  # 2-class tasks: chance is 50
    norm_keys = [k for k in snaps[0] if k.startswith("norms.")]
    assert norm_keys
    for t in range(1, 5):
        for k in norm_keys:
            torch.testing.assert_close(snaps[t][k], snaps[0][k], rtol=0, atol=0)
    layers = result.diagnostics["layers"]
    assert [entry["name"] for entry in layers] == ["conv0", "conv1"]
    assert [entry["width"] for entry in layers] == [9, 144]
    for t in range(1, 5):
        for i, entry in enumerate(layers):
            h = laterals[t - 1][i]  # rows frozen before task t
            # I - H^T H is an exact projection only for orthonormal rows; the rows' eigenvalues
            # of H H^T are within 1e-2 of 1 here (eig_max in the diagnostics), so the update keeps
            # a share of order 1e-2 x (its unprojected part in the span) / (its size): < 0.02
            leak, leak_base = _leak(snaps, h, t, i), _leak(base_snaps, h, t, i)
            assert leak < 0.02 and leak_base > 10 * leak, (t, entry["name"], leak, leak_base)
            assert float(torch.linalg.norm(snaps[t][f"layers.{i}.weight"] - snaps[t - 1][f"layers.{i}.weight"])) > 0  # still learns
        assert layers[0]["rows_total"][t] == 3 + t  # the model file's schedule
    assert base.bwt is not None


def test_baselines_run_on_the_cnn_and_gpm_learns_on_patches() -> None:
    seq = _digits_tasks()
    cfg = _tiny_config()
    for method in ("baseline", "gpm", "ewc", "replay"):
        r = run_continual(seq, method, "dsr", cfg, seed=0)
        assert np.isfinite(r.acc) and r.bwt is not None
        if method == "gpm":
            rows = [entry["rows_total"] for entry in r.diagnostics["layers"]]
            assert all(0 < k[0] <= k[-1] for k in rows)
            assert rows[0][-1] <= 9 and rows[1][-1] <= 144


def test_shared_head_is_projected_and_bptt_runs() -> None:
    seq = _digits_tasks(head="shared")
    r = run_continual(seq, "hlop", "bptt", _tiny_config(), seed=0)
    names = [entry["name"] for entry in r.diagnostics["layers"]]
    assert names == ["conv0", "conv1", "head"]
    assert r.diagnostics["layers"][2]["width"] == 128


def test_checkpoint_resume_gives_the_same_matrix(tmp_path: Path) -> None:
    seq = _digits_tasks()
    cfg = _tiny_config()
    full = run_continual(seq, "hlop", "dsr", cfg, seed=1)

    class Stop(Exception):
        pass

    def stop(t: int, net, lateral) -> None:  # type: ignore[no-untyped-def]
        if t == 1:
            raise Stop

    with pytest.raises(Stop):
        run_continual(seq, "hlop", "dsr", cfg, seed=1, checkpoint_dir=tmp_path, on_task_end=stop)
    resumed = run_continual(seq, "hlop", "dsr", cfg, seed=1, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.accuracy_matrix, full.accuracy_matrix)


# ---------------------------------------------------------------- model files and settings


def test_packaged_convolutional_model_files() -> None:
    cifar = read_config("hlop_cifar100")
    assert (cifar.network.kind, cifar.network.conv, cifar.network.pool, cifar.network.kernel) == ("cnn", (64, 128, 256), (2, 2, 2), 3)
    net = build_classifier(cifar, (3, 32, 32), 3072, (10,) * 10, torch.Generator().manual_seed(0), False, torch.device("cpu"))
    assert net.heads[0].in_features == 4096 and len(net.heads) == 10
    assert [layer.in_features for _, layer in net.projected_layers()] == [27, 576, 1152]
    cifar.lateral.check_capacity((27, 576, 1152, 4096), ("conv0", "conv1", "conv2", "head"), 10)

    res = read_config("hlop_resnet18")
    assert (res.network.kind, res.network.width) == ("resnet18", 20)
    rn = build_classifier(res, (3, 32, 32), 3072, (5,) * 4, torch.Generator().manual_seed(0), False, torch.device("cpu"))
    convs = [layer for _, layer in rn.projected_layers()]
    assert len(convs) == 20 and all(isinstance(c, PatchConv2d) for c in convs)
    widths = tuple(c.in_features for c in convs) + (rn.heads[0].in_features,)
    assert widths[0] == 27 and widths[-1] == 640 and max(widths) == 1440
    res.lateral.check_capacity(widths, tuple(f"l{i}" for i in range(21)), 20)
    mnist = read_config("hlop_mnist_cnn")
    assert mnist.network.kind == "cnn"


@pytest.mark.parametrize("train", ["dsr", "bptt"])
def test_resnet18_trains_with_projected_convolutions(train: str) -> None:
    cfg = read_config("hlop_resnet18", {"network.width": 4, "network.timesteps": 2})
    net = build_classifier(cfg, (3, 16, 16), 768, (3, 3), torch.Generator().manual_seed(0), False, torch.device("cpu"))
    gen = torch.Generator().manual_seed(5)
    bases = [orthonormal_rows(max(1, layer.in_features // 4), layer.in_features, gen) for _, layer in net.projected_layers()]
    x = torch.rand(4, 768, generator=gen)
    net.train()
    loss = net.make_trainer(train, gen).loss(net.encode(x), torch.tensor([0, 1, 2, 0]), torch.tensor([0, 0, 1, 1]), bases)
    loss.backward()
    for (name, layer), h in zip(net.projected_layers(), bases):
        g = layer.weight.grad.reshape(layer.weight.shape[0], -1)
        assert float((g @ h.T).abs().max()) <= 1e-5 * float(g.abs().max() + 1e-12), name
    net.eval()
    sim = net.simulate(net.encode(x), 1)
    assert sim.logits.shape == (4, 3) and len(sim.inputs) == 20


def test_convolution_settings_are_checked() -> None:
    with pytest.raises(ModelFileError, match=r"network.kind: expected one of \['mlp', 'cnn', 'resnet18'\] \(got 'vit'\)"):
        read_config("hlop_digits_cnn", {"network.kind": "vit"})
    with pytest.raises(ModelFileError, match=r"network.pool: expected 2 pooling factors"):
        read_config("hlop_digits_cnn", {"network.pool": [2]})
    with pytest.raises(ModelFileError, match=r"lateral.first: expected 4 entries \(the cnn.s weight layers and the shared head\) \(got 3\)"):
        read_config("hlop_digits_cnn", {"network.conv": [8, 8, 8], "network.pool": [1, 1, 2]})
    cfg = read_config("hlop_digits_cnn", {"network.pool": [2, 3]})
    with pytest.raises(InputError, match=r"network.pool\[1\]: expected a factor dividing the 4x4 feature map \(got 3\)"):
        build_classifier(cfg, (8, 8), 64, (2,), torch.Generator(), True, torch.device("cpu"))
    cfg = read_config("hlop_digits_cnn")
    with pytest.raises(InputError, match=r"network.input_shape: expected \[channels, height, width\] for a data set without an image shape"):
        build_classifier(cfg, None, 64, (2,), torch.Generator(), True, torch.device("cpu"))
    with pytest.raises(InputError, match=r"network.input_shape: expected \[1, 8, 8\] to hold the 50 features"):
        build_classifier(cfg, (8, 8), 50, (2,), torch.Generator(), True, torch.device("cpu"))


# ---------------------------------------------------------------- end to end through the CLI


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import neurohop.cli

    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    return neurohop.cli.main


def test_cifar100_configuration_runs_end_to_end_on_a_fake_binary_release(main, tmp_path: Path, fake_cifar100) -> None:  # type: ignore[no-untyped-def]
    """The 10-split CIFAR-100 model file on a small file in the release's format: a user with the
    real ``cifar-100-binary`` directory only changes the path (and drops the --set lines)."""
    root = fake_cifar100(tmp_path / "cifar-100-binary")
    out = tmp_path / "run.json"
    argv = ["cl", "run", "--data", str(root), "--scenario", "split", "--tasks", "10", "--model", "hlop_cifar100", "--method", "hlop",
            "--train", "dsr", "--epochs", "1", "--quiet", "--json", str(out),
            "--set", "network.timesteps=2", "--set", "lateral.hebbian.epochs=1", "--set", "train.batch_size=20"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["network"]["conv"] == [64, 128, 256]
    assert doc["settings"]["tasks"]["classes"][9] == list(range(90, 100))
    matrix = np.array([[np.nan if v is None else v for v in row] for row in doc["accuracy_matrix"]])
    assert matrix.shape == (10, 10) and np.all(np.isfinite(np.tril(matrix) + np.triu(np.zeros((10, 10)), 1)))
    layers = doc["diagnostics"]["layers"]
    assert [entry["name"] for entry in layers] == ["conv0", "conv1", "conv2"]
    assert [entry["rows_total"][-1] for entry in layers] == [24, 370, 740]


def test_cnn_reads_npz_images_and_image_folders(main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    # .npz with images (N, H, W): the shape is kept for the convolutions
    x = rng.random((40, 8, 8))
    y = np.arange(40) % 4
    np.savez(tmp_path / "d.npz", X=x, y=y)
    ds = load_dataset(tmp_path / "d.npz")
    assert ds.image_shape == (8, 8)
    out = tmp_path / "npz.json"
    base = ["cl", "run", "--scenario", "split", "--tasks", "2", "--model", "hlop_digits_cnn", "--method", "hlop", "--epochs", "1", "--quiet",
            "--set", "network.timesteps=2", "--set", "lateral.hebbian.epochs=1"]  # fmt: skip
    assert main([*base, "--data", str(tmp_path / "d.npz"), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["diagnostics"]["layers"][0]["width"] == 9
    # flat rows without a shape need network.input_shape
    np.savez(tmp_path / "flat.npz", X=x.reshape(40, 64), y=y)
    assert main([*base, "--data", str(tmp_path / "flat.npz")]) == 2
    assert main([*base, "--data", str(tmp_path / "flat.npz"), "--set", "network.input_shape=[1, 8, 8]"]) == 0
    # an image folder of RGB PNG files (Pillow)
    image = pytest.importorskip("PIL.Image")
    for c in range(4):
        d = tmp_path / "folder" / f"class{c}"
        d.mkdir(parents=True)
        for i in range(6):
            image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(d / f"{i}.png")
    out = tmp_path / "folder.json"
    assert main([*base, "--data", str(tmp_path / "folder"), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["diagnostics"]["layers"][0]["width"] == 27  # 3 channels x 3 x 3


def test_save_is_refused_for_convolutional_networks(main, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    argv = ["cl", "run", "--data", "digits", "--scenario", "split", "--tasks", "5", "--model", "hlop_digits_cnn", "--quiet", "--save", str(tmp_path / "c.npz")]
    assert main(argv) == 2
    assert "--save: expected a fully connected classifier" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (benchmarks/gpu_check.py runs it: -k cuda)")
@pytest.mark.parametrize("train", ["dsr", "bptt"])
def test_cnn_hlop_runs_on_cuda_like_on_the_cpu(train: str) -> None:
    """The same run on the GPU: every tensor follows the run's device; accuracies within a few
    points of the CPU's (float32 reductions differ in order, which can flip a spike)."""
    seq = _digits_tasks()
    cfg = _tiny_config()
    gpu = run_continual(seq, "hlop", train, cfg, seed=0, device="cuda")
    cpu = run_continual(seq, "hlop", train, cfg, seed=0, device="cpu")
    assert gpu.settings["device"].startswith("cuda")
    assert abs(gpu.acc - cpu.acc) < 10.0, (gpu.acc, cpu.acc)
    res = read_config("hlop_resnet18", {"network.width": 4, "network.timesteps": 2})
    net = build_classifier(res, (3, 16, 16), 768, (3,), torch.Generator().manual_seed(0), True, torch.device("cuda"))
    x = torch.rand(4, 768)
    loss = net.make_trainer(train, torch.Generator()).loss(net.encode(x), torch.tensor([0, 1, 2, 0], device="cuda"), torch.zeros(4, dtype=torch.int64, device="cuda"))
    loss.backward()
    assert all(p.grad is not None and p.grad.is_cuda for p in net.layers.parameters())


def test_hebbian_learning_during_training_runs_on_patches() -> None:
    """``lateral.during_training`` (the reference protocol): the circuits learn on every batch's patches."""
    cfg = _tiny_config(**{"lateral.during_training": True, "lateral.hebbian.lr_decay": False})
    r = run_continual(_digits_tasks(), "hlop", "dsr", cfg, seed=0)
    layers = r.diagnostics["layers"]
    assert [entry["rows_total"][-1] for entry in layers] == [7, 120]
    assert all(max(entry["eig_max"]) < cfg.lateral.eig_warn for entry in layers)


def test_settings_the_convolutional_networks_lack_are_refused() -> None:
    spiking = {"lateral.spiking.enabled": True, "lateral.spiking.range": 20.0}
    for key, value, extra in (("lateral.per_step", ["bptt"], {}), ("lateral.spiking.in_projection", True, spiking)):
        cfg = _tiny_config(**{key: value}, **extra)
        with pytest.raises(InputError, match=rf"{key}: not available for convolutional networks"):
            build_classifier(cfg, (8, 8), 64, (2,), torch.Generator(), True, torch.device("cpu"))
