"""HLOP classifiers (the network each checkpoint embeds) onto loihi, and the export examples run end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import neurohop
from neurohop.export.backend import quantise
from neurohop.export.classifier import classifier_network, predict_fixed, readout_of
from neurohop.hlop.checkpoint import load_classifier, run_classifier, save_classifier
from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.network import SpikingMLP

ROOT = Path(__file__).resolve().parents[2]


def _classifier(tmp_path: Path, n_inputs: int = 30, bias: bool = False) -> Path:
    cfg = NetworkConfig(hidden=(24, 16), timesteps=8, beta=0.9, v_th=1.0, bias=bias, init_gain=3.0, encoder_levels=15)
    net = SpikingMLP(n_inputs, (5,), cfg, torch.Generator().manual_seed(3))
    if bias:
        with torch.no_grad():
            for lin in [*net.layers, *net.heads]:
                lin.bias.uniform_(-0.1, 0.2, generator=torch.Generator().manual_seed(4))
    return save_classifier(tmp_path / "clf.npz", net, info={"data": "synthetic"})


@pytest.mark.parametrize("bias", [False, True])
def test_classifier_network_reproduces_the_float_classifier(tmp_path: Path, bias: bool) -> None:
    path = _classifier(tmp_path, bias=bias)
    clf = load_classifier(path)
    net = classifier_network(path)
    T, readout = clf.net.timesteps, readout_of(net)
    lat = net.metadata["latency_steps"]
    x = torch.rand(64, 30, generator=torch.Generator().manual_seed(0))
    spikes = clf.net.encode(x)
    ref = run_classifier(clf.net, spikes)
    steps = T + lat[readout]
    pad = np.zeros((steps, 64, 30), dtype=bool)
    pad[:T] = spikes.numpy() > 0
    sim = neurohop.build(net, backend="torch", batch=64)
    res = sim.run(steps, {"input": pad})
    layers = [p.name for p in net.populations if p.name.startswith("lif")]
    for name, hidden in zip(layers, ref.spikes):
        np.testing.assert_array_equal(res.spikes[name][lat[name] : lat[name] + T], hidden.numpy() > 0, err_msg=name)
    logits = sim.state(readout)["v"] / T
    np.testing.assert_allclose(logits, ref.logits.numpy(), rtol=1e-4, atol=1e-4)
    program = quantise(net, "loihi", 1.0)
    fixed = predict_fixed(program, spikes.numpy() > 0, T, readout)
    assert (fixed == ref.logits.argmax(1).numpy()).mean() >= 0.85


def test_checkpoint_is_an_export_source(tmp_path: Path) -> None:
    from neurohop.cli import main

    ckpt = _classifier(tmp_path)
    assert main(["export", str(ckpt), "--target", "loihi", "--out", str(tmp_path / "b"), "--num-weight-bits", "6"]) == 0
    np.savez(tmp_path / "in.npz", spikes=np.random.default_rng(0).random((12, 30)) < 0.3)
    assert main(["hw", "run", str(tmp_path / "b"), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz"), "--record-state"]) == 0
    with np.load(tmp_path / "o.npz") as out:
        assert "state/readout/v" in out.files and out["spikes"].shape == (12, 5)


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_example_ca3_spinnaker(tmp_path: Path) -> None:
    out = _run("export_ca3_spinnaker.py", str(tmp_path / "b"))
    assert "262 recorded spikes, 0 mismatches" in out


def test_example_nir_targets(tmp_path: Path) -> None:
    out = _run("export_nir_targets.py", str(tmp_path))
    assert "spinnaker1  refused" in out and "loihi       spike agreement" in out and "xylo        spike agreement" in out


def test_example_hlop_loihi(tmp_path: Path) -> None:
    cfg = NetworkConfig(hidden=(32, 32), timesteps=6, encoder_levels=16, init_gain=2.0)
    ckpt = save_classifier(tmp_path / "d.npz", SpikingMLP(64, (10,), cfg, torch.Generator().manual_seed(0)), info={"data": "digits"})
    out = _run("export_hlop_loihi.py", "--checkpoint", str(ckpt), "--data", "digits", "--out", str(tmp_path / "b"))
    assert "all tasks (364 images): float" in out and (tmp_path / "b" / "manifest.json").exists()
