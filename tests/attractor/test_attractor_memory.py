"""AttractorMemory: completion at low load, quality figures, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from neurohop.cam import AttractorMemory
from neurohop.cam.attractor import as_patterns, make_cues, random_patterns
from neurohop.errors import BuildError, CapacityError, InputError, NeurohopError

N, K = 64, 5


@pytest.fixture(scope="module")
def memory() -> AttractorMemory:
    mem = AttractorMemory(N, K)
    mem.store(random_patterns(np.random.default_rng(0), 20, N, K))
    return mem


def test_completes_patterns_from_half_cues_at_low_load(memory: AttractorMemory) -> None:
    rng = np.random.default_rng(1)
    cues, targets = make_cues(rng, memory.patterns, N, 3)
    res = memory.recall(cues, targets)
    assert res.mean_missing == 0 and res.mean_false == 0 and res.mean_overlap == 1.0
    assert res.sets == [tuple(p.tolist()) for p in memory.patterns]


def test_targets_default_to_the_best_matching_stored_pattern(memory: AttractorMemory) -> None:
    cue = [memory.patterns[7][:3].tolist()]
    res = memory.recall(cue)
    assert res.sets == [tuple(memory.patterns[7].tolist())]
    assert res.targets[0].sum() == K and res.errors.tolist() == [0]


def test_quality_figures_count_missing_and_false_bits() -> None:
    from neurohop.cam.attractor import RecallResult

    recalled = np.array([[1, 1, 0, 1, 0]], dtype=bool)
    target = np.array([[1, 1, 1, 0, 0]], dtype=bool)
    res = RecallResult.judge(recalled, target)
    assert res.missing.tolist() == [1] and res.false.tolist() == [1]
    assert res.overlap[0] == pytest.approx(2 / 3)


def test_patterns_in_both_forms_store_the_same_matrix() -> None:
    rows = random_patterns(np.random.default_rng(2), 5, N, K)
    binary = np.zeros((5, N), dtype=np.int64)
    np.put_along_axis(binary, rows, 1, axis=1)
    assert np.array_equal(as_patterns(binary, N, K), rows)
    assert np.array_equal(as_patterns(rows.tolist(), N, K), rows)


@pytest.mark.parametrize(
    "patterns,match",
    [
        (np.zeros((2, N + 1), dtype=bool), r"store: patterns: expected binary vectors of length N=64 or index rows of k=5 cells \(got shape \[2, 65\]\)"),
        ([[0, 1, 2, 3]], r"store: pattern 0: expected exactly k=5 active cells of N=64 \(got 4\)"),
        (np.eye(N, dtype=bool)[:2], r"store: pattern 0: expected exactly k=5 active cells of N=64 \(got 1\)"),
        ([[0, 1, 2, 3, 64]], r"store: pattern 0: cell indices must be in 0..63 \(got 0..64\)"),
        ([[0, 1, 2, 3, 3]], r"store: pattern 0: repeated cell indices"),
        (np.full((1, N), 2), r"store: patterns: expected binary vectors of 0/1 values of length N=64"),
        ([[0.5, 1, 2, 3, 4]], r"store: pattern 0: expected a list of cell indices"),
        (7, r"store: patterns: expected a \[M, N\] binary array or a list of index lists \(got int\)"),
    ],
)
def test_bad_patterns_are_named_and_store_nothing(patterns: object, match: str) -> None:
    mem = AttractorMemory(N, K)
    before = mem.weights()
    with pytest.raises(InputError, match=match):
        mem.store(patterns)
    assert mem.stored == 0 and np.array_equal(mem.weights(), before)


def test_more_patterns_than_memory_allows() -> None:
    mem = AttractorMemory(N, K, max_memory_bytes=1_000_000)
    with pytest.raises(CapacityError, match=r"store: 100000 more patterns \(k=5, N=64\) need about .* GiB with the 0 stored, but .* GiB are available on cpu"):
        mem.store(random_patterns(np.random.default_rng(0), 100_000, N, K))
    assert mem.stored == 0
    with pytest.raises(CapacityError, match=r"AttractorMemory: n=100000: the network needs about .* GiB on torch_event cpu but 1 GiB are available; use a smaller n"):
        AttractorMemory(100_000, 10, max_memory_bytes=2**30)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"n": 64, "k": 64}, InputError, r"AttractorMemory: k: expected 1 <= k < n=64 active cells per pattern \(got 64\)"),
        ({"n": 1, "k": 1}, InputError, r"AttractorMemory: n: expected at least 2 cells \(got 1\)"),
        ({"n": 64, "k": 2.5}, InputError, r"AttractorMemory: k: expected an integer \(got 2.5\)"),
        ({"n": 64, "k": 4, "backend": "nest"}, BuildError, r"AttractorMemory: build: unknown backend 'nest'; available: \['brian2', 'torch', 'torch_event', 'fixed:<variant>'\]"),
        ({"n": 64, "k": 4, "engine": "sparse"}, BuildError, r"torch_event: unknown option 'engine'; accepted: \['dt', 'device', 'batch', 'dtype', 'learning', 'compiled', 'seed'\]"),
        ({"n": 64, "k": 4, "backend": "brian2", "device": "cuda"}, BuildError, r"brian2: device: expected one of \['cpu'\] \(got 'cuda'\)"),
        ({"n": 64, "k": 4, "backend": "brian2", "dtype": "float32"}, BuildError, r"brian2: unknown option 'dtype'"),
        ({"n": 64, "k": 4, "backend": "fixed:loihi"}, BuildError, r"AttractorMemory: backend 'fixed:loihi' does not run STDP"),
        ({"n": 64, "k": 4, "device": "cuda:7"}, BuildError, r"torch"),
    ],
)
def test_bad_construction(kwargs: dict, error: type, match: str) -> None:
    import torch

    if kwargs.get("device") == "cuda:7":  # one past the last device: never available
        kwargs = {**kwargs, "device": f"cuda:{torch.cuda.device_count()}"}
    with pytest.raises(error, match=match):
        AttractorMemory(**kwargs)


def test_bad_cues(memory: AttractorMemory) -> None:
    with pytest.raises(InputError, match=r"recall: cue 0: cell indices must be in 0..63 \(got 0..99\)"):
        memory.recall([[0, 99]])
    with pytest.raises(InputError, match=r"recall: targets: expected one target per cue"):
        memory.recall([[0, 1]], targets=[[0, 1], [2, 3]])
    with pytest.raises(InputError, match=r"make_cues: false bits: expected 0..59 \(got 60\)"):
        make_cues(np.random.default_rng(0), memory.patterns, N, 2, 60)
    with pytest.raises(InputError, match=r"make_cues: correct bits: expected 1..5 \(got 0\)"):
        make_cues(np.random.default_rng(0), memory.patterns, N, 0)
    with pytest.raises(InputError, match="nothing is stored yet"):
        AttractorMemory(N, K).recall([[0, 1]])


def test_snapshot_and_restore(memory: AttractorMemory) -> None:
    snap = memory.snapshot()
    w = memory.weights()
    memory.store(random_patterns(np.random.default_rng(9), 3, N, K))
    assert memory.stored == 23
    memory.restore(snap)
    assert memory.stored == 20 and np.array_equal(memory.weights(), w)


def test_errors_are_neurohop_errors() -> None:
    assert issubclass(CapacityError, NeurohopError) and issubclass(CapacityError, ValueError)
