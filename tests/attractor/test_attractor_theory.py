"""The bounds of neurohop.cam.attractor.theory against hand computation."""

from __future__ import annotations

import math

import pytest

from neurohop.cam.attractor import theory
from neurohop.errors import InputError


def test_willshaw_bound_by_hand() -> None:
    n, k, c = 1024, 10, 5
    p_star = (1 / (n - k)) ** (1 / c)
    m = math.log(1 - p_star) / math.log(1 - k * k / (n * n))
    assert theory.m_max_willshaw(n, k, c) == pytest.approx(m, rel=1e-12)
    assert m == pytest.approx(3023.29, abs=0.01)
    # at M_max exactly one false unit is expected
    assert theory.false_units(n, k, m, c) == pytest.approx(1.0, rel=1e-9)
    assert theory.p1(n, k, m) == pytest.approx(p_star, rel=1e-9)
    assert theory.p1(n, k, 0) == 0.0


def test_hopfield_and_bits_per_synapse() -> None:
    assert theory.hopfield_limit(1000) == pytest.approx(138.0)
    bits = math.log2(math.comb(256, 8))
    assert theory.pattern_bits(256, 8) == pytest.approx(bits, rel=1e-12)
    assert theory.bits_per_synapse(256, 8, 100) == pytest.approx(100 * bits / (256 * 255), rel=1e-12)
    assert theory.bits_per_synapse(256, 8, 100, synapses=1000) == pytest.approx(100 * bits / 1000, rel=1e-12)


def test_correct_bits() -> None:
    assert theory.correct_bits(10, 0.5) == 5
    assert theory.correct_bits(10, 1.0) == 10
    assert theory.correct_bits(10, 0.01) == 1
    for bad in (0.0, -0.5, 1.5, float("nan"), "half"):
        with pytest.raises(InputError, match=r"cue fraction: expected a number in \(0, 1\]"):
            theory.correct_bits(10, bad)  # type: ignore[arg-type]


def test_bad_axes() -> None:
    with pytest.raises(InputError, match="k: expected an integer in 1..9"):
        theory.m_max_willshaw(10, 10, 1)
    with pytest.raises(InputError, match="c: expected an integer in 1..4"):
        theory.m_max_willshaw(100, 4, 5)
