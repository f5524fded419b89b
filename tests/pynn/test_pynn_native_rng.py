"""``FixedProbabilityConnector(rng=NativeRNG(seed))`` in ``neurohop.pynn``: the connections are
neurohop's seeded ``fixed_probability`` draw, and the description keeps the rule."""

from __future__ import annotations

import numpy as np
import pytest

import neurohop
import neurohop.pynn as sim
from neurohop.model import Projection
from neurohop.model.synapses import FixedProbability, FromList

from pyNN import errors
from pyNN.random import NativeRNG, NumpyRNG

CELL = dict(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0, tau_syn_E=2.0, tau_syn_I=4.0, i_offset=0.0)


def _script(rng_a, rng_b):
    sim.setup(timestep=1.0, seed=3)
    src = sim.Population(20, sim.SpikeSourceArray(spike_times=[[2.0, 5.0, 9.0, 14.0]] * 20), label="src")
    cells = sim.Population(50, sim.IF_curr_exp(**CELL), label="cells")
    cells.record("spikes")
    drive = sim.Projection(src, cells, sim.FixedProbabilityConnector(0.3, rng=rng_a), sim.StaticSynapse(weight=0.4, delay=1.0))
    rec = sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.1, allow_self_connections=False, rng=rng_b),
                         sim.StaticSynapse(weight=0.2, delay=2.0))
    return src, cells, drive, rec


def test_native_rng_draws_neurohops_pairs_and_keeps_the_rule():
    _, cells, drive, rec = _script(NativeRNG(5), NativeRNG(6))
    want = FixedProbability(0.1, False, 6).pairs(50, 50)
    assert set(zip(rec._pre.tolist(), rec._post.tolist())) == set(zip(want[0].tolist(), want[1].tolist()))
    assert len(drive) == FixedProbability(0.3, True, 5).count(20, 50)
    sim.run(30.0)
    net = sim.state.translation.network
    assert [type(p.connector) for p in net.projections] == [FixedProbability, FixedProbability]
    assert net.projection(net.projections[1].name).connector == FixedProbability(0.1, False, 6)
    # PyNN's view of the weights reads through the rule's synapse order
    w = rec.get("weight", format="array")
    assert np.count_nonzero(~np.isnan(w)) == want[0].size and np.all(w[want] == 0.2)
    spikes = [np.asarray(st.magnitude) for st in cells.get_data("spikes").segments[-1].spiketrains]
    sim.end()
    assert sum(map(len, spikes)) > 0
    # the same synapses as explicit lists give the same spikes
    listed = net.with_updates(projections=[
        Projection(p.name, p.pre, p.post, FromList(*p.local_synapses(net.sizes)[:2]), p.weight, p.delay, p.receptor) for p in net.projections
    ])
    inputs = {"src": np.zeros((30, 20), dtype=bool)}
    inputs["src"][[2, 5, 9, 14], :] = True
    a = neurohop.build(net, "torch", dt=1.0).run(30, inputs).spikes["cells"]
    b = neurohop.build(listed, "torch", dt=1.0).run(30, inputs).spikes["cells"]
    np.testing.assert_array_equal(a, b)


def test_native_rng_without_a_seed_is_deterministic_per_script():
    _, _, d1, r1 = _script(NativeRNG(), NativeRNG())
    pairs1 = (d1._pre.copy(), r1._pre.copy())
    sim.end()
    _, _, d2, r2 = _script(NativeRNG(), NativeRNG())
    sim.end()
    assert np.array_equal(pairs1[0], d2._pre) and np.array_equal(pairs1[1], r2._pre)
    assert d1._rule.seed == d2._rule.seed != r1._rule.seed  # from setup(seed=3) and the projection's position


def test_other_rngs_keep_pynns_draw():
    _, _, drive, _ = _script(NumpyRNG(5), NumpyRNG(6))
    sim.run(1.0)
    assert all(isinstance(p.connector, FromList) for p in sim.state.translation.network.projections)
    sim.end()


def test_native_rng_refusals():
    sim.setup(timestep=1.0)
    cells = sim.Population(10, sim.IF_curr_exp(**CELL))
    with pytest.raises(errors.InvalidParameterValueError, match="allow_self_connections=False needs the same population"):
        sim.Projection(cells[:6], cells[3:], sim.FixedProbabilityConnector(0.5, allow_self_connections=False, rng=NativeRNG(1)), sim.StaticSynapse(weight=0.1, delay=1.0))
    with pytest.raises(errors.InvalidParameterValueError, match="'NoMutual' is not supported"):
        sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.5, allow_self_connections="NoMutual", rng=NativeRNG(1)), sim.StaticSynapse(weight=0.1, delay=1.0))
    sim.end()
