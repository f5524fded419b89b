"""neurohop.pynn: PyNN's API on neurohop, checked against neurohop's own description and
across backends, plus the dialect and the refusals."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import neurohop
import neurohop.pynn as sim
from neurohop.errors import BuildError
from neurohop.model import LIF, STDP, AllToAll, Network, OneToOne, Population, Projection, SpikeSource

from pyNN import errors
from pyNN.random import NumpyRNG, RandomDistribution

CELL = dict(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0, tau_syn_E=2.0, tau_syn_I=4.0, i_offset=0.0)
NH_CELL = dict(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0, tau_syn_e=2.0, tau_syn_i=4.0, i_offset=0.0)


def _times(pop):
    return [sorted(float(t) for t in train.magnitude) for train in pop.get_data("spikes").segments[-1].spiketrains]


def _input_trains(n, steps, seed):
    rng = np.random.default_rng(seed)
    return [sorted(set(rng.integers(0, steps - 5, size=6).tolist())) for _ in range(n)]


def _stdp_script(backend, options, steps=60, seed=3, strict=False):
    """A small plastic network written the PyNN way; returns spikes, learned weights and v."""
    sim.setup(timestep=1.0, backend=backend, strict=strict, **options)
    trains = _input_trains(6, steps, seed)
    src = sim.Population(6, sim.SpikeSourceArray(spike_times=[[float(t) for t in tr] for tr in trains]), label="src")
    exc = sim.Population(4, sim.IF_curr_exp(**CELL), label="exc")
    exc.initialize(v=-65.0)
    exc.record(["spikes", "v"])
    drive = sim.Projection(src, exc, sim.FromListConnector([(i, i % 4, 2.0 + 0.25 * i, 1.0) for i in range(6)]), sim.StaticSynapse(), receptor_type="excitatory")
    rule = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus=5.0, tau_minus=5.0, A_plus=0.5, A_minus=0.25),
                             weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=3.0), weight=0.5, delay=2.0)
    plastic = sim.Projection(src, exc, sim.AllToAllConnector(), rule)
    inh = sim.Projection(exc, exc, sim.AllToAllConnector(allow_self_connections=False), sim.StaticSynapse(weight=-0.5, delay=1.0), receptor_type="inhibitory")
    sim.run(steps / 2)
    sim.run(steps / 2)
    out = dict(spikes=_times(exc), weights=plastic.get("weight", format="array"), v=np.asarray(exc.get_data("v").segments[-1].analogsignals[0]),
               inh=inh.get("weight", format="list"), trains=trains)
    sim.end()
    return out


def _native(trains, steps=60):
    """The same network written directly in neurohop's description."""
    pre = [i for i in range(6)]
    from neurohop.model.synapses import FromList

    net = Network((
        Population("src", 6, SpikeSource()),
        Population("exc", 4, LIF(**NH_CELL, v_init=-65.0), record=("spikes", "v")),
    ), (
        Projection("drive", "src", "exc", FromList(np.array(pre), np.array(pre) % 4), weight=np.array([2.0 + 0.25 * i for i in pre]), delay=1),
        Projection("plastic", "src", "exc", AllToAll(), weight=0.5, delay=2, plasticity=STDP(5.0, 5.0, 0.5, 0.25, 0.0, 3.0)),
        Projection("inh", "exc", "exc", AllToAll(False), weight=0.5, delay=1, receptor="inhibitory"),
    ))
    s = neurohop.build(net, backend="torch", dt=1.0)
    spikes = np.zeros((steps, 6), dtype=bool)
    for i, tr in enumerate(trains):
        spikes[tr, i] = True
    result = s.run(steps, {"src": spikes})
    return result, s.weights("plastic").reshape(6, 4)


@pytest.mark.parametrize("backend,options", [("torch", {}), ("brian2", {"target": "numpy"})])
def test_script_equals_the_native_description(backend, options):
    got = _stdp_script(backend, options)
    result, weights = _native(got["trains"])
    want = [[float(t) for t in np.flatnonzero(result.spikes["exc"][:, i])] for i in range(4)]
    assert got["spikes"] == want
    assert sum(map(len, want)) > 5
    np.testing.assert_array_equal(got["weights"], weights)
    assert not np.allclose(weights, 0.5)  # learning happened
    # v: the initial value at t = 0, then the value after each step
    assert got["v"].shape == (61, 4)
    np.testing.assert_array_equal(got["v"][0], -65.0)
    np.testing.assert_array_equal(got["v"][1:], result.states["exc"]["v"])
    assert all(w == -0.5 for *_, w in got["inh"])  # PyNN's sign convention is kept


