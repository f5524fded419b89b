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

__all__ = ["wrap", "saturate", "round_shift", "floor_shift", "trunc_shift", "shift", "Events", "spike_sum", "as_int_matrix", "IntMatrix", "FLOAT64_EXACT", "FLOAT32_EXACT", "OrderedSaturatingSum"]


def wrap(x: Any, bits: int) -> Any:
    """Two's complement wrap-around of ``x`` into a signed ``bits``-bit word."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def saturate(x: Any, bits: int, signed: bool = True) -> Any:
    """Clamp ``x`` to a ``bits``-bit word (signed: symmetric two's complement range)."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.minimum(np.maximum(x, lo), hi)


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


#: Integers up to this magnitude are exact in float64 (53-bit significand).
FLOAT64_EXACT = 2**53
#: Integers up to this magnitude are exact in float32 (24-bit significand).
FLOAT32_EXACT = 2**24


class IntMatrix:
    """An integer matrix ``[pre, post]`` prepared for exact products with spike counts.

    Checked once when built: if ``max_count * max_j sum_k |matrix[k, j]|`` is below
    :data:`FLOAT64_EXACT`, every product and partial sum of ``counts @ matrix`` (counts in
    ``0..max_count``, in any summation order) is an integer below ``2^53``, so the product
    runs exactly in float64: NumPy's BLAS on the CPU, torch on CUDA (where torch has no
    int64 product); on the CPU, where the bound is also below :data:`FLOAT32_EXACT`, in
    float32 (the same argument with a 24-bit significand; half the memory traffic).
    Otherwise it runs in int64 on the CPU (torch's integer matrix product).

    Parameters
    ----------
    matrix : int array [pre, post]
    max_count : int
        Largest count one pre neuron delivers in a product (1 for boolean spikes).
    device : str or torch.device
        Where the products run (``"cpu"``, ``"cuda"``); int64 products stay on the CPU.
    exact_float : bool, optional
        Force the float64 path (True) or the int64 path (False); refused (ValueError) when
        True but the bound does not hold. None: decide from the bound.
    """

    def __init__(self, matrix: np.ndarray, max_count: int = 1, device: Any = "cpu", exact_float: bool | None = None) -> None:
        import torch

        m = np.ascontiguousarray(matrix, dtype=np.int64)
        self.shape = m.shape
        # summed in float64 so that the bound itself cannot overflow; the relative error of
        # that sum (below pre * 2^-53) is covered by the margin
        self.bound = float(max_count) * float(np.abs(m).sum(axis=0, dtype=np.float64).max(initial=0.0))
        fits = self.bound * (1.0 + 1e-6) < FLOAT64_EXACT
        if exact_float and not fits:
            raise ValueError(f"IntMatrix: exact_float: the partial sums can reach {self.bound:.6g}, beyond 2^53 (float64 would not be exact)")
        self.exact_float = fits if exact_float is None else bool(exact_float)
        self.device = torch.device(device) if self.exact_float else torch.device("cpu")
        if self.exact_float and self.device.type == "cpu":
            # NumPy's BLAS: far less overhead per call than torch for the small products of a
            # step; float32 where its 24-bit significand holds every partial sum (CUDA keeps
            # float64: a TF32 setting would make float32 products inexact there)
            self.dtype: Any = np.float32 if self.bound * (1.0 + 1e-6) < min(FLOAT32_EXACT, FLOAT64_EXACT) else np.float64
            self.array: np.ndarray | None = m.astype(self.dtype)
            self.tensor = None
        else:
            self.dtype = np.float64 if self.exact_float else np.int64
            self.array = None
            self.tensor = torch.from_numpy(m.astype(np.float64) if self.exact_float else m).to(self.device)

    def product(self, counts: np.ndarray) -> np.ndarray:
        """``counts [B, pre] @ matrix`` as exact int64 NumPy ``[B, post]``."""
        if self.array is not None:
            return (counts.astype(self.dtype) @ self.array).astype(np.int64)
        import torch

        if self.exact_float:
            c = torch.from_numpy(np.ascontiguousarray(counts, dtype=np.float64)).to(self.device)
            return (c @ self.tensor).cpu().numpy().astype(np.int64)
        return (torch.from_numpy(np.ascontiguousarray(counts, dtype=np.int64)) @ self.tensor).numpy()


def spike_sum(active: np.ndarray, matrix: Any) -> np.ndarray:
    """Sum the integer rows of ``matrix`` [pre, post] weighted by ``active`` [B, pre].

    ``active`` is boolean (spikes) or small integer counts. Returns the exact int64 sums
    [B, post]. ``matrix`` is an :class:`IntMatrix` (built once per network, see
    :func:`as_int_matrix`) or a NumPy integer array (prepared on each call).
    """
    mat = matrix if isinstance(matrix, IntMatrix) else as_int_matrix(np.asarray(matrix), int(np.max(active, initial=1)))
    if not active.any():
        return np.zeros((active.shape[0], mat.shape[1]), dtype=np.int64)
    return mat.product(active)


def as_int_matrix(matrix: np.ndarray, max_count: int = 1, device: Any = "cpu") -> IntMatrix:
    """``matrix`` prepared for :func:`spike_sum` (see :class:`IntMatrix`)."""
    return IntMatrix(matrix, max_count, device)


def _compose_clamps(s1: np.ndarray, l1: np.ndarray, h1: np.ndarray, s2: np.ndarray, l2: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x -> clamp(x + s, l, h)`` maps: the map "first 1, then 2" in the same form."""
    return s1 + s2, np.clip(l1 + s2, l2, h2), np.clip(h1 + s2, l2, h2)


class OrderedSaturatingSum:
    """Add weighted spike counts to a saturating word one pre neuron at a time, in index order.

    ``x <- sat(x + c[k] * matrix[k])`` for ``k = 0, 1, ...`` (per post column), the word
    saturating to ``bits`` after every addition, as a chip that walks its synapse list does.
    The additions of one pre neuron all have one sign, so adding its ``c[k]`` spikes one by
    one equals adding ``c[k] * matrix[k]`` once.

    The pre axis is cut into ``blocks`` (consecutive row ranges, e.g. one per pre
    population). Where a block's additions onto a post neuron all have one sign, the
    saturations inside it cannot be undone, so the block adds its sum (one matrix product
    for all blocks) and saturates once. Where they have both signs, the walk over the
    block's active rows is computed exactly from its prefix sums: clamped at one bound only
    it is a one-sided reflection (a running maximum); where it meets both bounds, each
    addition is the map ``x -> clamp(x + a, lo, hi)``, two such maps compose into one of the
    same form, and the maps reduce pairwise in order.

    Parameters
    ----------
    matrix : int array [pre, post]
        Integer weights (already shifted).
    bits : int
        Signed word width.
    max_count : int
        Largest count one pre neuron delivers in a step (bounds the exact products).
    device : str
        Where the products run (see :class:`IntMatrix`).
    blocks : list of (start, stop), optional
        Consecutive row ranges covering ``0..pre`` (default: one block).
    """

    def __init__(self, matrix: np.ndarray, bits: int, max_count: int = 1, device: Any = "cpu", blocks: list[tuple[int, int]] | None = None) -> None:
        m = np.ascontiguousarray(matrix, dtype=np.int64)
        self.matrix = m
        self.lo, self.hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self.blocks = [(0, m.shape[0])] if blocks is None else [(int(a), int(b)) for a, b in blocks]
        if [a for a, _ in self.blocks[1:]] != [b for _, b in self.blocks[:-1]] or self.blocks[0][0] != 0 or self.blocks[-1][1] != m.shape[0]:
            raise ValueError(f"OrderedSaturatingSum: blocks: expected consecutive ranges covering 0..{m.shape[0]} (got {self.blocks})")
        # per block, its sum (one sign per column: that is all the block needs) or, where a
        # column receives both signs, its positive and its negative part, side by side: one
        # product gives all
        parts = []
        #: per block: does any post column receive weights of both signs from it?
        self._mixed = []
        #: per block: the column ranges of its parts in the product (one, or two if mixed)
        self._cols: list[tuple[int, int, int]] = []
        n = m.shape[1]
        at = 0
        for a, b in self.blocks:
            rows = np.zeros_like(m)
            rows[a:b] = m[a:b]
            mixed = bool(((m[a:b] > 0).any(axis=0) & (m[a:b] < 0).any(axis=0)).any())
            self._mixed.append(mixed)
            if mixed:
                parts += [np.maximum(rows, 0), np.minimum(rows, 0)]
                self._cols.append((at, at + n, at + 2 * n))
                at += 2 * n
            else:
                parts.append(rows)
                self._cols.append((at, at + n, at + n))
                at += n
        #: the integer matrix of the parts [pre, parts * post] (one product gives them all)
        self.parts_matrix = np.concatenate(parts, axis=1)
        self._parts = IntMatrix(self.parts_matrix, max_count, device)

    def _walk(self, x: np.ndarray, terms: np.ndarray) -> np.ndarray:
        """``x`` [m] after ``x <- clamp(x + terms[:, k], lo, hi)`` for k in order (exact)."""
        path = x[:, None] + np.cumsum(terms, axis=1)
        # a walk clamped at one bound only (Skorokhod's one-sided reflection) is exact where
        # it never reaches the other bound
        upper = path - np.maximum.accumulate(np.maximum(path - self.hi, 0), axis=1)
        lower = path + np.maximum.accumulate(np.maximum(self.lo - path, 0), axis=1)
        use_upper = upper.min(axis=1) >= self.lo
        use_lower = lower.max(axis=1) <= self.hi
        y = np.where(use_upper, upper[:, -1], lower[:, -1])
        both = ~(use_upper | use_lower)
        if both.any():
            # clamped at both bounds: compose the maps x -> clamp(x + a, lo, hi) pairwise
            # (two such maps compose into one), padded to a power of two with identities
            t = terms[both]
            width = 1 << max(t.shape[1] - 1, 0).bit_length()
            shift = np.zeros((t.shape[0], width), np.int64)
            shift[:, : t.shape[1]] = t
            low = np.full(shift.shape, self.lo, np.int64)
            high = np.full(shift.shape, self.hi, np.int64)
            while shift.shape[1] > 1:
                shift, low, high = _compose_clamps(shift[:, 0::2], low[:, 0::2], high[:, 0::2], shift[:, 1::2], low[:, 1::2], high[:, 1::2])
            y[both] = np.clip(x[both] + shift[:, 0], low[:, 0], high[:, 0])
        return y

    def __call__(self, x: np.ndarray, counts: np.ndarray, events: Events | None = None, name: str = "saturated") -> np.ndarray:
        """``x`` [B, post] after the ordered saturating additions of ``counts`` [B, pre]."""
        if not counts.any():
            return x
        return self.add_parts(x, self._parts.product(counts), counts, events, name)

    def add_parts(self, x: np.ndarray, parts: np.ndarray, counts: np.ndarray, events: Events | None = None, name: str = "saturated") -> np.ndarray:
        """As :meth:`__call__`, given ``parts = counts @ parts_matrix`` computed by the caller
        (for example one product for several sums over the same counts)."""
        y = x
        clipped = 0
        for i, (a, b) in enumerate(self.blocks):
            c0, c1, c2 = self._cols[i]
            start = y
            if self._mixed[i]:
                pos, neg = parts[:, c0:c1], parts[:, c1:c2]
                raw = start + pos + neg
            else:
                raw = start + parts[:, c0:c1]
            y = np.minimum(np.maximum(raw, self.lo), self.hi)
            # (with one sign per column, adding the block's sum and saturating once is exact)
            if self._mixed[i]:
                # both signs in the block and a partial sum that may leave the word: walk in order
                risky = (pos != 0) & (neg != 0) & ((start + pos > self.hi) | (start + neg < self.lo))
                if risky.any():
                    bi, j = np.nonzero(risky)
                    cb = counts[bi, a:b]
                    ks = np.nonzero(cb.any(axis=0))[0]
                    y[bi, j] = self._walk(start[bi, j], cb[:, ks].astype(np.int64) * self.matrix[a + ks][:, j].T)
            if events is not None:
                clipped += int(np.count_nonzero(y != raw))
        if events is not None and clipped:
            events[name] += clipped
        return y
