"""Classifier checkpoints and NIR export: round trips and the time semantics of the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurohop.errors import InputError, ModelFileError
from neurohop.hlop.as_network import from_network, to_network
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


@pytest.mark.parametrize("beta, bias", [(0.9, False), (1.0, True), (0.75, True)])
def test_the_classifier_is_a_network_and_the_checkpoint_a_saved_network(tmp_path: Path, beta: float, bias: bool) -> None:
    from neurohop.model.io import load_network

    net = _net(beta=beta, bias=bias)
    network = to_network(net)
    assert [p.name for p in network.populations][:4] == ["input", "lif0", "lif1", "readout"]
    assert network.metadata["latency_steps"] == {"input": 0, "lif0": 1, "lif1": 2, "readout": 3}
    assert network.metadata["classifier"]["readout"] == "readout" and network.metadata["classifier"]["timesteps"] == 8
    assert network.population("lif0").model.tau_mem == {0.9: 10.0, 0.75: 4.0, 1.0: float("inf")}[beta]  # dt / (1 - beta), 12 digits
    assert any(p.name == "fc0_bias" for p in network.populations) == bias
    spikes = _spikes(net)
    assert torch.equal(from_network(network).simulate(spikes).logits, net.simulate(spikes).logits)
    saved = load_network(save_classifier(tmp_path / "clf.npz", net))  # the checkpoint is also a saved network
    assert [p.model for p in saved.populations] == [p.model for p in network.populations]
    assert all(np.array_equal(a.weight, b.weight) and a.name == b.name for a, b in zip(saved.projections, network.projections))
    assert dict(saved.metadata["classifier"]) == network.metadata["classifier"]
    load_classifier(tmp_path / "clf.npz")  # and still a checkpoint


def test_to_network_refuses_what_a_population_cannot_hold(tmp_path: Path) -> None:
    net = _net(heads=(3, 3))
    with pytest.raises(InputError, match="head: expected 0 .. 1"):
        to_network(net, head=2)
    with pytest.raises(InputError, match="dt: expected a positive step in ms"):
        to_network(net, dt=0)
    with torch.no_grad():
        net.thresholds()[1][0] = 0.5
    with pytest.raises(InputError, match="layer lif1: thresholds differ between neurons"):
        to_network(net)
    path = save_classifier(tmp_path / "clf.npz", net)  # still saved, without the network
    assert "thresholds differ" in load_classifier(path).meta["network"]["not_embedded"]
    from neurohop.export.sources import load_source

    with pytest.raises(ModelFileError, match="network_json: missing"):
        load_source(path)


@pytest.mark.parametrize("beta", [0.9, 1.0, 0.75])
def test_nir_export_goes_through_the_common_network_path(tmp_path: Path, beta: float) -> None:
    import nir

    from neurohop.export.nir_io import from_nir as network_from_nir

    net = _net(beta=beta)
    graph = to_nir(net, dt=1.0)  # ms, as everywhere
    assert graph.metadata["dt"] == 1e-3  # NIR states seconds
    nir.write(tmp_path / "g.nir", graph)
    read = nir.read(tmp_path / "g.nir")
    back = network_from_nir(read)
    direct = to_network(net)
    assert [p.model for p in back.populations] == [p.model for p in direct.populations]
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(back.projections, direct.projections))
    spikes = _spikes(net)
    assert torch.equal(from_nir(read).simulate(spikes).logits, net.simulate(spikes).logits)
    with pytest.raises(InputError, match="for_peers=True"):
        to_nir(_net(bias=True))
    with pytest.raises(InputError, match="neurohop_classifier"):
        from_nir(nir.NIRGraph(nodes={}, edges=[], metadata={}))


def test_export_imports_nothing_of_hlop() -> None:
    """The exporter reads classifiers as saved networks: no module of neurohop.export imports neurohop.hlop."""
    import ast

    root = Path(__file__).resolve().parents[2] / "neurohop" / "export"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n == "neurohop.hlop" or n.startswith("neurohop.hlop.")]
    assert offenders == []
