"""Integer helpers shared by the fixed-point targets (NumPy int64 arrays, no floats).

All functions take and return ``int64`` arrays (or Python ints) and model a narrower
machine word explicitly: :func:`wrap` for two's complement overflow, :func:`saturate` for
saturating words, and the three roundings used by the chips (round to nearest with ties
up, floor, toward zero). :class:`Events` counts how often a word overflowed, so that a
simulation can report it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

__all__ = ["wrap", "saturate", "round_shift", "floor_shift", "trunc_shift", "shift", "Events", "spike_sum", "as_int_matrix", "OrderedSaturatingSum"]


def wrap(x: Any, bits: int) -> Any:
    """Two's complement wrap-around of ``x`` into a signed ``bits``-bit word."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def saturate(x: Any, bits: int, signed: bool = True) -> Any:
    """Clamp ``x`` to a ``bits``-bit word (signed: symmetric two's complement range)."""
    if signed:
        return np.clip(x, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return np.clip(x, 0, (1 << bits) - 1)


def round_shift(x: Any, s: int) -> Any:
    """``x / 2^s`` rounded to nearest, ties toward +inf: ``(x + 2^(s-1)) >> s``."""
    if s <= 0:
        return x << -s
    return (x + (1 << (s - 1))) >> s


def floor_shift(x: Any, s: int) -> Any:
    """``floor(x / 2^s)``: arithmetic right shift."""
    return x >> s


def trunc_shift(x: Any, s: int) -> Any:
    """``x / 2^s`` rounded toward zero: ``sign(x) * (|x| >> s)``."""
    return np.sign(x) * (np.abs(x) >> s)


def shift(x: Any, exp: int) -> Any:
    """``x << exp`` for ``exp >= 0``, arithmetic ``x >> -exp`` (rounds down) otherwise."""
    return x << exp if exp >= 0 else x >> -exp


class Events(Counter):
    """Counts of overflow / saturation events by name (e.g. ``"ring_buffer_saturated"``)."""

    def note(self, name: str, before: Any, after: Any) -> Any:
        """Count the elements where ``after`` differs from ``before``; return ``after``."""
        changed = int(np.count_nonzero(np.asarray(before) != np.asarray(after)))
        if changed:
            self[name] += changed
        return after


def spike_sum(active: np.ndarray, matrix: Any) -> np.ndarray:
    """Sum the integer rows of ``matrix`` [pre, post] selected by boolean ``active`` [B, pre].

    Returns the exact int64 sums [B, post]. The product runs as a torch int64 matrix
    product (integer arithmetic, much faster than NumPy's integer matmul); ``matrix`` may be
    given already as an int64 torch tensor (see :func:`as_int_matrix`).
    """
    import torch

    mat = matrix if isinstance(matrix, torch.Tensor) else as_int_matrix(matrix)
    if not active.any():
        return np.zeros((active.shape[0], mat.shape[1]), dtype=np.int64)
    return (torch.from_numpy(np.ascontiguousarray(active, dtype=np.int64)) @ mat).numpy()


def as_int_matrix(matrix: np.ndarray) -> Any:
    """An int64 torch tensor (CPU) holding ``matrix``, for :func:`spike_sum`."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.int64))


class OrderedSaturatingSum:
    """Add weighted spike counts to a saturating word one pre neuron at a time, in index order.

    ``x <- sat(x + c[k] * matrix[k])`` for ``k = 0, 1, ...`` (per post column), the word
    saturating to ``bits`` after every addition, as a chip that walks its synapse list does.
    The additions of one pre neuron all have one sign, so adding its ``c[k]`` spikes one by
    one equals adding ``c[k] * matrix[k]`` once. Where no partial sum can leave the word
    (``x + positive part`` and ``x + negative part`` both in range) the result is the plain
    matrix product; only the other entries are walked in order.

    Parameters
    ----------
    matrix : int array [pre, post]
        Integer weights (already shifted).
    bits : int
        Signed word width.
    """

    def __init__(self, matrix: np.ndarray, bits: int) -> None:
        m = np.ascontiguousarray(matrix, dtype=np.int64)
        self.matrix = m
        self.lo, self.hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self._pos = as_int_matrix(np.maximum(m, 0))
        self._neg = as_int_matrix(np.minimum(m, 0))

    def __call__(self, x: np.ndarray, counts: np.ndarray, events: Events | None = None, name: str = "saturated") -> np.ndarray:
        """``x`` [B, post] after the ordered saturating additions of ``counts`` [B, pre]."""
        if not counts.any():
            return x
        pos = spike_sum(counts, self._pos)
        neg = spike_sum(counts, self._neg)
        out = x + pos + neg
        risky = (x + pos > self.hi) | (x + neg < self.lo)
        if risky.any():
            b, j = np.nonzero(risky)
            y = x[b, j].copy()
            clipped = np.zeros(y.shape, dtype=bool)
            cb = counts[b]
            for k in np.nonzero(cb.any(axis=0))[0]:
                raw = y + cb[:, k].astype(np.int64) * self.matrix[k, j]
                y = np.clip(raw, self.lo, self.hi)
                clipped |= raw != y
            out[b, j] = y
            if events is not None and clipped.any():
                events[name] += int(np.count_nonzero(clipped))
        return out
