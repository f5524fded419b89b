"""Exact integer matrix products: float64 where every partial sum fits in 53 bits, int64 otherwise.

The integer simulators' synaptic sums run in float64 (BLAS, CUDA) when the bound
``max_count * max_j sum_k |w[k, j]|`` is below 2^53, which makes every product and partial
sum an exactly representable integer. These tests check the choice, the exactness at the
edge, and that both paths give identical simulations on random networks of every target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from export_helpers import random_cuba_network
from xylo_helpers import random_network, randomise
from neurohop.export import intmath
from neurohop.export.backend import quantise, simulator_for
from neurohop.export.intmath import FLOAT64_EXACT, IntMatrix, OrderedSaturatingSum, spike_sum
from neurohop.model import LIF, AllToAll, Network, Population, Projection, SpikeSource


def test_the_53_bit_check_picks_int64_when_sums_could_exceed_2_53() -> None:
    assert IntMatrix(np.full((4, 3), 255)).exact_float
    # a column of four weights of 2^51 sums to 2^53: not representable, int64 is used
    m = np.full((4, 3), 2**51, dtype=np.int64)
    assert not IntMatrix(m).exact_float
    assert IntMatrix(m[:3]).exact_float  # 3 * 2^51 < 2^53
    # spike counts scale the bound: 2^49 per column is fine for booleans, not for counts up to 31
    one = np.full((1, 2), 2**49, dtype=np.int64)
    assert IntMatrix(one, max_count=1).exact_float and not IntMatrix(one, max_count=31).exact_float
    with pytest.raises(ValueError, match="beyond 2\\^53"):
        IntMatrix(m, exact_float=True)


def test_int64_path_is_exact_where_float64_would_round() -> None:
    m = np.array([[2**52 + 1, 3], [2**52 + 1, -5], [1, 7]], dtype=np.int64)
    active = np.array([[True, True, True], [True, False, True]])
    mat = IntMatrix(m)
    assert not mat.exact_float
    want = [[sum(int(m[k, j]) for k in range(3) if active[b, k]) for j in range(2)] for b in range(2)]
    assert spike_sum(active, mat).tolist() == want
    assert (active.astype(np.float64) @ m.astype(np.float64)).astype(np.int64).tolist() != want  # what float64 would give


def test_float64_path_is_exact_up_to_the_bound() -> None:
    rng = np.random.default_rng(0)
    # weights as large as the bound allows for 64 pre neurons and counts up to 31
    top = (FLOAT64_EXACT - 1) // (64 * 31) // 2
    m = rng.integers(-top, top, (64, 5))
    counts = rng.integers(0, 32, (7, 64))
    mat = IntMatrix(m, max_count=31)
    assert mat.exact_float
    want = np.array([[sum(int(c) * int(w) for c, w in zip(counts[b], m[:, j])) for j in range(5)] for b in range(7)], dtype=object)
    assert (spike_sum(counts, mat).astype(object) == want).all()


def test_float32_is_used_on_the_cpu_only_where_24_bits_hold_every_partial_sum() -> None:
    from neurohop.export.intmath import FLOAT32_EXACT

    assert IntMatrix(np.full((4, 3), 2**21)).dtype == np.float32  # sums up to 2^23
    assert IntMatrix(np.full((8, 3), 2**21 + 1)).dtype == np.float64  # sums beyond 2^24
    rng = np.random.default_rng(3)
    # weights as large as the float32 bound allows for 64 pre neurons and counts up to 31:
    # the result is exact although single products and sums need all 24 bits
    top = (FLOAT32_EXACT - 1) // (64 * 31) // 2
    m = rng.integers(-top, top, (64, 5))
    counts = rng.integers(0, 32, (7, 64))
    mat = IntMatrix(m, max_count=31)
    assert mat.dtype == np.float32
    want = np.array([[sum(int(c) * int(w) for c, w in zip(counts[b], m[:, j])) for j in range(5)] for b in range(7)], dtype=object)
    assert (spike_sum(counts, mat).astype(object) == want).all()
    # one unit more per weight and float32 would not be exact: the matrix goes to float64
    assert IntMatrix(np.full((64, 1), (FLOAT32_EXACT // (64 * 31)) + 1), max_count=31).dtype == np.float64


def _walk(x: int, terms: list[int], lo: int, hi: int) -> tuple[int, str]:
    """The walk one addition at a time, and which bounds it met."""
    met = set()
    for a in terms:
        if x + a > hi:
            met.add("upper")
        if x + a < lo:
            met.add("lower")
        x = min(max(x + a, lo), hi)
    return x, "both" if len(met) == 2 else met.pop() if met else "none"


def test_ordered_saturating_sum_equals_the_step_by_step_walk() -> None:
    rng = np.random.default_rng(1)
    lo, hi = -(2**15), 2**15 - 1
    hit = {"none": 0, "upper": 0, "lower": 0, "both": 0}
    for trial in range(60):
        pre, post, B = int(rng.integers(1, 40)), int(rng.integers(1, 12)), int(rng.integers(1, 4))
        scale = int(rng.choice([100, 5000, 32767]))
        m = rng.integers(-scale, scale + 1, (pre, post))
        counts = rng.integers(0, 32, (B, pre)) * (rng.random((B, pre)) < 0.5)
        x = rng.integers(lo, hi + 1, (B, post))
        cuts = sorted(set(rng.integers(1, pre, int(rng.integers(0, 4))).tolist())) if pre > 1 else []
        edges = [0, *cuts, pre]
        got = OrderedSaturatingSum(m, 16, 31, blocks=list(zip(edges[:-1], edges[1:])))(x, counts)
        want = [[_walk(int(x[b, j]), [int(counts[b, k]) * int(m[k, j]) for k in range(pre)], lo, hi)[0] for j in range(post)] for b in range(B)]
        assert got.tolist() == want, trial
        for b in range(B):
            for j in range(post):
                hit[_walk(int(x[b, j]), [int(counts[b, k]) * int(m[k, j]) for k in range(pre)], lo, hi)[1]] += 1
    # every branch was exercised: no bound, one bound, both bounds (the pairwise composition)
    assert all(hit[k] > 10 for k in ("none", "upper", "lower", "both")), hit


def _random_lif_network(rng: np.random.Generator) -> Network:
    pops = [Population("src", int(rng.integers(3, 12)), SpikeSource())]
    for k in range(3):
        pops.append(Population(f"n{k}", int(rng.integers(2, 10)), LIF(tau_m=float(rng.choice([10.0, 20.0])), tau_syn_e=5.0, tau_syn_i=5.0), ("spikes", "v")))
    projs = []
    for k in range(6):
        pre = pops[int(rng.integers(len(pops)))]
        post = pops[1 + int(rng.integers(len(pops) - 1))]
        w = rng.uniform(0.0, 3.0, pre.size * post.size)
        projs.append(Projection(f"p{k}", pre.name, post.name, AllToAll(), w, int(rng.integers(1, 4)), "excitatory" if rng.random() < 0.7 else "inhibitory"))
    return Network(tuple(pops), tuple(projs))


def _programs() -> list[tuple[str, Any]]:
    progs = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        net = random_cuba_network(rng, weight_scale=2.5)
        progs.append((f"loihi-{seed}", quantise(net, "loihi", 1.0)))
        progs.append((f"spinnaker1-{seed}", quantise(_random_lif_network(rng), "spinnaker1", 1.0)))
    for seed in range(4):
        net, rng = random_network(200 + seed)
        prog = quantise(net, "xylo", 1.0)
        if seed % 2:
            randomise(prog, rng, "high")
        progs.append((f"xylo-{seed}", prog))
    return progs


def _run(prog: Any, device: str = "cpu") -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(7)
    sim = simulator_for(prog, 3, device)
    spikes = rng.random((80, 3, prog.n_inputs)) < 0.3
    got, states = sim.run(80, sim.split_inputs(spikes, 80), record_state=True)
    return got, states, sim


def _matrices(sim: Any) -> list[IntMatrix]:
    found = []
    for value in vars(sim).values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for item in items:
            for part in item if isinstance(item, tuple) else (item,):
                if isinstance(part, IntMatrix):
                    found.append(part)
                elif isinstance(part, OrderedSaturatingSum):
                    found.append(part._parts)
    return found


def test_float64_and_int64_paths_give_identical_simulations(monkeypatch: pytest.MonkeyPatch) -> None:
    progs = _programs()
    fast = {name: _run(prog) for name, prog in progs}
    monkeypatch.setattr(intmath, "FLOAT64_EXACT", 0)  # no bound fits: every product in int64
    for name, prog in progs:
        got, states, sim = _run(prog)
        f_got, f_states, f_sim = fast[name]
        assert _matrices(f_sim) and all(m.exact_float for m in _matrices(f_sim)), name
        assert not any(m.exact_float for m in _matrices(sim)), name
        for pop in got:
            assert np.array_equal(got[pop], f_got[pop]), (name, pop)
        for pop in states:
            for var in states[pop]:
                assert np.array_equal(states[pop][var], f_states[pop][var]), (name, pop, var)
        assert dict(sim.events) == dict(f_sim.events), name
    assert sum(int(a.sum()) for _, (g, _, _) in fast.items() for a in g.values()) > 5000  # the runs are not silent


def test_cuda_products_equal_the_cpu_ones() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    for name, prog in _programs():
        got, states, _ = _run(prog)
        c_got, c_states, c_sim = _run(prog, "cuda")
        assert any(m.tensor is not None and m.tensor.is_cuda for m in _matrices(c_sim)), name
        for pop in got:
            assert np.array_equal(got[pop], c_got[pop]), (name, pop)
        for pop in states:
            for var in states[pop]:
                assert np.array_equal(states[pop][var], c_states[pop][var]), (name, pop, var)
