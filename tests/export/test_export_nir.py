"""NIR: exact round trips, the stated discrete reading, Norse graphs, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import neurohop
from neurohop.resources import recording_path
from neurohop.backends.base import spike_array
from neurohop.export.backend import quantise
from neurohop.export.bundle import write_bundle
from neurohop.export.nir_io import NIRConversionError, from_nir, read_nir, to_nir, write_nir
from neurohop.errors import BuildError
from neurohop.model import AllToAll, CubaLIF, Network, OneToOne, Population, Projection, SpikeSource, load_model

from export_helpers import random_cuba_network



def _same_spikes(a: neurohop.backends.RunResult, b: neurohop.backends.RunResult) -> bool:
    return set(a.spikes) == set(b.spikes) and all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes)


def test_ca3_round_trip_through_a_file_is_exact(tmp_path: Path) -> None:
    rec = json.loads((recording_path()).read_text())
    C, K, T = rec["cue_size"], rec["content_size"], rec["sim_time_ms"]
    net = load_model("ca3_cam", C=C, K=K)
    write_nir(net, tmp_path / "cam.nir", dt=1.0)
    back = read_nir(tmp_path / "cam.nir")
    assert [p.name for p in back.populations] == [p.name for p in net.populations]
    assert back.projection("learn_cue_to_cont").plasticity == net.projection("learn_cue_to_cont").plasticity
    inp = {"input": spike_array(rec["input"]["cue"] + rec["input"]["content"], T, C + K)}
    a = neurohop.build(net, backend="torch").run(T, inp)
    b = neurohop.build(back, backend="torch").run(T, inp)
    assert a.count() > 262 and _same_spikes(a, b)
    graph = nir.read(str(tmp_path / "cam.nir"))
    assert isinstance(graph.nodes["cue_cue_recall"], nir.CubaLIF) and graph.nodes["cue_cue_recall"].tau_syn.shape == (C,)  # per-neuron arrays


@pytest.mark.parametrize("seed", range(4))
def test_standard_reading_of_cuba_networks_is_exact(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    net = random_cuba_network(rng, exact=True, record=("spikes",))
    graph = to_nir(net, 1.0)
    for node in graph.nodes.values():  # forget the nodes' neurohop descriptions: read the matrices and parameters
        node.metadata = {}
    assert not any(isinstance(n, nir.Delay) and np.allclose(n.delay, 0) for n in graph.nodes.values())  # no zero delays written
    nir.write(str(tmp_path / "g.nir"), graph)
    back = from_nir(str(tmp_path / "g.nir"), dt=1.0)  # the graph still states that each connection takes one step
    assert all(v == 0 for v in back.metadata["latency_steps"].values())
    inp = {"src": rng.random((60, net.population("src").size)) < 0.3}
    a = neurohop.build(net, backend="torch").run(60, inp)
    b = neurohop.build(back, backend="torch").run(60, inp)
    assert a.count() > 0 and _same_spikes(a, b)


def _norse_reference(model: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    state = [None] * len(model)
    out: list[list[np.ndarray]] = [[] for _ in model]
    for t in range(x.shape[0]):
        h = x[t]
        for k, layer in enumerate(model):
            if isinstance(layer, torch.nn.Linear):
                h = layer(h)
            else:
                h, state[k] = layer(h, state[k])
                out[k].append(h[0].detach().numpy() > 0)
    return [np.array(o) for o in out if o]


def test_norse_graph_matches_norse() -> None:
    norse = pytest.importorskip("norse.torch")
    from norse.torch.utils.export_nir import to_nir as norse_to_nir

    torch.manual_seed(0)
    p = norse.LIFParameters(tau_syn_inv=torch.tensor(200.0, dtype=torch.float64), tau_mem_inv=torch.tensor(100.0, dtype=torch.float64), v_th=torch.tensor(0.2, dtype=torch.float64))
    model = norse.SequentialState(torch.nn.Linear(6, 5), norse.LIFCell(p), torch.nn.Linear(5, 4), norse.LIFCell(p)).double()
    graph = norse_to_nir(model, torch.zeros(1, 6, dtype=torch.float64))  # writes 0-d parameters, tau * dt, no w_in
    net = from_nir(graph, dt=1.0, convention="norse-1.1")
    T = 80
    x = (torch.rand(T, 1, 6) < 0.3).double()
    ref = _norse_reference(model, x)
    res = neurohop.build(net, backend="torch").run(T, {"input": x[:, 0].numpy() > 0})
    lat = net.metadata["latency_steps"]
    layers = [n for n in ("n_1", "n_3")]
    assert [lat[n] for n in layers] == [1, 2]
    for name, r in zip(layers, ref):
        got = res.spikes[name][lat[name] :]
        assert r.sum() > 5
        np.testing.assert_array_equal(got, r[: T - lat[name]], err_msg=name)


def test_recurrent_graph_matches_norse_recurrent_step() -> None:
    from norse.torch.functional.lif import LIFParameters, LIFState, lif_step

    rng = np.random.default_rng(2)
    n_in, n = 4, 6
    w_in = rng.uniform(-0.5, 1.5, (n, n_in))
    w_rec = rng.uniform(-1.0, 0.5, (n, n))
    dt = 1e-3
    full = lambda v: np.full(n, v)  # noqa: E731
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "w_in": nir.Linear(weight=w_in),
            "lif": nir.CubaLIF(tau_syn=full(0.005), tau_mem=full(0.01), r=full(1.0), v_leak=full(0.0), v_threshold=full(0.3), v_reset=full(0.0), w_in=full(5.0)),
            "w_rec": nir.Linear(weight=w_rec),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    net = from_nir(graph, dt=1.0)
    T = 100
    x = rng.random((T, n_in)) < 0.3
    res = neurohop.build(net, backend="torch").run(T, {"input": x})
    p = LIFParameters(tau_syn_inv=torch.tensor(200.0, dtype=torch.float64), tau_mem_inv=torch.tensor(100.0, dtype=torch.float64), v_th=torch.tensor(0.3, dtype=torch.float64))
    zeros = torch.zeros(1, n, dtype=torch.float64)
    state = LIFState(zeros, zeros, zeros)
    ref = []
    for t in range(T):
        z, state = lif_step(torch.as_tensor(x[t : t + 1], dtype=torch.float64), state, torch.as_tensor(w_in), torch.as_tensor(w_rec), p, dt)
        ref.append(z[0].numpy() > 0)
    ref = np.array(ref)
    assert ref.sum() > 20
    assert net.metadata["latency_steps"]["lif"] == 1
    np.testing.assert_array_equal(res.spikes["lif"][1:], ref[:-1])


def test_norse_style_graph_exports_to_every_target_it_fits(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    full = lambda k, v: np.full(k, v)  # noqa: E731
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([8])),
            "fc1": nir.Affine(weight=rng.normal(0, 0.5, (12, 8)), bias=rng.normal(0, 0.05, 12)),
            "lif1": nir.CubaLIF(tau_syn=full(12, 0.002), tau_mem=full(12, 0.008), r=full(12, 1.0), v_leak=full(12, 0.0), v_threshold=full(12, 0.1), v_reset=full(12, 0.0), w_in=full(12, 1.0)),
            "fc2": nir.Linear(weight=rng.normal(0, 0.5, (3, 12))),
            "lif2": nir.LIF(tau=full(3, 0.004), r=full(3, 1.0), v_leak=full(3, 0.0), v_threshold=full(3, 0.1), v_reset=full(3, 0.0)),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        type_check=False,
    )
    nir.write(str(tmp_path / "snn.nir"), graph)
    net = read_nir(tmp_path / "snn.nir", dt=1.0)
    assert net.metadata["outputs"] == ["lif2"]
    for target in ("loihi", "xylo"):
        prog = quantise(net, target, 1.0)
        write_bundle(prog, tmp_path / target)
        assert (tmp_path / target / "manifest.json").exists()
    with pytest.raises(BuildError, match="not supported by this target; supported: \\['lif'\\]"):
        quantise(net, "spinnaker1")


def test_refusals_name_the_node_or_edge(tmp_path: Path) -> None:
    full = lambda k, v: np.full(k, v)  # noqa: E731
    lif = lambda: nir.LIF(tau=full(2, 0.004), r=full(2, 1.0), v_leak=full(2, 0.0), v_threshold=full(2, 1.0))  # noqa: E731
    two_cycle = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])), "a": lif(), "b": lif(), "ab": nir.Linear(weight=np.eye(2)), "ba": nir.Linear(weight=np.eye(2)), "ia": nir.Linear(weight=np.eye(2))},
        edges=[("input", "ia"), ("ia", "a"), ("a", "ab"), ("ab", "b"), ("b", "ba"), ("ba", "a")],
        type_check=False,
    )
    with pytest.raises(NIRConversionError, match="cycle .* needs a nir.Delay"):
        from_nir(two_cycle, dt=1.0)
    conv = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "th": nir.Threshold(threshold=np.ones(2))}, edges=[("input", "th")], type_check=False)
    with pytest.raises(NIRConversionError, match="node 'th': type Threshold is not supported"):
        from_nir(conv, dt=1.0)
    bad_shape = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "w": nir.Linear(weight=np.ones((2, 2))), "a": lif()}, edges=[("input", "w"), ("w", "a")], type_check=False)
    with pytest.raises(NIRConversionError, match=r"edge \('input', 'w'\): Linear 'w' expects 2 inputs but receives 3"):
        from_nir(bad_shape, dt=1.0)
    with pytest.raises(NIRConversionError, match="does not record its timestep"):
        from_nir(conv)
    fast = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "a": nir.LIF(tau=full(2, 1e-4), r=full(2, 1.0), v_leak=full(2, 0.0), v_threshold=full(2, 1.0))}, edges=[("input", "a")], type_check=False)
    with pytest.raises(NIRConversionError, match="shorter than dt"):
        from_nir(fast, dt=1.0)
    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(NIRConversionError, match="cannot read a NIR graph"):
        read_nir(tmp_path / "junk.nir")
    sub = Network((Population("s", 1, SpikeSource()), Population("n", 1, CubaLIF(reset="subtract"))), ())
    with pytest.raises(NIRConversionError, match="population 'n': .*hard reset"):
        to_nir(sub)


def test_edited_weights_override_stale_metadata() -> None:
    net = Network((Population("s", 2, SpikeSource()), Population("n", 2, CubaLIF(tau_syn=1.0, tau_mem=2.0, v_th=1.0))), (Projection("w", "s", "n", OneToOne(), 0.5),))
    graph = to_nir(net, 1.0)
    graph.nodes["w"].weight = graph.nodes["w"].weight * 2  # edited in NIR after export
    back = from_nir(graph)
    w = [p for p in back.projections if p.post.population == "n"]
    assert len(w) == 1 and np.allclose(w[0].synapses(back.sizes)[2], 1.0)


def test_plain_reading_of_a_layered_export_gives_back_the_network() -> None:
    """Without neurohop's metadata a graph is read with the peers' timing (same-step feed-forward):
    layer k gets latency k, and in a layered network every connection again has delay 1."""
    rng = np.random.default_rng(5)
    w = lambda n, m: np.round(rng.uniform(0, 1.5, (n, m)) * 64) / 64  # noqa: E731
    pops = (Population("src", 4, SpikeSource()), Population("a", 5, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=0.75)), Population("b", 3, CubaLIF(tau_syn=1.0, tau_mem=8.0, v_th=0.5)))
    projs = (
        Projection("ae", "src", "a", AllToAll(), w(4, 5), 1), Projection("ai", "src", "a", AllToAll(), w(4, 5) / 2, 1, "inhibitory"),
        Projection("be", "a", "b", AllToAll(), w(5, 3), 1), Projection("aa", "a", "a", AllToAll(), w(5, 5) / 4, 1, "inhibitory"),
    )
    net = Network(pops, projs)
    graph = to_nir(net, 1.0)
    assert sorted(k for k, n in graph.nodes.items() if isinstance(n, nir.Linear)) == ["aa", "be", "src__a__d1"]  # exc. and inh. in one signed matrix
    graph.metadata = {"dt": graph.metadata["dt"]}
    for node in graph.nodes.values():
        node.metadata = {}
    back = from_nir(graph)
    assert back.metadata["latency_steps"] == {"src": 0, "a": 1, "b": 2}
    T = 60
    x = rng.random((T, 4)) < 0.4
    a = neurohop.build(net, backend="torch").run(T, {"src": x})
    b = neurohop.build(back, backend="torch").run(T, {"src": x})
    assert a.count() > 20 and all(p.delay == 1 for p in back.projections)
    for pop in ("a", "b"):
        np.testing.assert_array_equal(b.spikes[pop], a.spikes[pop], err_msg=pop)


def _per_neuron_network() -> Network:
    """A source driving an IF_curr_exp population and a CubaLIF population whose neurons
    differ in their parameters and initial values."""
    rng = np.random.default_rng(7)
    src = Population("src", 6, SpikeSource(), record=("spikes",))
    lif = Population("lif", 5, neurohop.model.LIF(), record=("spikes",),
                     initial={"v": rng.uniform(-66.0, -56.0, 5)}, parameters={"tau_m": [10.0, 15.0, 20.0, 25.0, 30.0], "v_thresh": rng.uniform(-52.0, -48.0, 5)})
    cuba = Population("cuba", 4, CubaLIF(tau_syn=2.0, tau_mem=8.0, v_th=1.0), record=("spikes",), parameters={"tau_mem": [4.0, 8.0, 16.0, 32.0], "v_th": [0.6, 0.8, 1.0, 1.2]})
    projs = (
        Projection("src_lif", "src", "lif", AllToAll(), 2.0),
        Projection("src_cuba", "src", "cuba", AllToAll(), 0.5),
    )
    return Network((src, lif, cuba), projs, name="per_neuron")


def test_per_neuron_parameters_and_initial_values_survive_a_round_trip(tmp_path: Path) -> None:
    net = _per_neuron_network()
    graph = to_nir(net, 1.0)
    assert np.unique(graph.nodes["cuba"].tau_mem).size == 4 and np.unique(graph.nodes["lif"].tau_mem).size == 5  # written per neuron
    write_nir(net, tmp_path / "p.nir", dt=1.0)
    back = read_nir(tmp_path / "p.nir")
    for name in ("lif", "cuba"):
        a, b = net.population(name), back.population(name)
        assert set(a.parameters) == set(b.parameters) and all(np.array_equal(a.parameters[k], b.parameters[k]) for k in a.parameters)
        assert set(a.initial) == set(b.initial) and all(np.array_equal(a.initial[k], b.initial[k]) for k in a.initial)
    inp = {"src": np.random.default_rng(1).random((80, 6)) < 0.3}
    a = neurohop.build(net, backend="torch").run(80, inp)
    b = neurohop.build(back, backend="torch").run(80, inp)
    assert a.count() > 20 and _same_spikes(a, b)


def test_foreign_nodes_whose_neurons_differ_read_as_per_neuron_parameters(tmp_path: Path) -> None:
    net = Network(tuple(p for p in _per_neuron_network().populations if p.name != "lif"), (_per_neuron_network().projection("src_cuba"),), name="cuba_only")
    graph = to_nir(net, 1.0)
    for node in graph.nodes.values():  # a foreign graph: nothing but NIR's own fields
        node.metadata = {}
    nir.write(str(tmp_path / "g.nir"), graph)
    back = from_nir(str(tmp_path / "g.nir"), dt=1.0)
    pop = back.population("cuba")
    assert set(pop.parameters) == {"tau_mem", "v_th"}
    np.testing.assert_allclose(pop.parameters["tau_mem"], [4.0, 8.0, 16.0, 32.0], rtol=1e-12)  # read back through float64 seconds
    inp = {"src": np.random.default_rng(2).random((80, 6)) < 0.3}
    a = neurohop.build(net, backend="torch").run(80, inp)
    b = neurohop.build(back, backend="torch").run(80, inp)
    assert a.count() > 10 and _same_spikes(a, b)


def test_mixed_spiking_and_readout_neurons_in_one_node_are_refused(tmp_path: Path) -> None:
    node = nir.CubaLIF(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 8e-3), r=np.full(2, 8.0), v_leak=np.zeros(2), w_in=np.full(2, 2.0),
                       v_threshold=np.array([1.0, np.inf]), v_reset=np.zeros(2))
    graph = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])), "lin": nir.Linear(weight=np.eye(2)), "cell": node,
                                "out": nir.Output(output_type=np.array([2]))},
                         edges=[("in", "lin"), ("lin", "cell"), ("cell", "out")], type_check=False)
    with pytest.raises(NIRConversionError, match="cell.*v_threshold is infinite for some neurons"):
        from_nir(graph, dt=1.0)
