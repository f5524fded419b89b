"""NIR with the peers: neurohop's NIR runs in Norse 1.1 and snnTorch 1.0 as written, spike for
spike, and their own exports run in neurohop.

Where the two sides define the dynamics the same way. Both peers step a ``CubaLIF`` with
forward Euler, evaluate a feed-forward connection in the same step and reset to 0 after a
strict ``v > v_threshold``; neurohop runs the same Euler step but every connection takes one
step. So the networks compared are layered (every connection goes from one layer to the next
with delay 1; excitatory and inhibitory projections between the same populations are folded
into one signed matrix), with zero bias and ``v_reset = 0``, and layer ``l``'s neurohop
spikes are the peer's shifted by ``l`` steps. The arithmetic must also agree bit for bit,
which it does when every constant is exact in float32: Norse multiplies ``dt`` by
``1/tau`` (float32), so its runs use ``dt = 2**-10`` s and time constants of 1, 2, 4 or 8
steps; snnTorch's importer fixes ``dt = 1e-4`` s, so its runs use that dt; weights lie on a
1/64 grid. Self-loops are left out: neither peer's importer runs a recurrent ``CubaLIF``
loaded from NIR as written (Norse 1.1 mixes up the node outputs, snnTorch's ``RSynaptic``
stays silent).
"""

from __future__ import annotations

import re
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import neurohop
from neurohop.errors import InputError, ModelFileError
from neurohop.export.nir_io import NIRConversionError, from_nir, read_nir, to_nir, write_nir
from neurohop.model import AllToAll, CubaLIF, Network, Population, Projection, SpikeSource

# Norse's and nirtorch's loaders script modules with torch.jit, which torch 2.13 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

NORSE_DT_MS = 1000.0 * 2.0**-10  # dt * (1/tau) is exact in float32 for tau = 2**k dt
SNNTORCH_DT_MS = 0.1  # snnTorch's importer reads every node at dt = 1e-4 s


def _grid(rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    return np.round(rng.uniform(lo, hi, shape) * 64) / 64


def layered_network(rng: np.random.Generator, dt: float, readout: bool = False) -> Network:
    """A source and 2 to 3 CubaLIF layers, each fed by the previous one (delay 1, exc. and inh.)."""
    sizes = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(3, 5)))]
    pops = [Population("src", sizes[0], SpikeSource())]
    projs = []
    for k, n in enumerate(sizes[1:], start=1):
        last = readout and k == len(sizes) - 1
        model = CubaLIF(tau_syn=dt * float(rng.choice([1, 2, 4])), tau_mem=dt * float(rng.choice([2, 4, 8])), v_th=np.inf if last else 0.5 + _grid(rng, (), 0, 1).item() + 1 / 256)
        pops.append(Population(f"l{k}", n, model))
        pre = pops[k - 1].name
        projs.append(Projection(f"e{k}", pre, f"l{k}", AllToAll(), _grid(rng, (sizes[k - 1], n), 0, 1.5), 1, "excitatory"))
        if rng.random() < 0.7:
            projs.append(Projection(f"i{k}", pre, f"l{k}", AllToAll(), _grid(rng, (sizes[k - 1], n), 0, 0.75), 1, "inhibitory"))
    return Network(tuple(pops), tuple(projs), name="layered")


def _run_norse(graph: nir.NIRGraph, x: torch.Tensor, dt_ms: float) -> np.ndarray:
    import norse.torch as norse

    model = norse.from_nir(graph, dt=dt_ms / 1000.0)
    state, out = None, []
    for t in range(x.shape[0]):
        z, state = model(x[t], state)
        out.append(z[0].detach().numpy() > 0)
    return np.array(out)


def _run_snntorch(graph: nir.NIRGraph, x: torch.Tensor) -> np.ndarray:
    from snntorch.import_nir import import_from_nir

    model = import_from_nir(graph)
    return np.array([model(x[t])[0][0].detach().numpy() > 0 for t in range(x.shape[0])])


