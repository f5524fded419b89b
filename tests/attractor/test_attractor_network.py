"""One description, three simulators: the attractor's spikes and weights agree exactly.

The clock-driven torch backend is the reference; the event-driven torch backend
(``torch_event``) and Brian2 must give the same spike trains and the same weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neurohop
from neurohop.cam.attractor import AttractorMemory, make_cues, random_patterns
from neurohop.errors import BuildError, InputError
from neurohop.kernels.stdp import STDPState, stdp_event_step, stdp_step
from neurohop.model import LIF, STDP, FromList, Network, OneToOne, Population, Projection, SpikeSource
from neurohop.model.io import load_model, read_model

N, K, S = 24, 4, 8
SIMULATORS = [("torch", {}), ("torch_event", {}), ("brian2", {"target": "numpy"})]


def _storage_input(patterns: np.ndarray) -> np.ndarray:
    dg = np.zeros((S * len(patterns), N), dtype=bool)
    for m, p in enumerate(patterns):
        dg[m * S, p] = True
    return dg


@pytest.fixture(scope="module")
def stored() -> dict[str, tuple[neurohop.backends.RunResult, np.ndarray]]:
    net = load_model("ca3_attractor", N=N)
    patterns = random_patterns(np.random.default_rng(3), 6, N, K)
    dg = _storage_input(patterns)
    out = {}
    for name, opts in SIMULATORS:
        sim = neurohop.build(net, backend=name, dt=1.0, **opts)
        out[name] = (sim.run(len(dg), {"dg": dg}), sim.weights("rc"), patterns)
    return out


@pytest.mark.parametrize("name", ["torch_event", "brian2"])
def test_storage_spikes_and_weights_equal_the_clock_driven_backend(stored: dict, name: str) -> None:
    ref, w_ref, _ = stored["torch"]
    res, w, _ = stored[name]
    for pop, spikes in ref.spikes.items():
        diff = int((res.spikes[pop] != spikes).sum())
        assert diff == 0, f"{name}: {diff} spike mismatches in {pop!r}"
    assert np.array_equal(w, w_ref), f"{name}: weights differ in {int((w != w_ref).sum())} synapses (max {np.abs(w - w_ref).max()} nA)"


def test_storage_writes_a_binary_willshaw_matrix(stored: dict) -> None:
    res, w, patterns = stored["torch"]
    # the pattern cells, and only they, fire: once each, one step after their input
    assert int(res.spikes["ca3"].sum()) == patterns.size
    net = load_model("ca3_attractor", N=N)
    pre, post, _, _ = net.projection("rc").synapses(net.sizes)
    mat = np.zeros((N, N))
    mat[pre, post] = w
    expected = np.zeros((N, N), dtype=bool)
    for p in patterns:
        expected[np.ix_(p, p)] = True
    np.fill_diagonal(expected, False)
    w_max = net.projection("rc").plasticity.w_max
    assert set(np.unique(mat).tolist()) <= {0.0, w_max}
    assert np.array_equal(mat == w_max, expected)


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_recall_spikes_equal_across_backends(backend: str) -> None:
    rng = np.random.default_rng(5)
    patterns = random_patterns(rng, 20, N, K)
    cues, targets = make_cues(rng, patterns[:6], N, 2, 0)
    ref = AttractorMemory(N, K)
    ref.store(patterns)
    got = ref.recall(cues, targets)
    opts = {"target": "numpy"} if backend == "brian2" else {}
    other = AttractorMemory(N, K, backend=backend, **opts)
    other.store(patterns)
    assert np.array_equal(other.weights(), ref.weights())
    res = other.recall(cues, targets)
    assert res.sets == got.sets, f"{backend}: recalled {res.sets}, expected {got.sets}"


def test_event_stdp_equals_dense_stdp() -> None:
    """Random traces, spikes and weights; depression on; a mask without the diagonal."""
    rng = np.random.default_rng(0)
    P = Q = 9
    rule = STDP(tau_plus=2.0, tau_minus=3.0, a_plus=0.3, a_minus=0.2, w_min=0.0, w_max=1.0)
    from neurohop.kernels.stdp import stdp_constants

    c = stdp_constants(rule, 1.0)
    mask = ~np.eye(P, dtype=bool)
    w = rng.uniform(0, 1, (P, Q)) * mask
    state = STDPState(w, rng.uniform(0, 2, P), rng.integers(-5, 0, P), rng.uniform(0, 2, Q), rng.integers(-5, 0, Q))
    dense, event = state, STDPState(w.copy(), *state[1:])
    for t in range(12):
        pre = rng.random(P) < 0.3
        seen = rng.random(Q) < 0.3
        dense = stdp_step(dense, t, pre, seen, c, np.where, mask)
        event = stdp_event_step(event, t, np.flatnonzero(pre), np.flatnonzero(seen), pre, seen, c, np.where, mask)
        for a, b in zip(dense, event):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("tile_elements", [1 << 17, 3 * (2 * N + 1)])
def test_batched_frozen_recall_equals_one_cue_at_a_time(monkeypatch: pytest.MonkeyPatch, tile_elements: int) -> None:
    """In one batch, in CPU tiles of 3 instances, or one by one: the same recalled sets."""
    import neurohop.backends.torch.event as event

    monkeypatch.setattr(event, "CPU_TILE_ELEMENTS", tile_elements)
    rng = np.random.default_rng(1)
    mem = AttractorMemory(N, K, batch=8)
    mem.store(random_patterns(rng, 30, N, K))
    cues, targets = make_cues(rng, mem.patterns[:10], N, 2, 1)
    together = mem.recall(cues, targets)
    single = [mem.recall(cues[i : i + 1], targets[i : i + 1]).sets[0] for i in range(10)]
    assert together.sets == single


def test_event_backend_rejects_what_it_cannot_compile() -> None:
    src = Population("src", 3, SpikeSource())
    cell = Population("n", 3, LIF())
    net = Network((src, cell), (Projection("p", "src", "n", FromList.from_pairs([[0, 1]]), weight=1.0, plasticity=STDP()),))
    with pytest.raises(BuildError, match=r"torch_event: projection 'p': connector 'from_list' is not supported with plasticity"):
        neurohop.build(net, backend="torch_event")
    ok = Network((src, cell), (Projection("p", "src", "n", OneToOne(), weight=1.0),))
    with pytest.raises(BuildError, match="batch"):
        neurohop.build(ok, backend="torch_event", batch=4)
    sim = neurohop.build(ok, backend="torch_event")
    with pytest.raises(InputError, match="batch"):
        sim.run_frozen(3, None, batch=0)


def _variant_model(tmp_path: Path) -> Path:
    """The attractor model with a slower, weaker STDP rule (tau_plus 1 ms, a_plus 100 nA).

    A pairing two steps apart then adds 100 * exp(-2) = 13.5 nA in float and
    100 * 277/2048 = 13.5 nA on SpiNNaker's s4.11 trace: both clip at W_MAX, so the learned
    weights are the binary Willshaw matrix on both arithmetics (in float the trace also
    leaves a tiny potentiation across patterns, which the binary check tolerates).
    """
    text = read_model("ca3_attractor").path.read_text()
    fitted = text.replace("tau_plus: 0.3, tau_minus: 0.3, a_plus: 8192.0", "tau_plus: 1.0, tau_minus: 1.0, a_plus: 100.0")
    assert fitted != text
    path = tmp_path / "ca3_attractor_variant.yaml"
    path.write_text(fitted)
    return path


def _same_memory_on_fixed_spinnaker1(model: str, n: int, k: int, m: int, seed: int) -> None:
    """Store and recall on the bit-accurate SpiNNaker simulator and on torch: the learned
    weights form the binary Willshaw matrix on the target's grid, equal to torch's potentiated
    synapses, and the recalled sets are equal."""
    rng = np.random.default_rng(seed)
    patterns = random_patterns(rng, m, n, k)
    cues, targets = make_cues(rng, patterns[:8], n, max(1, k // 2), 0)
    ref = AttractorMemory(n, k, model=model, backend="torch")
    ref.store(patterns)
    fixed = AttractorMemory(n, k, model=model, backend="fixed:spinnaker1")
    assert not fixed._sim.capabilities.float_reference and not fixed._sim.capabilities.learning_switch
    fixed.store(patterns)
    w_max = fixed.network.projection("rc").plasticity.w_max
    assert set(np.unique(fixed.weights()).tolist()) == {0.0, w_max}
    assert np.array_equal(fixed.weights() == w_max, ref.weights() > w_max / 2)
    got, want = fixed.recall(cues, targets), ref.recall(cues, targets)
    assert got.sets == want.sets and want.mean_missing == 0.0


def test_attractor_runs_on_fixed_spinnaker1_through_the_same_path() -> None:
    """The packaged model on SpiNNaker through the capabilities (no backend-specific branch)."""
    _same_memory_on_fixed_spinnaker1("ca3_attractor", N, K, 20, seed=5)


def test_attractor_variant_rule_runs_on_fixed_spinnaker1(tmp_path: Path) -> None:
    _same_memory_on_fixed_spinnaker1(str(_variant_model(tmp_path)), N, K, 20, seed=5)


def test_attractor_quickstart_size_on_fixed_spinnaker1_equals_torch() -> None:
    """The quick start's sizes (N=256, k=8, M=150) with the packaged model: the same weights,
    bit for bit, and the same recalled sets as torch."""
    rng = np.random.default_rng(0)
    patterns = random_patterns(rng, 150, 256, 8)
    cues, targets = make_cues(rng, patterns[:32], 256, 4)
    mems = {name: AttractorMemory(256, 8, backend=name) for name in ("torch_event", "fixed:spinnaker1")}
    for mem in mems.values():
        mem.store(patterns)
    ref, fixed = mems["torch_event"], mems["fixed:spinnaker1"]
    assert np.array_equal(fixed.weights(), ref.weights())
    w_max = fixed.network.projection("rc").plasticity.w_max
    assert set(np.unique(fixed.weights()).tolist()) == {0.0, w_max}
    got, want = fixed.recall(cues, targets), ref.recall(cues, targets)
    assert got.sets == want.sets and got.mean_missing == 0.0


def test_packaged_attractor_rule_fits_spinnaker1_without_warnings() -> None:
    """The quantisation keeps the packaged amplitude in the signed 16-bit weight format and
    one pairing at the recurrent delay still reaches W_MAX (the float rule's outcome)."""
    from neurohop.export import load_target, quantise

    program = quantise(load_model("ca3_attractor", N=N), load_target("spinnaker1"), dt=1.0)
    assert program.report.warnings == []
    rc = next(p for p in program.projections if p.name == "rc")
    assert 0 < rc.scalars["a_plus"] <= 32767
    lag = int(rc.arrays["delay"][0])
    assert (rc.scalars["a_plus"] * int(rc.arrays["lut_plus"][lag])) >> 11 >= rc.scalars["w_max"]
