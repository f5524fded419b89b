"""The same feature checks on every backend, and identity between backends."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurohop
from neurohop.errors import BuildError, InputError
from neurohop.kernels.lif import refractory_steps
from neurohop.model import LIF, STDP, AllToAll, Network, OneToOne, Population, Projection, SpikeSource
from neurohop.testing import random_inputs, random_network


def single(model: LIF, record: tuple[str, ...] = ("spikes", "v")) -> Network:
    return Network((Population("src", 1, SpikeSource()), Population("n", 1, model, record)), ())


def test_free_decay(backend: tuple[str, dict]) -> None:
    name, opts = backend
    model = LIF(tau_m=7.0, v_rest=-65.0, v_init=-55.0, v_thresh=-40.0)
    res = neurohop.build(single(model), backend=name, dt=0.5, **opts).run(40)
    expected = -65.0 + 10.0 * np.exp(-np.arange(1, 41) * 0.5 / 7.0)
    err = np.abs(res.states["n"]["v"][:, 0] - expected).max()
    assert err < 1e-11, f"{name}: free decay off by {err} mV"


def test_constant_current_interspike_interval(backend: tuple[str, dict]) -> None:
    name, opts = backend
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
    fast = LIF(cm=0.1, tau_m=1.0, tau_syn_e=0.3, v_thresh=-64.0, tau_refrac=2.0)
    net = Network(
        (Population("src", 1, SpikeSource(((3, 10),))), Population("n", 1, fast)),
        (Projection("p", "src", "n", OneToOne(), weight=50.0, delay=delay),),
    )
    res = neurohop.build(net, backend=name, dt=1.0, **opts).run(20)
    assert res.spike_times("n")[0] == [3 + delay, 10 + delay]
    assert res.spike_times("src")[0] == [3, 10]


def test_stdp_hand_computed_through_the_backend(backend: tuple[str, dict]) -> None:
    """Pre spikes come from a source; the post neuron is forced to fire by a strong input."""
    name, opts = backend
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
    assert abs(sim.weights("learn")[0] - w) < 1e-12


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
def test_random_networks_give_identical_spikes_on_both_backends(seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    inputs = random_inputs(rng, net, 150)
    a = neurohop.build(net, backend="torch").run(150, inputs)
    b = neurohop.build(net, backend="brian2", target="numpy").run(150, inputs)
    assert a.count() > 0
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
    net = random_network(rng)
    inputs = random_inputs(rng, net, 90)
    whole = neurohop.build(net, backend=name, **opts).run(90, inputs)
    sim = neurohop.build(net, backend=name, **opts)
    parts, start = [], 0
    for stop in (1, 17, 18, 55, 90):
        parts.append(sim.run(stop - start, {k: v[start:stop] for k, v in inputs.items()}))
        start = stop
    compare(whole, neurohop.backends.RunResult.concatenate(parts), exact_states=True)


def test_snapshot_and_restore_replay_the_same_future(backend: tuple[str, dict]) -> None:
    name, opts = backend
    rng = np.random.default_rng(10)
    net = random_network(rng)
    inputs = random_inputs(rng, net, 80)
    sim = neurohop.build(net, backend=name, **opts)
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


def test_torch_batch_equals_separate_runs() -> None:
    rng = np.random.default_rng(7)
    net = random_network(rng)
    B, T = 4, 100
    per = [random_inputs(rng, net, T) for _ in range(B)]
    batched = {k: np.stack([p[k] for p in per], axis=1) for k in per[0]}
    sim = neurohop.build(net, backend="torch", batch=B)
    res = sim.run(T, batched)
    for b in range(B):
        one = neurohop.build(net, backend="torch")
        alone = one.run(T, per[b])
        for pop in alone.spikes:
            np.testing.assert_array_equal(res.spikes[pop][:, b], alone.spikes[pop])
        for proj in net.projections:
            w = sim.weights(proj.name)
            np.testing.assert_array_equal(w[b] if w.ndim == 2 else w, one.weights(proj.name))


def test_torch_on_cuda_when_present_else_a_clear_error() -> None:
    rng = np.random.default_rng(2)
    net = random_network(rng)
    if not torch.cuda.is_available():
        with pytest.raises(BuildError, match="CUDA is not available"):
            neurohop.build(net, backend="torch", device="cuda")
        return
    inputs = random_inputs(rng, net, 100)
    a = neurohop.build(net, backend="torch", device="cuda").run(100, inputs)
    b = neurohop.build(net, backend="torch").run(100, inputs)
    for pop in a.spikes:
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop])


def test_input_errors_are_clear(backend: tuple[str, dict]) -> None:
    name, opts = backend
    net = Network((Population("src", 3, SpikeSource()), Population("n", 2, LIF())), (Projection("p", "src", "n", AllToAll(), 1.0),))
    sim = neurohop.build(net, backend=name, **opts)
    with pytest.raises(InputError, match=r"inputs\['src'\]: expected shape \[5, 3\]"):
        sim.run(5, {"src": np.zeros((5, 2))})
    with pytest.raises(InputError, match="not a spike-source population"):
        sim.run(5, {"n": np.zeros((5, 2))})
    with pytest.raises(InputError, match="expected spikes as 0/1 or booleans"):
        sim.run(5, {"src": np.full((5, 3), 0.5)})
    with pytest.raises(InputError, match="steps: expected an integer >= 0"):
        sim.run(-1)
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

    class Izhikevich(LIF):
        pass

    odd = Network((Population("n", 1, Izhikevich()),))
    for name in ("torch", "brian2"):
        with pytest.raises(BuildError, match=rf"{name}: cannot build population 'n': neuron model Izhikevich has no kernel; supported: \['LIF', 'CubaLIF'\]"):
            neurohop.build(odd, backend=name)
