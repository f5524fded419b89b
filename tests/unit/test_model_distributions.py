"""Seeded distributions for per-neuron parameters and initial values: the documented draw,
validation, model files, and the same array (so the same spikes) on every float backend."""

from __future__ import annotations

import numpy as np
import pytest

import neurohop
from neurohop.errors import ModelError, ModelFileError
from neurohop.model import LIF, AllToAll, Network, Population, Projection, SpikeSource, load_network, save_network
from neurohop.model.distributions import Distribution
from neurohop.model.io import read_model


def test_the_draws_are_the_documented_ones() -> None:
    g = np.random.default_rng(4)
    np.testing.assert_array_equal(Distribution("uniform", (-60, -50), 4).sample(6), -60 + 10 * g.random(6))
    np.testing.assert_array_equal(Distribution("normal", (1.0, 2.0), 4).sample(6), 1.0 + 2.0 * np.random.default_rng(4).standard_normal(6))
    np.testing.assert_array_equal(Distribution("exponential", (3.0,), 4).sample(6), 3.0 * np.random.default_rng(4).standard_exponential(6))
    clipped = Distribution("normal_clipped", (0.0, 1.0, -0.5, 0.5), 4).sample(200)
    assert clipped.min() >= -0.5 and clipped.max() <= 0.5
    g = np.random.default_rng(4)
    first = g.standard_normal(200)
    inside = (first >= -0.5) & (first <= 0.5)
    np.testing.assert_array_equal(clipped[inside], first[inside])  # values in range are kept; the others are drawn again


def test_population_takes_a_distribution_and_its_mapping_form() -> None:
    a = Population("a", 50, LIF(), initial={"v": Distribution("uniform", (-60, -50), 3)}, parameters={"tau_m": {"normal_clipped": [20, 2, 15, 25], "seed": 5}})
    b = Population("a", 50, LIF(), initial={"v": {"uniform": [-60, -50], "seed": 3}}, parameters={"tau_m": Distribution("normal_clipped", (20, 2, 15, 25), 5)})
    np.testing.assert_array_equal(a.initial["v"], b.initial["v"])
    np.testing.assert_array_equal(a.parameters["tau_m"], b.parameters["tau_m"])
    assert a.initial["v"].shape == (50,) and len(np.unique(a.initial["v"])) == 50


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"uniform": [-60, -50]}, r"initial\['v'\]: distribution uniform: missing 'seed'"),
        ({"gauss": [0, 1], "seed": 1}, "expected one of uniform, normal, normal_clipped, exponential"),
        ({"uniform": [-50, -60], "seed": 1}, r"expected low <= high \(got \[-50.0, -60.0\]\)"),
        ({"uniform": [-50], "seed": 1}, r"expected 2 arguments \[low, high\]"),
        ({"normal": [0, -1], "seed": 1}, r"distribution normal.std: must be >= 0 \(got -1.0\)"),
        ({"normal": [0, "a"], "seed": 1}, "distribution normal.std: expected a finite number"),
        ({"exponential": [0], "seed": 1}, "scale: must be > 0"),
        ({"uniform": [0, 1], "seed": -2}, r"seed: expected an integer >= 0 \(got -2\)"),
        ({"normal_clipped": [0, 1e-3, 50, 60], "seed": 1}, "too far in the tails"),
    ],
)
def test_bad_distributions_are_refused_naming_the_field(value: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        Population("p", 4, LIF(), initial={"v": value})


def test_a_drawn_parameter_is_validated_per_neuron() -> None:
    with pytest.raises(ModelError, match=r"parameters: a neuron's parameters are invalid: LIF.tau_m: must be > 0"):
        Population("p", 100, LIF(), parameters={"tau_m": {"normal": [1.0, 5.0], "seed": 0}})


def test_model_file_distributions(tmp_path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "format: neurohop-model/1\nparameters: {N: 30, S: 4}\nneuron_types: {cell: {model: lif, v_rest: -60}}\n"
        "populations:\n  - name: cells\n    size: N\n    neuron: cell\n"
        "    initial: {v: {uniform: [-60, -50 + 0], seed: S}}\n"
        "    parameters: {tau_m: {normal_clipped: [20, 2, 15, 25], seed: S + 1}}\n"
    )
    pop = read_model(path).build().population("cells")
    np.testing.assert_array_equal(pop.initial["v"], Distribution("uniform", (-60, -50), 4).sample(30))
    np.testing.assert_array_equal(pop.parameters["tau_m"], Distribution("normal_clipped", (20, 2, 15, 25), 5).sample(30))
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("seed: S}", "}"))
    with pytest.raises(ModelFileError, match=r"bad.yaml: populations\[0\] \(cells\).initial.v: distribution uniform: missing 'seed'"):
        read_model(bad)
    bad.write_text(path.read_text().replace("uniform: [-60, -50 + 0]", "uniform: -60"))
    with pytest.raises(ModelFileError, match=r"initial.v.uniform: expected a list of arguments \[low, high\]"):
        read_model(bad)


def _net() -> Network:
    cell = LIF(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0)
    return Network(
        (
            Population("src", 3, SpikeSource()),
            Population("a", 20, cell, record=("spikes", "v"), initial={"v": {"uniform": [-70.0, -56.0], "seed": 1}},
                       parameters={"tau_m": {"uniform": [5.0, 20.0], "seed": 2}, "i_offset": {"normal_clipped": [0.2, 0.2, 0.0, 0.5], "seed": 3}}),
        ),
        (Projection("in", "src", "a", AllToAll(), weight=0.25, delay=1),),
    )


def _run(net: Network, backend: str, **options):
    sim = neurohop.build(net, backend=backend, dt=1.0, **options)
    spikes = np.zeros((40, 3), dtype=bool)
    spikes[[3, 9, 10, 20], :] = True
    return sim.run(40, {"src": spikes})


def test_every_float_backend_uses_the_drawn_values() -> None:
    net = _net()
    ref = _run(net, "torch")
    v0 = net.population("a").initial["v"]
    tau = net.population("a").parameters["tau_m"]
    i_off = net.population("a").parameters["i_offset"]
    # one step without input from the drawn v0: v relaxes to v_rest + R*i_offset by exp(-dt/tau_m)
    target = -65.0 + (tau / 0.25) * i_off
    np.testing.assert_allclose(ref.states["a"]["v"][0], target + np.exp(-1.0 / tau) * (v0 - target), rtol=0, atol=1e-9)
    assert ref.spikes["a"].sum() > 0
    for backend, options in (("torch_event", {}), ("brian2", {"target": "numpy"})):
        other = _run(net, backend, **options)
        np.testing.assert_array_equal(other.spikes["a"], ref.spikes["a"], err_msg=backend)


def test_drawn_values_are_saved_as_arrays(tmp_path) -> None:
    net = _net()
    back = load_network(save_network(net, tmp_path / "n.npz"))
    np.testing.assert_array_equal(back.population("a").initial["v"], net.population("a").initial["v"])
    np.testing.assert_array_equal(back.population("a").parameters["i_offset"], net.population("a").parameters["i_offset"])
