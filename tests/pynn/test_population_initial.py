"""Per-neuron initial values in the description (``Population.initial``): validated, the same
spikes on every float backend, saved and loaded, loaded by the integer targets."""

from __future__ import annotations

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError, ModelError
from neurohop.model import LIF, AllToAll, Network, Population, Projection, SpikeSource
from neurohop.model.io import load_network, save_network


def _net(seed=5):
    rng = np.random.default_rng(seed)
    v0 = rng.uniform(-70.0, -55.5, size=12)
    return Network((
        Population("src", 3, SpikeSource()),
        Population("a", 12, LIF(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0), record=("spikes", "v"), initial={"v": v0}),
        Population("b", 4, LIF(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, v_init=-60.0), record=("spikes", "v")),
    ), (
        Projection("in", "src", "a", AllToAll(), weight=0.25, delay=1),
        Projection("ab", "a", "b", AllToAll(), weight=0.125, delay=2),
    )), v0


def _run(net, backend, **options):
    sim = neurohop.build(net, backend=backend, dt=1.0, **options)
    spikes = np.zeros((40, 3), dtype=bool)
    spikes[[3, 9, 10, 20], :] = True
    return sim.run(40, {"src": spikes})


def test_initial_v_is_used_and_equal_across_backends():
    net, v0 = _net()
    a = _run(net, "torch")
    b = _run(net, "brian2", target="numpy")
    for pop in ("a", "b"):
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop])
        np.testing.assert_array_equal(a.states[pop]["v"], b.states[pop]["v"])
    assert a.spikes["a"].sum() > 0
    # after one step without input, v relaxes from v0 towards v_rest by exp(-dt/tau_m)
    np.testing.assert_allclose(a.states["a"]["v"][0], -65.0 - np.exp(-0.1) * (-65.0 - v0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.states["b"]["v"][0], -65.0 - np.exp(-0.1) * (-65.0 + 60.0), rtol=0, atol=1e-12)


def test_initial_round_trips_through_save_and_load(tmp_path):
    net, v0 = _net()
    path = save_network(net, tmp_path / "net.npz")
    back = load_network(path)
    np.testing.assert_array_equal(back.population("a").initial["v"], v0)
    assert not back.population("b").initial
    np.testing.assert_array_equal(_run(back, "torch").spikes["a"], _run(net, "torch").spikes["a"])


@pytest.mark.parametrize("initial,match", [
    ({"w": np.zeros(4)}, "expected one of"),
    ({"v": np.zeros(3)}, "expected 4 finite values"),
    ({"v": [0, 0, np.nan, 0]}, "expected 4 finite values"),
])
def test_initial_is_validated(initial, match):
    with pytest.raises(ModelError, match=match):
        Population("p", 4, LIF(), initial=initial)


def test_initial_is_read_only():
    pop = Population("p", 2, LIF(), initial={"v": [-60.0, -61.0]})
    with pytest.raises((TypeError, ValueError)):
        pop.initial["v"][0] = 0.0
    with pytest.raises(TypeError):
        pop.initial["v"] = np.zeros(2)  # type: ignore[index]


def test_integer_targets_load_per_neuron_initial_values():
    net, v0 = _net()
    sim = neurohop.build(net, backend="fixed:spinnaker1", dt=1.0)
    np.testing.assert_array_equal(sim.program.population("a").params["v_init"], np.rint(v0 * 2**15))


def _hetero(seed=9):
    rng = np.random.default_rng(seed)
    n = 16
    params = {"tau_m": rng.uniform(5.0, 20.0, n), "i_offset": rng.uniform(0.0, 0.5, n).round(3), "v_rest": rng.uniform(-66.0, -62.0, n)}
    return Network((
        Population("src", 3, SpikeSource()),
        Population("a", n, LIF(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0), record=("spikes", "v"),
                   initial={"v": rng.uniform(-70.0, -56.0, n)}, parameters=params),
    ), (Projection("in", "src", "a", AllToAll(), weight=0.25, delay=1),)), params


def test_per_neuron_parameters_equal_across_backends_and_match_split_populations():
    net, params = _hetero()
    a = _run(net, "torch")
    b = _run(net, "brian2", target="numpy")
    np.testing.assert_array_equal(a.spikes["a"], b.spikes["a"])
    np.testing.assert_array_equal(a.states["a"]["v"], b.states["a"]["v"])
    assert a.spikes["a"].sum() > 0
    # the same neurons as 16 populations of one neuron each
    base = net.population("a")
    singles = [Population(f"n{i}", 1, LIF(**{**{f: getattr(base.model, f) for f in ("cm", "v_reset", "v_thresh", "tau_refrac", "tau_syn_e", "tau_syn_i")},
                                            **{k: float(v[i]) for k, v in params.items()}}, v_init=float(base.initial["v"][i])), record=("spikes",))
               for i in range(base.size)]
    split = Network((net.population("src"), *singles), tuple(Projection(f"in{i}", "src", f"n{i}", AllToAll(), weight=0.25, delay=1) for i in range(base.size)))
    c = _run(split, "torch")
    np.testing.assert_array_equal(np.concatenate([c.spikes[f"n{i}"] for i in range(base.size)], axis=1), a.spikes["a"])


def test_per_neuron_parameters_round_trip_and_validation(tmp_path):
    net, params = _hetero()
    back = load_network(save_network(net, tmp_path / "p.npz"))
    for k, v in params.items():
        np.testing.assert_array_equal(back.population("a").parameters[k], v)
    np.testing.assert_array_equal(_run(back, "torch").spikes["a"], _run(net, "torch").spikes["a"])
    with pytest.raises(ModelError, match=r"parameters.*'colour'"):
        Population("p", 2, LIF(), parameters={"colour": [1, 2]})
    with pytest.raises(ModelError, match=r"parameters.*tau_m"):
        Population("p", 2, LIF(), parameters={"tau_m": [10.0, -1.0]})
    with pytest.raises(ModelError, match="expected 2 values"):
        Population("p", 2, LIF(), parameters={"tau_m": [10.0]})
    # a target holding the membrane decay once per population refuses neurons that differ in it
    with pytest.raises(BuildError, match=r"population 'a'.parameters \['tau_m'\]"):
        neurohop.build(Network((Population("a", 2, LIF(), parameters={"tau_m": [10.0, 12.0]}),)), backend="fixed:loihi", dt=1.0)