def test_reset_reruns_from_time_zero_with_initial_weights():
    sim.setup(timestep=1.0)
    src = sim.Population(3, sim.SpikeSourceArray(spike_times=[[1.0, 4.0], [2.0], [3.0, 9.0]]))
    cells = sim.Population(3, sim.IF_curr_exp(**CELL))
    cells.record("spikes")
    rule = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus=5.0, tau_minus=5.0, A_plus=1.0, A_minus=0.5),
                             weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=5.0), weight=2.0, delay=1.0)
    prj = sim.Projection(src, cells, sim.OneToOneConnector(), rule)
    sim.run_until(10.0)
    assert sim.get_current_time() == 10.0
    first = _times(cells)
    learned = prj.get("weight", format="list", with_address=False)
    sim.reset()
    assert sim.get_current_time() == 0.0
    assert prj.get("weight", format="list", with_address=False) == [2.0, 2.0, 2.0]
    sim.run(10.0)
    assert _times(cells) == first
    assert prj.get("weight", format="list", with_address=False) == learned
    assert len(cells.get_data().segments) == 2
    sim.end()


def test_poisson_sources_are_seeded():
    def once(seed):
        sim.setup(timestep=1.0, seed=seed)
        p = sim.Population(20, sim.SpikeSourcePoisson(rate=50.0, start=10.0, duration=200.0))
        p.record("spikes")
        sim.run(300.0)
        out = _times(p)
        sim.end()
        return out

    a, b, c = once(1), once(1), once(2)
    assert a == b and a != c
    flat = [t for tr in a for t in tr]
    assert min(flat) >= 10.0 and max(flat) < 210.0
    # 20 neurons x 200 ms x 50 Hz = 200 expected spikes; 5 sigma of a binomial is about 70
    assert abs(len(flat) - 200) < 70


def test_connectors_views_and_assemblies():
    sim.setup(timestep=0.5)
    rng = NumpyRNG(seed=4)
    a = sim.Population(10, sim.IF_curr_exp(**CELL), label="a")
    b = sim.Population(8, sim.IF_curr_exp(**CELL), label="b")
    p1 = sim.Projection(a, b, sim.FixedProbabilityConnector(0.3, rng=rng), sim.StaticSynapse(weight=0.1, delay=1.0))
    p2 = sim.Projection(a, b, sim.FixedNumberPreConnector(3, rng=rng), sim.StaticSynapse(weight=RandomDistribution("uniform", (0.1, 0.2), rng=rng), delay=1.5))
    view = a[2:6]
    masked = b[np.array([True, False] * 4)]
    p3 = sim.Projection(view, masked, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.3, delay=0.5))
    p4 = sim.Projection(sim.Assembly(a[[0, 9]], b[[1]]), b[0:2], sim.AllToAllConnector(), sim.StaticSynapse(weight=0.2, delay=0.5))
    sim.run(1.0)
    net = sim.state.translation.network
    assert net.count_synapses() == len(p1) + len(p2) + len(p3) + len(p4)
    assert len(p2) == 3 * 8 and len(p4) == 3 * 2
    w = p2.get("weight", format="array")
    assert np.all((w[~np.isnan(w)] >= 0.1) & (w[~np.isnan(w)] <= 0.2))
    # p3 joins a[2..5] to b[0, 2, 4, 6] one to one
    pairs = sorted((int(i), int(j)) for i, j in zip(p3._pre, p3._post))
    assert pairs == [(0, 0), (1, 1), (2, 2), (3, 3)]
    nh = [p for p in net.projections if p.pre.population == "a" and isinstance(p.connector, OneToOne)]
    assert not nh  # the post side is not contiguous in b: an explicit list keeps it exact
    sim.end()


def test_projection_set_get_save(tmp_path):
    sim.setup(timestep=1.0)
    a = sim.Population(3, sim.SpikeSourceArray(spike_times=[[1.0], [2.0], [3.0]]))
    b = sim.Population(2, sim.IF_curr_exp(**CELL))
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=2.0))
    prj.set(weight=np.arange(6, dtype=float).reshape(3, 2) / 10)
    np.testing.assert_allclose(prj.get("weight", format="array"), np.arange(6).reshape(3, 2) / 10)
    prj.save("weight", str(tmp_path / "w.txt"), format="list")
    assert (tmp_path / "w.txt").read_text().count("\n") >= 6
    sim.run(5.0)
    sim.end()


