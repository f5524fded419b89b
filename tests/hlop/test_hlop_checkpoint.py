"""Classifier checkpoints and NIR export: round trips and the time semantics of the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurohop.errors import ModelFileError
from neurohop.hlop.checkpoint import from_nir, load_classifier, run_classifier, save_classifier, to_nir
from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.network import SpikingMLP


def _net(beta: float = 0.9, bias: bool = False, heads: tuple[int, ...] = (4,)) -> SpikingMLP:
    cfg = NetworkConfig(hidden=(12, 9), timesteps=8, beta=beta, bias=bias, init_gain=3.0)
    net = SpikingMLP(20, heads, cfg, torch.Generator().manual_seed(3), shared_head=len(heads) == 1)
    if bias:
        with torch.no_grad():
            for lin in [*net.layers, *net.heads]:
                lin.bias.uniform_(-0.2, 0.3, generator=torch.Generator().manual_seed(4))
    return net


def _spikes(net: SpikingMLP, n: int = 16) -> torch.Tensor:
    return net.encode(torch.rand(n, net.n_inputs, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("bias", [False, True])
def test_checkpoint_round_trip(tmp_path: Path, bias: bool) -> None:
    net = _net(bias=bias, heads=(3, 3))
    perms = [np.arange(20), np.arange(20)[::-1]]
    path = save_classifier(tmp_path / "clf.npz", net, tasks={"scenario": "split"}, permutations=perms, lateral=[torch.eye(3, 20)], info={"acc": 1.0})
    clf = load_classifier(path)
    spikes = _spikes(net)
    for head in (0, 1):
        a, b = run_classifier(net, spikes, head), run_classifier(clf.net, spikes.numpy(), head)
        assert torch.equal(a.logits, b.logits)
        assert all(torch.equal(x, y) for x, y in zip(a.spikes, b.spikes))
    assert clf.meta["neuron"]["beta"] == 0.9 and clf.meta["timesteps"] == 8 and clf.meta["encoder"]["levels"] == 255
    assert clf.meta["tasks"] == {"scenario": "split"} and clf.meta["info"] == {"acc": 1.0}
    assert np.array_equal(clf.arrays["task_permutations"][1], perms[1])
    assert clf.arrays["lateral0.weight"].shape == (3, 20)


def test_bad_checkpoint(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(ModelFileError, match="meta_json"):
        load_classifier(tmp_path / "x.npz")


def _run_nir_graph(graph, spikes: np.ndarray, dt: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A minimal discrete-time NIR interpreter: forward Euler with step dt, same-step propagation."""
    import nir

    order = ["input"]
    while order[-1] != "output":
        order.append(next(b for a, b in graph.edges if a == order[-1]))
    state = {name: None for name in order}
    for t in range(spikes.shape[0]):
        x = spikes[t]
        for name in order[1:]:
            node = graph.nodes[name]
            if isinstance(node, (nir.Linear, nir.Affine)):
                x = x @ node.weight.T + (node.bias if isinstance(node, nir.Affine) else 0.0)
            elif isinstance(node, (nir.LIF, nir.IF, nir.I)):
                v = np.zeros_like(x) if state[name] is None else state[name]
                if isinstance(node, nir.LIF):
                    v = v + dt / node.tau * ((node.v_leak - v) + node.r * x)
                else:
                    v = v + dt * node.r * x
                if isinstance(node, nir.I):
                    state[name] = v
                    x = v
                else:
                    z = (v > node.v_threshold).astype(x.dtype)
                    state[name] = np.where(z > 0, node.v_reset, v)
                    x = z
    return x / spikes.shape[0]


@pytest.mark.parametrize("beta, bias", [(0.9, False), (1.0, True), (0.75, True)])
def test_nir_graph_has_the_network_time_semantics(tmp_path: Path, beta: float, bias: bool) -> None:
    import nir

    net = _net(beta=beta, bias=bias).double()
    dt = 1e-3
    graph = to_nir(net, dt=dt)
    kinds = [type(graph.nodes[k]).__name__ for k in ("input", "fc0", "lif0", "fc1", "lif1", "head", "readout", "output")]
    assert kinds == ["Input", "Affine" if bias else "Linear", "LIF" if beta < 1 else "IF", "Affine" if bias else "Linear", "LIF" if beta < 1 else "IF", "Affine" if bias else "Linear", "I", "Output"]
    if beta < 1:
        assert np.allclose(graph.nodes["lif0"].tau, dt / (1 - beta)) and np.allclose(graph.nodes["lif0"].r, 1 / (1 - beta))
    spikes = _spikes(net).double()
    reference = net.simulate(spikes).logits.detach().numpy()
    logits = _run_nir_graph(graph, spikes.numpy(), dt)
    assert np.allclose(logits, reference, atol=1e-4), float(np.abs(logits - reference).max())
    assert spikes.sum() > 0 and np.abs(reference).max() > 0
    nir.write(tmp_path / "g.nir", graph)
    back = from_nir(nir.read(tmp_path / "g.nir"))
    assert back.config.beta == beta and back.config.timesteps == 8
    assert torch.equal(back.simulate(spikes.float()).logits, net.float().simulate(spikes.float()).logits)