@pytest.mark.parametrize("peer", ["norse", "snntorch"])
@pytest.mark.parametrize("seed", range(3))
def test_neurohop_nir_runs_in_the_peers_spike_for_spike(peer: str, seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    if peer == "snntorch":
        pytest.importorskip("snntorch")
    rng = np.random.default_rng(100 + seed)
    dt = NORSE_DT_MS if peer == "norse" else SNNTORCH_DT_MS
    net = layered_network(rng, dt)
    T = 80
    x = torch.as_tensor(rng.random((T, 1, net.population("src").size)) < 0.4, dtype=torch.float32)
    ours = neurohop.build(net, backend="torch", dt=dt).run(T, {"src": x[:, 0].numpy()})
    graph = to_nir(net, dt)
    assert not any(isinstance(n, nir.Delay) for n in graph.nodes.values())
    assert sum(isinstance(n, nir.Linear) for n in graph.nodes.values()) == len(net.populations) - 1  # one signed matrix per layer
    assert float(graph.metadata["dt"]) == pytest.approx(dt / 1000.0, rel=1e-15)
    compared = 0
    for depth, pop in enumerate(p.name for p in net.populations[1:]):
        lag = depth + 1  # neurohop runs layer l l steps after the peer
        g = to_nir(net, dt, outputs=[pop])  # the peers return the spikes of one Output node
        theirs = _run_norse(g, x, dt) if peer == "norse" else _run_snntorch(g, x)
        np.testing.assert_array_equal(ours.spikes[pop][lag:], theirs[: T - lag], err_msg=f"{peer}: population {pop}")
        compared += int(theirs[: T - lag].sum())
    capsys.readouterr()  # snnTorch prints its progress
    assert compared > 20  # the comparison saw spikes


def test_readout_loads_in_both_peers() -> None:
    """A non-spiking readout is written as a CubaLIF with an infinite threshold, which both load."""
    pytest.importorskip("snntorch")
    rng = np.random.default_rng(7)
    for peer, dt in (("norse", NORSE_DT_MS), ("snntorch", SNNTORCH_DT_MS)):
        net = layered_network(rng, dt, readout=True)
        graph = to_nir(net, dt)
        readout = graph.nodes[net.populations[-1].name]
        assert isinstance(readout, nir.CubaLIF) and np.all(np.isinf(readout.v_threshold))
        x = torch.ones(5, 1, net.population("src").size)
        out = _run_norse(graph, x, dt) if peer == "norse" else _run_snntorch(graph, x)
        assert out.shape == (5, net.populations[-1].size) and not out.any()
        back = from_nir(graph)
        assert back.populations[-1].model == net.populations[-1].model


def test_longer_delays_keep_a_delay_node_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    net = layered_network(rng, 1.0)
    projs = [p if p.name != "e2" else Projection(p.name, p.pre.population, p.post.population, AllToAll(), p.weight, 3, p.receptor) for p in net.projections]
    net = Network(net.populations, tuple(projs), name="delayed")
    graph = to_nir(net, 1.0)
    delays = [n for n in graph.nodes.values() if isinstance(n, nir.Delay)]
    assert len(delays) == 1 and np.allclose(delays[0].delay, 2e-3)  # the connection takes the first step
    write_nir(net, tmp_path / "d.nir", dt=1.0)
    back = read_nir(tmp_path / "d.nir")
    x = rng.random((60, net.population("src").size)) < 0.4
    a = neurohop.build(net, backend="torch").run(60, {"src": x})
    b = neurohop.build(back, backend="torch").run(60, {"src": x})
    assert all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes) and a.count() > 0


# ------------------------------------------------------------------ the peers' own exports