def test_per_neuron_initial_v_and_parameters_same_on_torch_and_brian2():
    def once(backend, options):
        sim.setup(timestep=1.0, backend=backend, **options)
        src = sim.Population(5, sim.SpikeSourceArray(spike_times=[[2.0, 8.0, 15.0]] * 5))
        cells = sim.Population(20, sim.IF_curr_exp(**CELL))
        cells.initialize(v=RandomDistribution("uniform", (-70.0, -56.0), rng=NumpyRNG(seed=7)))
        cells[::2].set(tau_m=15.0)
        cells.set(i_offset=np.repeat([0.0, 0.25], 10))
        cells.record(["spikes", "v"])
        sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.125, delay=1.0))
        sim.run(30.0)
        out = _times(cells), np.asarray(cells.get_data("v").segments[-1].analogsignals[0]), sim.state.translation.network
        sim.end()
        return out

    (s1, v1, net), (s2, v2, _) = once("torch", {}), once("brian2", {"target": "numpy"})
    assert s1 == s2 and sum(map(len, s1)) > 0
    np.testing.assert_array_equal(v1, v2)
    (pop,) = net.neurons  # one population with per-neuron parameters and initial v
    assert set(pop.parameters) == {"tau_m", "i_offset"} and set(pop.initial) == {"v"}
    assert len(set(np.round(v1[0], 6))) == 20  # every neuron starts from its own v


def test_cuba_lif_native_cell_type():
    sim.setup(timestep=1.0)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[[1.0, 2.0, 3.0]]))
    cells = sim.Population(2, sim.CubaLIF(tau_syn=2.0, tau_mem=10.0, v_th=1.0, v_reset=0.0))
    cells.record(["spikes", "v"])
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.6, delay=1.0))
    sim.run(10.0)
    assert sum(map(len, _times(cells))) > 0
    sim.end()


def test_install_as_spinnaker():
    import sys

    with sim.installed_as("pyNN.spiNNaker"):
        import pyNN.spiNNaker as spinn

        assert spinn is sim
    assert sys.modules.get("pyNN.spiNNaker") is not sim


def test_write_data(tmp_path):
    sim.setup(timestep=1.0)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[[1.0, 3.0]]))
    src.record("spikes")
    sim.run(5.0)
    src.write_data(str(tmp_path / "spikes.pkl"))
    assert (tmp_path / "spikes.pkl").stat().st_size > 0
    sim.end()


# ----------------------------------------------------------------------------- dialect
def _dialect_network(strict):
    sim.setup(timestep=1.0, strict=strict)
    src = sim.Population(4, sim.SpikeSourceArray(spike_times=[[1.0]] * 4))
    cells = sim.Population(4, sim.IF_curr_exp(**CELL))
    return src, cells


def test_dialect_accepted_by_default(caplog):
    src, cells = _dialect_network(False)
    cells.set(v=-60.0)
    view = sim.PopulationView(src, range(0, 2))
    prj = sim.Projection(view, cells[0:2], sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0), receptor_type="inhibitory")
    with caplog.at_level(logging.WARNING, logger="neurohop.pynn"):
        sim.set_number_of_neurons_per_core(sim.IF_curr_exp, 64)
    assert "no effect" in caplog.text
    sim.run(3.0)
    nh = sim.state.translation.network
    assert nh.population(nh.neurons[0].name).model.v_init == -60.0
    assert [p.receptor for p in nh.projections] == ["inhibitory"]
    assert prj.get("weight", format="list", with_address=False) == [2.0, 2.0]
    sim.end()


@pytest.mark.parametrize("what", ["set_v", "range", "positive_inhibitory", "helper"])
def test_dialect_refused_when_strict(what):
    src, cells = _dialect_network(True)
    with pytest.raises((errors.InvalidParameterValueError, errors.ConnectionError, BuildError), match="strict|must be negative"):
        if what == "set_v":
            cells.set(v=-60.0)
        elif what == "range":
            sim.PopulationView(src, range(0, 2))
        elif what == "positive_inhibitory":
            sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0), receptor_type="inhibitory")
        else:
            sim.set_number_of_neurons_per_core(sim.IF_curr_exp, 64)
    sim.end()


def test_strict_accepts_standard_pynn():
    src, cells = _dialect_network(True)
    cells.initialize(v=-60.0)
    sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=-2.0), receptor_type="inhibitory")
    sim.run(2.0)
    sim.end()


