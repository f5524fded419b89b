"""The same feature checks on every registered backend, and identity between backends.

Every test takes the ``backend`` fixture (all registered backends, see ``tests/conftest.py``)
and states the features it needs; a backend that lacks one is skipped with the reason from
the ``UNSUPPORTED`` table, and :func:`test_unsupported_elements_are_refused_at_build`
checks that each backend really refuses what the table says it lacks, while
:func:`test_support_table_matches_declared_capabilities` checks the table against the
capabilities the backends declare.

Integer targets (``fixed:*``) compute in fixed point by design: exact float64 agreement
(``float_reference``) is not defined for them. They run the analytic checks at the
target's resolution, and every test that compares a backend with itself (split runs,
snapshots, batches, input checks) on networks fitted to what they declare.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from backend_support import BACKEND_NAMES, FEATURES, UNSUPPORTED, lacks, require

import neurohop
import neurohop.export
from neurohop.backends import capabilities
from neurohop.backends.base import Capabilities
from neurohop.errors import BuildError, CapacityError, InputError, NeurohopError
from neurohop.kernels.lif import refractory_steps
from neurohop.model import LIF, STDP, AllToAll, CubaLIF, FromList, Network, OneToOne, Population, Projection, SpikeSource
from neurohop.testing import random_inputs, random_network


def single(model: LIF, record: tuple[str, ...] = ("spikes", "v")) -> Network:
    return Network((Population("src", 1, SpikeSource()), Population("n", 1, model, record)), ())


def fit(net: Network, caps: Capabilities) -> Network:
    """``net`` changed only where a backend declares it cannot run an element.

    LIF populations become CUBA LIF on integer targets that run CUBA natively (Loihi, Xylo),
    static where STDP is not run, all-to-all for unsupported connectors, one delay per
    projection where per-synapse delays are not supported; recorded variables are those the
    backend keeps. Tests that compare two backends run both on the fitted network.
    """
    pops = []
    for pop in net.populations:
        model = pop.model
        if isinstance(model, LIF) and "cuba_lif" in caps.neuron_models and ("lif" not in caps.neuron_models or not caps.float_reference):
            model = CubaLIF(tau_syn=max(model.tau_syn_e, 1.0), tau_mem=model.tau_m, v_th=1.0, v_reset=0.0)
        keep = ("spikes", *caps.states.get(model.kind, ()))
        record = tuple(v for v in pop.record if v in keep) if not pop.is_source else pop.record
        if not pop.is_source and pop.record and model is not pop.model:
            record = keep
        pops.append(dataclasses.replace(pop, model=model, record=record))
    projs = []
    for proj in net.projections:
        conn, weight, delay, rule = proj.connector, proj.weight, proj.delay, proj.plasticity
        if rule is not None and ("stdp" not in caps.plasticity or conn.kind not in caps.plastic_connectors):
            rule = None
        if conn.kind not in caps.connectors:
            conn, weight = AllToAll(), float(np.round(np.mean(weight) * 64) / 64)  # on the 1/64 grid: exact sums
        elif isinstance(conn, FromList) and not caps.float_reference:
            # integer targets with dense weight matrices hold one synapse (one delay) per pair
            _, first = np.unique(np.stack([conn.pre_indices, conn.post_indices]), axis=1, return_index=True)
            first = np.sort(first)
            conn = FromList(conn.pre_indices[first], conn.post_indices[first])
            weight = weight if np.isscalar(weight) else np.asarray(weight)[first]
            delay = delay if np.isscalar(delay) else np.asarray(delay)[first]
        if not np.isscalar(delay) and not caps.per_synapse_delays:
            delay = int(np.asarray(delay).flat[0])
        projs.append(Projection(proj.name, proj.pre, proj.post, conn, weight, delay, proj.receptor, rule))
    return Network(tuple(pops), tuple(projs), name=net.name)


def layered_network(rng: np.random.Generator, plastic: bool = True) -> Network:
    """A random CUBA network of the layered shape (sources -> recurrent hidden -> outputs,
    one projection per pair, delay 1, weights on a 1/64 grid), for targets of that topology."""
    sizes = [int(rng.integers(2, 9)), int(rng.integers(3, 11)), int(rng.integers(1, 5))]
    hidden = CubaLIF(tau_syn=float(rng.choice([1.0, 2.0, 4.0])), tau_mem=float(rng.choice([2.0, 4.0, 8.0])), v_th=1.0)
    out = CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0)
    pops = (Population("src", sizes[0], SpikeSource()), Population("hid", sizes[1], hidden, ("spikes", "u", "v")), Population("out", sizes[2], out, ("spikes", "v")))

    def w(n: int, scale: float) -> np.ndarray:
        return np.round(rng.uniform(-0.3 * scale, scale, n) * 64) / 64

    projs = (
        Projection("in", "src", "hid", AllToAll(), np.abs(w(sizes[0] * sizes[1], 1.5)), 1),
        Projection("rec", "hid", "hid", AllToAll(False), np.abs(w(sizes[1] * (sizes[1] - 1), 0.6)), 1, "inhibitory"),
        Projection("readout", "hid", "out", AllToAll(), np.abs(w(sizes[1] * sizes[2], 1.0)), 1),
    )
    return Network(pops, projs, name="layered", metadata={"outputs": ["out"]})


def network_for(name: str, rng: np.random.Generator, plastic: bool = True) -> Network:
    """A random network ``name`` can run: :func:`random_network` fitted to it, or a layered one."""
    caps = capabilities(name)
    if caps.topology == "layered":
        return layered_network(rng, plastic)
    return fit(random_network(rng, plastic=plastic), caps)


def build(net: Network, name: str, opts: dict, **extra: object) -> neurohop.backends.Simulation:
    return neurohop.build(fit(net, capabilities(name)), backend=name, **opts, **extra)


# ---------------------------------------------------------------- the contract itself
def test_support_table_matches_declared_capabilities() -> None:
    """The table of unsupported features says exactly what the backends declare."""
    registered = [b for b in neurohop.backends.available() if not b.endswith(":<variant>")]
    targets = [f"fixed:{t}" for t in neurohop.export.available_targets()]
    assert sorted(BACKEND_NAMES) == sorted(registered + targets), "every registered backend and target is in the suite"
    for (name, feature), reason in UNSUPPORTED.items():
        assert name in BACKEND_NAMES and feature in FEATURES and reason
    for name in BACKEND_NAMES:
        caps = capabilities(name)
        for feature in FEATURES:
            assert lacks(caps, feature) == ((name, feature) in UNSUPPORTED), f"{name}: {feature}: declared {'missing' if lacks(caps, feature) else 'present'}, table disagrees"


def _element(feature: str, caps: Capabilities) -> tuple[Network, dict] | None:
    """A minimal description (and build options) that uses ``feature`` and otherwise only
    what the backend declares; None for a feature that is not an element of a build."""
    src = Population("src", 2, SpikeSource())
    native = LIF() if "lif" in caps.neuron_models else CubaLIF()

    def one(model: object = native, record: tuple[str, ...] = ("spikes",), **proj: object) -> Network:
        kw = {"connector": AllToAll(), "weight": 1.0, **proj}
        element = Projection("p", "src", "n", kw.pop("connector"), kw.pop("weight"), **kw)
        if caps.topology == "layered":  # the element sits on a hidden population (src -> n -> out)
            out = Population("out", 1, native)
            return Network((src, Population("n", 2, model, record), out), (element, Projection("o", "n", "out", AllToAll(), 1.0)), metadata={"outputs": ["out"]})
        return Network((src, Population("n", 2, model, record)), (element,))

    rule = STDP(w_max=2.0)
    if feature in ("lif", "cuba_lif"):
        return one(LIF() if feature == "lif" else CubaLIF()), {}
    if feature.startswith("states:"):
        kind, _, var = feature[7:].partition(".")
        return one(LIF() if kind == "lif" else CubaLIF(), ("spikes", var)), {}
    if feature == "stdp":
        return one(plasticity=rule), {}
    if feature.startswith("plastic:"):
        return one(connector={"one_to_one": OneToOne(), "from_list": FromList.from_pairs([[0, 1]])}[feature[8:]], plasticity=rule), {}
    if feature == "connector:from_list":
        return one(connector=FromList.from_pairs([[0, 1]])), {}
    if feature == "per_synapse_delays":
        return one(delay=np.array([1, 2, 1, 2])), {}
    if feature == "per_neuron_parameters":
        net = one()
        values = {"tau_m": [10.0, 20.0]} if isinstance(native, LIF) else {"tau_mem": [10.0, 20.0]}
        return net.with_updates(populations=[dataclasses.replace(p, parameters=values) if p.name == "n" else p for p in net.populations]), {}
    if feature == "topology:any":
        return Network((src, Population("n", 2, native)), (Projection("p", "src", "n", AllToAll(), 1.0, 2),)), {}
    if feature in ("batch", "cuda"):
        return one(), {"batch": 2} if feature == "batch" else {"device": "cuda"}
    return None


@pytest.mark.parametrize("name, feature", sorted(UNSUPPORTED), ids=lambda v: str(v))
def test_unsupported_elements_are_refused_at_build(name: str, feature: str) -> None:
    """Each element a backend lacks is refused with a one-line BuildError naming the backend."""
    case = _element(feature, capabilities(name))
    if case is None:
        pytest.skip(f"{feature} is a property of the results, not an element a build can refuse")
    net, opts = case
    options = {"target": "numpy"} if name == "brian2" else {}
    with pytest.raises((BuildError, CapacityError)) as info:  # CapacityError: over a limit of the target file
        neurohop.build(net, backend=name, **options, **opts)
    message = str(info.value)
    assert "\n" not in message and name.partition(":")[2 if name.startswith("fixed:") else 0] in message, message
    # the same description without the element builds (the refusal is about the element)
    if feature == "batch" or feature == "cuda":
        neurohop.build(net, backend=name, **options)


def test_every_builder_accepts_seed_and_refuses_unknown_options(backend: tuple[str, dict]) -> None:
    name, opts = backend
    net = fit(single(LIF()), capabilities(name))
    assert neurohop.build(net, backend=name, seed=0, **opts).run(3).steps == 3
    with pytest.raises(BuildError, match=r"unknown option 'sede'; accepted: \[.*'seed'.*\]"):
        neurohop.build(net, backend=name, sede=0, **opts)
    with pytest.raises(BuildError, match="seed: expected None or an integer >= 0"):
        neurohop.build(net, backend=name, seed=-1, **opts)
    declared = [o.name for o in neurohop.backends.options(name)]
    assert {"dt", "seed", "batch", "device"} <= set(declared), declared
    assert all(o.doc for o in neurohop.backends.options(name))


def test_missing_capabilities_raise_a_clear_error(backend: tuple[str, dict]) -> None:
    name, opts = backend
    sim = build(single(LIF()), name, opts)
    if not sim.capabilities.learning_switch:
        with pytest.raises(BuildError, match=rf"{name}: set_learning: this backend does not provide the capability 'learning_switch'"):
            sim.set_learning(False)
    else:
        sim.set_learning(False)


# ---------------------------------------------------------------- analytic checks
def test_free_decay(backend: tuple[str, dict]) -> None:
    name, opts = backend
    require(name, "lif", "states:lif.v")
    model = LIF(tau_m=7.0, v_rest=-65.0, v_init=-55.0, v_thresh=-40.0)
    dt, steps = 1.0, 40
    sim = neurohop.build(single(model), backend=name, dt=dt, **opts)
    res = sim.run(steps)
    expected = -65.0 + 10.0 * np.exp(-np.arange(1, steps + 1) * dt / 7.0)
    err = np.abs(res.states["n"]["v"][:, 0] - expected).max()
    if sim.capabilities.float_reference:
        assert err < 1e-11, f"{name}: free decay off by {err} mV"
    else:
        # fixed point: each step rounds v to one unit of the target's v representation, and
        # the decay factor is held with at least 12 fraction bits (Loihi's dv, the coarsest
        # here): at most half a unit (2^-13) of it per step on the 10 mV excursion
        lsb = sim.program.population("n").units["v"]
        bound = steps * (lsb + 10.0 * 2.0**-13)
        assert err <= bound, f"{name}: free decay off by {err} mV (bound {bound})"


def test_constant_current_interspike_interval(backend: tuple[str, dict]) -> None:
    name, opts = backend
    require(name, "lif", "float_reference")
    model = LIF(cm=0.5, tau_m=10.0, v_rest=-70.0, v_reset=-72.0, v_thresh=-60.0, tau_refrac=2.0, i_offset=1.3)
    dt = 0.25
    a = model.v_rest + model.r_m * model.i_offset
    first = math.ceil(model.tau_m / dt * math.log((a - model.v_rest) / (a - model.v_thresh)))
    isi = refractory_steps(model.tau_refrac, dt) + math.ceil(model.tau_m / dt * math.log((a - model.v_reset) / (a - model.v_thresh)))
    res = neurohop.build(single(model), backend=name, dt=dt, **opts).run(400)
    times = res.spike_times("n")[0]
    assert times[0] + 1 == first, f"{name}: first spike at step {times[0] + 1}, expected {first}"
    assert set(np.diff(times).tolist()) == {isi}, f"{name}: intervals {set(np.diff(times).tolist())}, expected {isi}"


@pytest.mark.parametrize("delay", [1, 2, 4])
def test_a_spike_at_t_arrives_at_t_plus_d(backend: tuple[str, dict], delay: int) -> None:
    name, opts = backend
    require(name, "topology:any")
    fast = LIF(cm=0.1, tau_m=1.0, tau_syn_e=0.3, v_thresh=-64.0, tau_refrac=2.0)
    net = Network(
        (Population("src", 1, SpikeSource(((3, 10),))), Population("n", 1, fast)),
        (Projection("p", "src", "n", OneToOne(), weight=50.0, delay=delay),),
    )
    res = build(net, name, opts, dt=1.0).run(20)
    assert res.spike_times("n")[0] == [3 + delay, 10 + delay]
    assert res.spike_times("src")[0] == [3, 10]


def test_stdp_hand_computed_through_the_backend(backend: tuple[str, dict]) -> None:
    """Pre spikes come from a source; the post neuron is forced to fire by a strong input."""
    name, opts = backend
    require(name, "lif", "stdp")
    post_model = LIF(cm=1.0, tau_m=1.0, tau_syn_e=0.3, v_rest=0.0, v_reset=0.0, v_thresh=10.0, tau_refrac=0.0)
    rule = STDP(tau_plus=3.0, tau_minus=3.0, a_plus=0.5, a_minus=0.25, w_min=0.0, w_max=1.0)
    net = Network(
        (
            Population("pre", 1, SpikeSource(((2, 8),))),
            Population("drive", 1, SpikeSource(((3, 6),))),
            Population("post", 1, post_model),
        ),
        (
            Projection("force", "drive", "post", OneToOne(), weight=200.0, delay=1),
            Projection("learn", "pre", "post", AllToAll(), weight=0.5, delay=2, plasticity=rule),
        ),
    )
    sim = neurohop.build(net, backend=name, dt=1.0, **opts)
    res = sim.run(12)
    assert res.spike_times("post")[0] == [4, 7]  # driven at 3 and 6, delay 1
    # post spikes at 4 and 7 are seen at 6 and 9 (delay 2); pre at 2 and 8
    e = lambda n: math.exp(-n / 3.0)  # noqa: E731
    w = 0.5  # pre at 2: no post yet
    w = min(1.0, w + 0.5 * (1.0 * e(4)))  # post seen at 6: lag 4 after pre 2
    w = max(0.0, w - 0.25 * (1.0 * e(2)))  # pre at 8: post seen at 6, lag 2
    w = min(1.0, w + 0.5 * ((1.0 * e(6) + 1.0) * e(1)))  # post seen at 9: pre trace of 2 and 8
    err = abs(sim.weights("learn")[0] - w)
    if sim.capabilities.float_reference:
        assert err < 1e-12
    else:
        # integer weights and traces: each of the three updates rounds the weight to one unit
        # and the trace product to one unit below (floor), so the weight is off by < 3 units
        unit = sim.program.projection("learn").weight_unit
        assert err < 3 * unit, f"{name}: weight off by {err} nA (unit {unit})"


# ---------------------------------------------------------------- identity and state
def compare(a: neurohop.backends.RunResult, b: neurohop.backends.RunResult, exact_states: bool) -> None:
    for pop in a.spikes:
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop], err_msg=f"spikes of {pop}")
    for pop, variables in a.states.items():
        for var, values in variables.items():
            if exact_states:
                np.testing.assert_array_equal(values, b.states[pop][var], err_msg=f"{pop}.{var}")
            else:
                np.testing.assert_allclose(values, b.states[pop][var], rtol=0, atol=1e-9, err_msg=f"{pop}.{var}")


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_give_identical_spikes_to_torch(backend: tuple[str, dict], seed: int) -> None:
    name, opts = backend
    require(name, "float_reference")
    if name == "torch":
        pytest.skip("torch is the reference")
    rng = np.random.default_rng(seed)
    net = network_for(name, rng)
    inputs = random_inputs(rng, net, 150)
    a = neurohop.build(net, backend="torch").run(150, inputs)
    b = neurohop.build(net, backend=name, **opts).run(150, inputs)
    assert a.count() > 0
    assert a.states, "the states are compared too"
    plastic = any(p.plasticity is not None for p in net.projections)
    # fixed weights are on a binary grid, so every sum is exact and states are bit-identical;
    # learned weights are not, and backends sum them in different orders (last-bit differences)
    compare(a, b, exact_states=not plastic)


def test_random_networks_have_activity_and_plasticity() -> None:
    """Guard against a vacuous identity test: the generated networks really spike and learn."""
    seen_plastic = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        net = random_network(rng)
        sim = neurohop.build(net, backend="torch")
        res = sim.run(150, random_inputs(rng, net, 150))
        assert sum(int(res.spikes[p.name].sum()) for p in net.neurons) > 0
        for proj in net.projections:
            if proj.plasticity is not None:
                seen_plastic += not np.array_equal(sim.weights(proj.name), proj.synapses(net.sizes)[2])
    assert seen_plastic >= 5


@pytest.mark.parametrize("seed", [3, 10])
def test_runs_split_anywhere_equal_one_run(backend: tuple[str, dict], seed: int) -> None:
    name, opts = backend
    rng = np.random.default_rng(seed)
    net = network_for(name, rng)
    inputs = random_inputs(rng, net, 90)
    whole = neurohop.build(net, backend=name, **opts).run(90, inputs)
    assert whole.count() > sum(int(v.sum()) for v in inputs.values()), "the neurons spike"
    sim = neurohop.build(net, backend=name, **opts)
    parts, start = [], 0
    for stop in (1, 17, 18, 55, 90):
        parts.append(sim.run(stop - start, {k: v[start:stop] for k, v in inputs.items()}))
        start = stop
    compare(whole, neurohop.backends.RunResult.concatenate(parts), exact_states=True)


def test_snapshot_and_restore_replay_the_same_future(backend: tuple[str, dict]) -> None:
    name, opts = backend
    rng = np.random.default_rng(10)
    net = network_for(name, rng)
    inputs = random_inputs(rng, net, 80)
    sim = neurohop.build(net, backend=name, **opts)
    assert sim.capabilities.snapshot
    sim.run(40, {k: v[:40] for k, v in inputs.items()})
    snap = sim.snapshot()
    first = sim.run(40, {k: v[40:] for k, v in inputs.items()})
    w_first = {p.name: sim.weights(p.name) for p in net.projections}
    sim.restore(snap)
    assert sim.t == 40
    sim.run(5)  # a different future...
    sim.restore(snap)
    second = sim.run(40, {k: v[40:] for k, v in inputs.items()})
    compare(first, second, exact_states=True)
    for p in net.projections:
        np.testing.assert_array_equal(w_first[p.name], sim.weights(p.name))


def test_batch_equals_separate_runs(backend: tuple[str, dict]) -> None:
    name, opts = backend
    require(name, "batch")
    rng = np.random.default_rng(7)
    net = network_for(name, rng)
    B, T = 4, 100
    per = [random_inputs(rng, net, T) for _ in range(B)]
    batched = {k: np.stack([p[k] for p in per], axis=1) for k in per[0]}
    sim = neurohop.build(net, backend=name, batch=B, **opts)
    res = sim.run(T, batched)
    for b in range(B):
        one = neurohop.build(net, backend=name, **opts)
        alone = one.run(T, per[b])
        for pop in alone.spikes:
            np.testing.assert_array_equal(res.spikes[pop][:, b], alone.spikes[pop])
        for proj in net.projections:
            w = sim.weights(proj.name)
            np.testing.assert_array_equal(w[b] if w.ndim == 2 else w, one.weights(proj.name))


def test_frozen_recall_equals_learning_off_runs(backend: tuple[str, dict]) -> None:
    """``run_frozen``: B instances from a quiet start on the current weights, the
    simulation itself untouched; equal to a fresh simulation of the frozen description."""
    name, opts = backend
    require(name, "stdp")
    rng = np.random.default_rng(10)
    net = network_for(name, rng)
    assert any(p.plasticity is not None for p in net.projections)
    inputs = random_inputs(rng, net, 60)
    sim = neurohop.build(net, backend=name, **opts)
    sim.run(60, inputs)
    before = {p.name: sim.weights(p.name) for p in net.projections}
    t, B = sim.t, 3
    cues = [random_inputs(rng, net, 20) for _ in range(B)]
    res = sim.run_frozen(20, {k: np.stack([c[k] for c in cues], axis=1) for k in cues[0]}, batch=B)
    assert sim.t == t and all(np.array_equal(before[k], sim.weights(k)) for k in before)
    frozen = sim.frozen_copy(None)
    assert all(p.plasticity is None for p in frozen.net.projections)
    start = frozen.snapshot()
    for b in range(B):
        frozen.restore(start)
        alone = frozen.run(20, cues[b])
        for pop in alone.spikes:
            np.testing.assert_array_equal(res.spikes[pop][:, b], alone.spikes[pop], err_msg=f"{name}: instance {b}, {pop}")


def test_on_cuda_when_present_else_a_clear_error(backend: tuple[str, dict]) -> None:
    name, opts = backend
    require(name, "cuda")
    rng = np.random.default_rng(2)
    net = network_for(name, rng)
    if not torch.cuda.is_available():
        with pytest.raises(BuildError, match="CUDA is not available|sees no CUDA device"):
            neurohop.build(net, backend=name, device="cuda", **opts)
        return
    inputs = random_inputs(rng, net, 100)
    a = neurohop.build(net, backend=name, device="cuda", **opts).run(100, inputs)
    b = neurohop.build(net, backend=name, **opts).run(100, inputs)
    for pop in a.spikes:
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop])


def test_input_errors_are_clear(backend: tuple[str, dict]) -> None:
    name, opts = backend
    net = Network((Population("src", 3, SpikeSource()), Population("n", 2, LIF())), (Projection("p", "src", "n", AllToAll(), 1.0),))
    if capabilities(name).topology == "layered":  # src -> hidden -> out
        net = layered_network(np.random.default_rng(0))
        net = net.with_updates(populations=[Population("src", 3, SpikeSource()), *net.neurons], projections=[Projection("in", "src", "hid", AllToAll(), 1.0, 1), *net.projections[1:]])
    sim = build(net, name, opts)
    with pytest.raises(InputError, match=r"inputs\['src'\]: expected shape \[5, 3\]"):
        sim.run(5, {"src": np.zeros((5, 2))})
    with pytest.raises(InputError, match="not a spike-source population"):
        sim.run(5, {"n": np.zeros((5, 2))})
    with pytest.raises(InputError, match="expected spikes as 0/1 or booleans"):
        sim.run(5, {"src": np.full((5, 3), 0.5)})
    with pytest.raises(InputError, match="steps: expected an integer >= 0"):
        sim.run(-1)
    with pytest.raises(InputError, match="run_frozen: batch: expected an integer >= 1"):
        sim.run_frozen(3, None, batch=0)
    assert sim.t == 0, "a refused run leaves the simulation where it was"


def test_build_errors_name_backend_and_what_is_supported() -> None:
    net = single(LIF())
    with pytest.raises(BuildError, match=r"unknown backend 'nest'; available: \['brian2', 'torch', 'torch_event', 'fixed:<variant>'\]"):
        neurohop.build(net, backend="nest")
    with pytest.raises(BuildError, match="brian2: batch: batched instances are not supported"):
        neurohop.build(net, backend="brian2", batch=4)
    with pytest.raises(BuildError, match="torch: dtype: expected 'float64' or 'float32'"):
        neurohop.build(net, backend="torch", dtype="float16")
    with pytest.raises(BuildError, match="brian2: target: expected 'auto', 'cython' or 'numpy'"):
        neurohop.build(net, backend="brian2", target="cuda")
    with pytest.raises(BuildError, match=r"unknown backend 'fixed:'"):
        capabilities("fixed:")

    class Izhikevich(LIF):
        pass

    odd = Network((Population("n", 1, Izhikevich()),))
    for name in ("torch", "brian2"):
        with pytest.raises(BuildError, match=rf"{name}: cannot build population 'n': neuron model Izhikevich has no kernel; supported: \['LIF', 'CubaLIF'\]"):
            neurohop.build(odd, backend=name)


def test_torch_event_records_states_like_torch() -> None:
    """torch_event records every state variable torch records, in run and in run_frozen."""
    rng = np.random.default_rng(4)
    net = network_for("torch_event", rng, plastic=False)
    inputs = random_inputs(rng, net, 50)
    a = neurohop.build(net, backend="torch").run(50, inputs)
    sim = neurohop.build(net, backend="torch_event")
    b = sim.run(50, inputs)
    assert a.states and set(a.states) == set(b.states)
    compare(a, b, exact_states=True)
    frozen = sim.run_frozen(50, {k: v[:, None] for k, v in inputs.items()}, batch=1)
    first = neurohop.build(net, backend="torch_event").run(50, inputs)
    for pop, variables in first.states.items():
        for var, values in variables.items():
            np.testing.assert_array_equal(frozen.states[pop][var][:, 0], values)


# ---------------------------------------------------------------- layering and hygiene
def test_importing_the_model_and_the_registry_imports_no_simulator() -> None:
    code = "import sys, neurohop.model, neurohop.backends; bad = [m for m in ('torch', 'brian2', 'neurohop.export') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_build_errors_are_neurohop_errors() -> None:
    with pytest.raises(NeurohopError):
        neurohop.build(single(LIF()), backend="torch", devise="cpu")