def test_norse_iaf_and_box_lif_export_runs_in_neurohop() -> None:
    """Norse's IAFCell (v += x, written r = 1) and LIFBoxCell under convention='norse-1.1'."""
    norse = pytest.importorskip("norse.torch")
    from norse.torch.utils.export_nir import to_nir as norse_to_nir

    dts = 2.0**-10
    torch.manual_seed(3)
    iaf = norse.IAFCell(norse.IAFParameters(v_th=torch.tensor(1.0 + 1 / 256, dtype=torch.float64)))
    box = norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(1 / (4 * dts), dtype=torch.float64), v_th=torch.tensor(0.3 + 1 / 256, dtype=torch.float64)), dt=dts)
    model = norse.SequentialState(torch.nn.Linear(6, 5, bias=False), iaf, torch.nn.Linear(5, 4, bias=False), box).double()
    with torch.no_grad():
        for lin in (model[0], model[2]):
            lin.weight.copy_(torch.round(torch.rand_like(lin.weight) * 64) / 64 - 0.25)
    graph = norse_to_nir(model, torch.zeros(1, 6, dtype=torch.float64), dt=dts)
    net = from_nir(graph, dt=dts * 1000.0, convention="norse-1.1")
    T = 120
    x = (torch.rand(T, 1, 6, dtype=torch.float64) < 0.4).double()
    state: list = [None] * 4
    ref: list[list[np.ndarray]] = [[], []]
    for t in range(T):
        h = x[t]
        for k, layer in enumerate(model):
            if isinstance(layer, torch.nn.Linear):
                h = layer(h)
            else:
                h, state[k] = layer(h, state[k])
                ref[k // 2].append(h[0].detach().numpy() > 0)
    res = neurohop.build(net, backend="torch", dt=dts * 1000.0).run(T, {"input": x[:, 0].numpy() > 0})
    lat = net.metadata["latency_steps"]
    cells = [n for n in net.metadata["nir_nodes"] if n != "input"]
    assert len(cells) == 2
    for name, r in zip(cells, ref):
        r = np.array(r)
        assert r.sum() > 5, name
        np.testing.assert_array_equal(res.spikes[name][lat[name] :], r[: T - lat[name]], err_msg=name)


def test_snntorch_export_runs_in_neurohop(capsys: pytest.CaptureFixture[str]) -> None:
    """snnTorch's Leaky and Synaptic (reset to zero, no reset delay) as it exports them, at its dt = 1e-4 s."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(5)
    l1, l2 = torch.nn.Linear(6, 5, bias=False), torch.nn.Linear(5, 4, bias=False)
    with torch.no_grad():
        for lin in (l1, l2):
            lin.weight.copy_(torch.round(torch.rand_like(lin.weight) * 64) / 64 - 0.2)
    # per-neuron decays: with scalars snnTorch writes 0-d parameters that nir's own type check refuses
    leaky = snn.Leaky(beta=torch.full((5,), 0.875), threshold=torch.full((5,), 0.5 + 1 / 256), init_hidden=True, reset_mechanism="zero", reset_delay=False)
    syn = snn.Synaptic(alpha=torch.full((4,), 0.5), beta=torch.full((4,), 0.75), threshold=torch.full((4,), 0.5 + 1 / 256), init_hidden=True, reset_mechanism="zero", reset_delay=False)
    model = torch.nn.Sequential(l1, leaky, l2, syn)
    graph = export_to_nir(model, torch.zeros(1, 6), ignore_dims=[0])
    net = from_nir(graph, dt=SNNTORCH_DT_MS)
    T = 120
    x = (torch.rand(T, 1, 6) < 0.4).float()
    ref: list[list[np.ndarray]] = [[], []]
    for t in range(T):
        h = x[t]
        for k, layer in enumerate(model):
            h = layer(h)
            if k % 2:
                ref[k // 2].append(h[0].detach().numpy() > 0)
    capsys.readouterr()
    res = neurohop.build(net, backend="torch", dt=SNNTORCH_DT_MS).run(T, {net.metadata["inputs"][0]: x[:, 0].numpy() > 0})
    lat = net.metadata["latency_steps"]
    cells = [n for n in net.metadata["nir_nodes"] if n not in net.metadata["inputs"]]
    assert len(cells) == 2
    for name, r in zip(cells, ref):
        r = np.array(r)
        assert r.sum() > 5, name
        np.testing.assert_array_equal(res.spikes[name][lat[name] :], r[: T - lat[name]], err_msg=name)


# ------------------------------------------------------------------ reading conventions


def test_float32_tau_equal_to_dt_is_accepted() -> None:
    full = lambda v: np.full(3, v, dtype=np.float32)  # noqa: E731
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])), "w": nir.Linear(weight=np.eye(3)),
               "a": nir.CubaLIF(tau_syn=full(1e-4), tau_mem=full(4e-4), r=full(4.0), v_leak=full(0.0), v_threshold=full(0.5), v_reset=full(0.0), w_in=full(1.0))},
        edges=[("input", "w"), ("w", "a")], type_check=False,
    )
    assert float(np.float32(1e-4)) < 1e-4  # the float32 tau is a hair shorter than dt
    net = from_nir(graph, dt=0.1)
    assert net.population("a").model.tau_syn == 0.1 and net.population("a").model.tau_mem == 0.4


def test_norse_style_tau_points_to_the_convention() -> None:
    full = lambda v: np.full(2, v)  # noqa: E731
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "a": nir.LIF(tau=full(1e-5), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0))}, edges=[("input", "a")], type_check=False)
    with pytest.raises(NIRConversionError, match="shorter than dt.*convention='norse-1.1'"):
        from_nir(graph, dt=1.0)
    assert from_nir(graph, dt=1.0, convention="norse-1.1").population("a").model.tau_mem == 10.0


def test_cli_names_the_flag_for_the_convention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.cli import main

    full = lambda v: np.full(2, v)  # noqa: E731
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "a": nir.LIF(tau=full(1e-5), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0))}, edges=[("input", "a")], type_check=False)
    nir.write(str(tmp_path / "norse.nir"), graph)
    assert main(["export", str(tmp_path / "norse.nir"), "--target", "loihi", "--out", str(tmp_path / "b"), "--dt", "1"]) == 2
    err = capsys.readouterr().err
    assert "--nir-convention norse-1.1" in err and "convention='norse-1.1'" not in err
    assert main(["export", str(tmp_path / "norse.nir"), "--target", "loihi", "--out", str(tmp_path / "b"), "--dt", "1", "--nir-convention", "norse-1.1"]) == 0


# ------------------------------------------------------------------ bad files


def _good_graph() -> nir.NIRGraph:
    full = lambda v: np.full(2, v)  # noqa: E731
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])), "w": nir.Linear(weight=np.eye(2)), "a": nir.LIF(tau=full(4e-3), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0))},
        edges=[("input", "w"), ("w", "a")], type_check=False,
    )


def test_bad_files_give_one_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "good.nir"
    nir.write(str(good), _good_graph())
    assert read_nir(good, dt=1.0).population("a").size == 2

    cases: dict[str, tuple[bytes | nir.NIRGraph, str]] = {
        "truncated.nir": (good.read_bytes()[: good.stat().st_size // 2], "cannot read a NIR graph"),
        "junk.nir": (b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4, "cannot read a NIR graph"),
    }
    g = _good_graph()
    g.nodes["a"].tau = np.array([4e-3, np.nan])
    cases["nan.nir"] = (g, r"node 'a' \(LIF\): tau: expected finite values \(got nan at 1\)")
    g = _good_graph()
    g.nodes["w"].weight = np.array([[1.0, np.inf], [0.0, 1.0]])
    cases["inf.nir"] = (g, r"node 'w' \(Linear\): weight: expected finite values")
    g = _good_graph()
    g.nodes["t"] = nir.Threshold(threshold=np.ones(2))
    g.edges.append(("a", "t"))
    cases["threshold.nir"] = (g, "node 't': type Threshold is not supported")
    g = _good_graph()
    g.edges.append(("a", "nowhere"))
    cases["edge.nir"] = (g, r"edge \('a', 'nowhere'\) ends at an unknown node")
    g = _good_graph()
    del g.nodes["a"]
    g.edges = [("input", "w")]
    cases["no_neurons.nir"] = (g, "the graph has no neuron node")
    for fname, (content, message) in cases.items():
        path = tmp_path / fname
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nir.write(str(path), content)
        with pytest.raises(ModelFileError) as info:
            read_nir(path, dt=1.0)
        text = str(info.value)
        assert text.startswith(str(path)) and "\n" not in text, text
        assert re.search(message, text), (fname, text)
    with pytest.raises(ModelFileError, match="NIR file not found"):
        read_nir(tmp_path / "missing.nir")


# ------------------------------------------------------------------ the HLOP classifier


@pytest.mark.parametrize("peer", ["norse", "snntorch"])
def test_hlop_classifier_for_peers_matches_its_own_simulation(peer: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``hlop.checkpoint.to_nir(..., for_peers=True)``: r and thresholds folded into the weights.

    beta = 0.875 and the peer's dt make every decay exact in float32; the folded weights
    ``w / ((1 - beta) v_th)`` are float32-rounded, which moved no spike here.
    """
    if peer == "snntorch":
        pytest.importorskip("snntorch")
    from neurohop.hlop.checkpoint import to_nir as classifier_to_nir
    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    cfg = NetworkConfig(hidden=(40, 30), timesteps=20, beta=0.875, bias=True, init_gain=3.0)
    net = SpikingMLP(50, (10,), cfg, torch.Generator().manual_seed(1), shared_head=True)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():  # per-neuron thresholds, as after training
        for th in net.thresholds():
            th.copy_(torch.round((0.5 + torch.rand(th.shape, generator=gen)) * 64) / 64)
    x = (torch.rand(20, 8, 50, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    sim = net.simulate(x)
    dt_ms = NORSE_DT_MS if peer == "norse" else SNNTORCH_DT_MS
    dts = dt_ms / 1000.0
    graph = classifier_to_nir(net, dt=dt_ms, for_peers=True)
    assert not any(isinstance(n, nir.I) for n in graph.nodes.values())
    if peer == "norse":
        import norse.torch as norse

        model = norse.from_nir(graph, dt=dts)
    else:
        from snntorch.import_nir import import_from_nir

        model = import_from_nir(graph)
    modules = dict(model.named_modules())
    spikes: dict[str, list[torch.Tensor]] = {"lif0": [], "lif1": []}
    for name, out in spikes.items():
        modules[name].register_forward_hook(lambda mod, inp, res, out=out: out.append((res[0] if isinstance(res, tuple) else res).detach() > 0))
    state = None
    potential = torch.zeros_like(sim.logits)
    for t in range(x.shape[0]):
        if peer == "norse":
            _, state = model(x[t], state)
        else:
            model(x[t])
            potential += modules["readout"].mem.detach()
    capsys.readouterr()
    for i, name in enumerate(spikes):
        ours = sim[0][i] > 0
        assert ours.sum() > 100
        assert torch.equal(torch.stack(spikes[name]), ours), name
    if peer == "snntorch":  # the readout's potential is the head's output of each step; its mean the logits
        torch.testing.assert_close(potential / x.shape[0], sim.logits, rtol=1e-5, atol=1e-5)  # float32 sums in another order
    from neurohop.hlop.checkpoint import from_nir as classifier_from_nir

    with pytest.raises(InputError, match="for_peers=True"):
        classifier_from_nir(graph)