# ----------------------------------------------------------------------------- refusals
def test_run_before_setup():
    sim.setup()
    sim.end()
    with pytest.raises(BuildError, match="setup"):
        sim.run(10.0)
    with pytest.raises(BuildError, match="setup"):
        sim.Population(2, sim.IF_curr_exp())


def test_unsupported_cell_type_is_named():
    sim.setup()
    with pytest.raises(NotImplementedError, match="IF_cond_exp"):
        sim.IF_cond_exp()
    sim.end()


def test_unsupported_plasticity_is_named():
    sim.setup()
    a = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0], [2.0]]))
    b = sim.Population(2, sim.IF_curr_exp())
    rule = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(), weight_dependence=sim.AdditiveWeightDependence(),
                             dendritic_delay_fraction=0.0, weight=0.1, delay=1.0)
    sim.Projection(a, b, sim.AllToAllConnector(), rule, label="plastic")
    with pytest.raises(BuildError, match="dendritic_delay_fraction"):
        sim.run(5.0)
    sim.end()


def test_mismatched_population_view():
    sim.setup()
    a = sim.Population(4, sim.IF_curr_exp(), label="a")
    with pytest.raises(errors.InvalidParameterValueError, match="selector"):
        sim.PopulationView(a, [1, 7])
    with pytest.raises(errors.InvalidParameterValueError, match="boolean mask"):
        sim.PopulationView(a, np.array([True, False]))
    # PyNN's one-to-one between sides of different sizes joins i -> i for the shorter length
    # (sPyMem relies on it); the translation keeps exactly those connections
    prj = sim.Projection(a[0:3], a[0:2], sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1))
    assert sorted(zip(prj._pre.tolist(), prj._post.tolist())) == [(0, 0), (1, 1)]
    sim.end()


def test_delays_off_the_timestep():
    for strict in (False, True):
        sim.setup(timestep=1.0, strict=strict)
        a = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0], [2.0]]))
        b = sim.Population(2, sim.IF_curr_exp())
        sim.Projection(a, b, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1, delay=1.4), label="late")
        if strict:
            with pytest.raises(BuildError, match="whole number of timesteps"):
                sim.run(5.0)
        else:
            sim.run(5.0)
            assert sim.state.translation.network.projections[0].delay == 1
        sim.end()


def test_bad_parameter_value_is_named():
    sim.setup()
    a = sim.Population(2, sim.IF_curr_exp(v_reset=-50.0, v_thresh=-55.0), label="broken")
    with pytest.raises(BuildError, match="broken.*v_reset"):
        sim.run(1.0)
    sim.end()


def test_changes_mid_run_need_reset():
    sim.setup()
    a = sim.Population(2, sim.IF_curr_exp(), label="a")
    sim.run(5.0)
    a.set(tau_m=12.0)
    with pytest.raises(BuildError, match="reset"):
        sim.run(5.0)
    sim.reset()
    sim.run(5.0)
    sim.end()


def test_unknown_backend_and_setup_argument():
    with pytest.raises(BuildError, match="backend"):
        sim.setup(backend="nope")
    with pytest.raises(BuildError, match="unknown argument"):
        sim.setup(colour="red")


def test_inputs_can_change_between_runs():
    sim.setup(timestep=1.0)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[2.0]))
    cells = sim.Population(1, sim.IF_curr_exp(**CELL))
    cells.record("spikes")
    sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0, delay=1.0))
    sim.run(20.0)
    first = _times(cells)[0]
    src.set(spike_times=[22.0])
    sim.run(20.0)
    second = [t for t in _times(cells)[0] if t >= 20.0]
    assert first and second == [t + 20.0 for t in first]
    sim.end()


def test_population_get_and_initialize():
    sim.setup(timestep=1.0)
    cells = sim.Population(4, sim.IF_curr_exp(**CELL))
    cells[1:3].set(tau_m=[12.0, 14.0])
    np.testing.assert_array_equal(cells.get("tau_m"), [10.0, 12.0, 14.0, 10.0])
    assert cells.get("cm") == 0.25
    cells.initialize(v=-58.0)
    cells.record("v")
    sim.run(1.0)
    v = np.asarray(cells.get_data("v").segments[-1].analogsignals[0])
    np.testing.assert_array_equal(v[0], -58.0)
    assert set(sim.state.translation.network.neurons[0].parameters) == {"tau_m"}
    sim.end()
