"""The content-addressable memory API on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from backend_support import require

import neurohop
from neurohop.cam import ContentAddressableMemory, Operation, bits_to_vector
from neurohop.cam.reference import ideal_answers, matches
from neurohop.cam.replay import replay
from neurohop.errors import InputError, ModelFileError
from neurohop.testing import random_operations


def demo_ops(K: int = 10) -> list[Operation]:
    b = lambda *bits: bits_to_vector(bits, K)  # noqa: E731
    return [
        Operation("learn", 0, b(0, 1, 8, 9), 0),
        Operation("learn", 4, b(1, 5, 6), 10),
        Operation("learn", 3, b(4, 5, 6), 20),
        Operation("recall_by_cue", 0, None, 30),
        Operation("recall_by_content", None, b(6), 40),
        Operation("recall_by_content", None, b(0, 4), 50),
        Operation("learn", 3, b(1, 3, 4, 8), 60),
        Operation("recall_by_cue", 3, None, 70),
        Operation("recall_by_content", None, b(6), 80),
    ]


def test_functional_test_answers(backend: tuple[str, dict]) -> None:
    """The demo schedule on every backend that runs the CAM's elements (LIF with STDP),
    integer targets included, through the same code path."""
    name, opts = backend
    require(name, "lif", "stdp")
    mem = ContentAddressableMemory(5, 10, backend=name, **opts)
    res = mem.run_schedule(demo_ops())
    assert res[3].content_bits == (0, 1, 8, 9)
    assert res[4].recalled_cues == (3, 4)
    assert res[5].recalled_cues == (0, 3)
    assert res[6].forgotten == (5, 6)  # re-learning cue 3 drops 5 and 6: they flash once
    assert res[7].content_bits == (1, 3, 4, 8)
    assert res[8].recalled_cues == (4,)
    assert all(matches(r, e) for r, e in zip(res, ideal_answers([r.operation for r in res], 10)))
    assert res[3].spikes.t_start == 30 and res[3].spikes.steps == 7


def test_operations_default_to_the_minimum_legal_spacing() -> None:
    mem = ContentAddressableMemory(3, 4)
    starts = []
    for op in (lambda: mem.learn(0, [1, 0, 1, 0]), lambda: mem.learn(1, [0, 1, 0, 0]), lambda: mem.recall_by_cue(0), lambda: mem.recall_by_content([1, 0, 0, 0]), lambda: mem.recall_by_cue(1)):
        starts.append(op().operation.at)
    assert starts == [0, 7, 14, 20, 26]
    assert mem.results[2].content_bits == (0, 2)
    assert mem.results[3].recalled_cues == (0,)
    spaced = ContentAddressableMemory(3, 4, extra_spacing=3)
    assert [spaced.learn(0, [1, 0, 0, 0]).operation.at, spaced.recall_by_cue(0).operation.at, spaced.recall_by_cue(0).operation.at] == [0, 10, 19]


@pytest.mark.slow  # Brian2 (numpy target) runs four random workloads: ~35 s
@pytest.mark.parametrize("seed", range(4))
def test_random_operation_sequences_identical_on_both_backends(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    C, K = int(rng.integers(2, 8)), int(rng.integers(3, 12))
    ops = random_operations(rng, C, K, 12)
    a = ContentAddressableMemory(C, K, backend="torch")
    b = ContentAddressableMemory(C, K, backend="brian2", target="numpy")
    ra, rb = a.run_schedule(ops), b.run_schedule(ops)
    for x, y in zip(ra, rb):
        assert (x.recalled_cues, x.recalled_content, x.forgotten) == (y.recalled_cues, y.recalled_content, y.forgotten)
    for pop, spikes in a.record().spikes.items():
        np.testing.assert_array_equal(spikes, b.record().spikes[pop], err_msg=pop)
    for proj in ("learn_cue_to_cont", "learn_cont_to_cue"):
        np.testing.assert_allclose(a.sim.weights(proj), b.sim.weights(proj), rtol=0, atol=1e-12)


def test_look_ahead_does_not_change_the_future() -> None:
    """Operations run one by one (with look-ahead and roll-back) equal one uninterrupted run."""
    rng = np.random.default_rng(5)
    ops = random_operations(rng, 4, 6, 10)
    mem = ContentAddressableMemory(4, 6)
    mem.run_schedule(ops)
    total = mem.record()
    sim = neurohop.build(mem.network, backend="torch")
    whole = sim.run(total.steps, {"input": total.spikes["input"]})
    for pop in total.spikes:
        np.testing.assert_array_equal(total.spikes[pop], whole.spikes[pop], err_msg=pop)


@pytest.mark.parametrize("seed", range(3))
def test_recall_is_exact_at_the_papers_spacing(seed: int) -> None:
    """Distinct memories learned 10 ms apart: recall by cue and by single bits are ideal."""
    rng = np.random.default_rng(seed)
    C, K = 6, 10
    mem = ContentAddressableMemory(C, K, extra_spacing=3)
    ops = []
    for cue in rng.permutation(C):
        vec = (rng.random(K) < 0.3).astype(int)
        vec[rng.integers(K)] = 1
        ops.append(Operation("learn", int(cue), tuple(vec.tolist())))
    ops += [Operation("recall_by_cue", c) for c in range(C)]
    ops += [Operation("recall_by_content", None, bits_to_vector([b], K)) for b in range(K)]
    res = mem.run_schedule(ops)
    expected = ideal_answers([r.operation for r in res], K)
    wrong = [(r.describe(), e) for r, e in zip(res, expected) if not matches(r, e)]
    assert not wrong


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.learn(0, [1, 0, 1]), r"content: expected a binary vector of width 4 \(got shape \[3\]\)"),
        (lambda m: m.learn(0, [1, 0, 2, 0]), r"content: expected only 0 and 1 \(got 2\)"),
        (lambda m: m.learn(0, "1010"), "content: expected a binary vector of 4 values"),
        (lambda m: m.learn(3, [1, 0, 0, 0]), r"learn: cue: expected an index in 0..2 \(got 3\)"),
        (lambda m: m.recall_by_cue(-1), r"recall_by_cue: cue: expected an index in 0..2 \(got -1\)"),
        (lambda m: m.recall_by_cue(1.0), r"recall_by_cue: cue: expected an index in 0..2 \(got 1.0\)"),
        (lambda m: m.recall_by_content([0, 0, 0, 0]), "fragment: expected at least one set bit"),
        (lambda m: m.recall_by_content([0.5, 0, 0, 0]), r"fragment: expected only 0 and 1 \(got 0.5\)"),
        (lambda m: m.recall_by_cue(0, at=3), r"the earliest step allowed after the previous operation is 7 \(got 3\)"),
    ],
)
def test_bad_operations_are_refused_without_side_effects(call, message: str) -> None:
    mem = ContentAddressableMemory(3, 4)
    mem.learn(1, [0, 1, 1, 0])
    t, n = mem.sim.t, len(mem.results)
    w = mem.sim.weights("learn_cue_to_cont").copy()
    with pytest.raises(InputError, match=message):
        call(mem)
    assert (mem.sim.t, len(mem.results)) == (t, n)
    np.testing.assert_array_equal(w, mem.sim.weights("learn_cue_to_cont"))
    assert mem.recall_by_cue(1).content_bits == (1, 2), "the memory still works after a refused operation"


def test_bad_construction() -> None:
    with pytest.raises(InputError, match="cue_size: expected an integer >= 1"):
        ContentAddressableMemory(0, 4)
    with pytest.raises(ModelFileError, match="model file not found"):
        ContentAddressableMemory(2, 4, model="nope")
    with pytest.raises(neurohop.errors.BuildError, match=r"ContentAddressableMemory: brian2: device: expected one of \['cpu'\] \(got 'cuda'\)"):
        ContentAddressableMemory(2, 4, backend="brian2", device="cuda")


def test_replay_reads_sizes_and_inputs_from_the_file(tmp_path: Path) -> None:
    """A recording in the same format with other C, K and T (made here by the torch backend)."""
    rng = np.random.default_rng(11)
    C, K = 7, 12
    mem = ContentAddressableMemory(C, K)
    mem.run_schedule(random_operations(rng, C, K, 14), until=None)
    rec = mem.record()
    trains = lambda pop, a, b: [list(map(int, np.flatnonzero(rec.spikes[pop][:, i]))) for i in range(a, b)]  # noqa: E731
    doc = {
        "cue_size": C, "content_size": K, "sim_time_ms": rec.steps, "timestep_ms": 1.0,
        "input": {"cue": trains("input", 0, C), "content": trains("input", C, C + K)},
        "recorded": {name: trains(name, 0, mem.network.population(name).size) for name in ("cue_cue_recall", "cont_cond", "cue_cont_recall", "merge_cont")},
    }
    doc["recorded"]["out_cue"] = trains("output", 0, C)
    doc["recorded"]["out_cont"] = trains("output", C, C + K)
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc))
    report = replay(path, backend="brian2", target="numpy")
    assert (report["cue_size"], report["content_size"], report["steps"]) == (C, K, rec.steps)
    assert report["compared_spikes"] > 50 and report["mismatches"] == 0
    first = next(i for i, t in enumerate(doc["recorded"]["out_cont"]) if t)
    doc["recorded"]["out_cont"][first] = doc["recorded"]["out_cont"][first][1:]
    path.write_text(json.dumps(doc))
    assert replay(path, backend="torch")["mismatches"] == 1


def test_recording_replays_with_zero_mismatches_on_every_backend(backend: tuple[str, dict], recording_path: Path) -> None:
    """The SpiNNaker recording, replayed through the same memory on every backend that runs
    the CAM's elements: every spike at its recorded step (the integer SpiNNaker simulator
    included, whose quantisation of this network is exact at these spike times)."""
    name, opts = backend
    require(name, "lif", "stdp")
    report = replay(recording_path, backend=name, **opts)
    assert (report["compared_spikes"], report["mismatches"], report["simulated_spikes"]) == (262, 0, 262), report["first_mismatches"]
