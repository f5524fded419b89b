"""Capacity bounds the attractor memory is measured against.

Willshaw's one-step bound for a binary clipped matrix storing M random k-of-N patterns,
recalled from a cue of c correct bits with the threshold equal to c:

* fraction of potentiated synapses ``p1 = 1 - (1 - k^2/N^2)^M``;
* expected false units ``(N - k) * p1^c`` (a non-pattern unit fires when it is wired to all
  c cue cells);
* ``M_max = ln(1 - p1*) / ln(1 - k^2/N^2)`` with ``p1* = (eps / (N - k))^(1/c)``, the load
  at which ``eps`` false units are expected (``eps = 1``).

The classical Hopfield limit for dense +-1 patterns is ``0.138 N``. Bits per synapse count
the information of the stored patterns, ``M log2 C(N, k)``, over the recurrent synapses.
"""

from __future__ import annotations

import math

from neurohop.errors import InputError

__all__ = ["correct_bits", "p1", "false_units", "m_max_willshaw", "hopfield_limit", "pattern_bits", "bits_per_synapse", "HOPFIELD_ALPHA"]

#: Hopfield's critical load for dense +-1 patterns (Amit, Gutfreund & Sompolinsky 1985).
HOPFIELD_ALPHA = 0.138


def _check(n: int, k: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise InputError(f"theory: n: expected an integer >= 2 (got {n!r})")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise InputError(f"theory: k: expected an integer in 1..{n - 1} (got {k!r})")


def correct_bits(k: int, cue_fraction: float) -> int:
    """Number c of correct cue bits for a cue fraction: ``round(fraction * k)``, at least 1."""
    if not (isinstance(cue_fraction, (int, float)) and 0 < cue_fraction <= 1):
        raise InputError(f"cue fraction: expected a number in (0, 1] (got {cue_fraction!r})")
    return max(1, int(round(cue_fraction * k)))


def p1(n: int, k: int, m: float) -> float:
    """Expected fraction of potentiated synapses after storing ``m`` patterns."""
    _check(n, k)
    return 1.0 - (1.0 - (k / n) ** 2) ** m


def false_units(n: int, k: int, m: float, c: int) -> float:
    """Expected false units of one-step recall from ``c`` correct cue bits (threshold c)."""
    return (n - k) * p1(n, k, m) ** c


def m_max_willshaw(n: int, k: int, c: int, eps: float = 1.0) -> float:
    """Load at which ``eps`` false units are expected: ``ln(1 - p1*) / ln(1 - k^2/N^2)``."""
    _check(n, k)
    if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= k:
        raise InputError(f"theory: c: expected an integer in 1..{k} correct cue bits (got {c!r})")
    p_star = (eps / (n - k)) ** (1.0 / c)
    if p_star >= 1.0:
        return math.inf
    return math.log1p(-p_star) / math.log1p(-((k / n) ** 2))  # log1p: exact for tiny k/n (huge N)


def hopfield_limit(n: int) -> float:
    """The classical capacity 0.138 N of a Hopfield net with dense +-1 patterns."""
    return HOPFIELD_ALPHA * n


def pattern_bits(n: int, k: int) -> float:
    """Information of one random k-of-N pattern, ``log2 C(N, k)`` bits."""
    _check(n, k)
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def bits_per_synapse(n: int, k: int, m: float, synapses: int | None = None) -> float:
    """``m log2 C(N, k)`` over the number of recurrent synapses (default ``N (N - 1)``)."""
    return m * pattern_bits(n, k) / (n * (n - 1) if synapses is None else synapses)
