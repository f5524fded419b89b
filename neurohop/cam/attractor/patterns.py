"""Sparse k-of-N patterns and cues for the attractor memory: drawn from an explicit random
generator, and checked (with errors naming the pattern and what was expected) when a user
passes them in. Also importable from :mod:`neurohop.cam.attractor` and its ``memory`` module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurohop.errors import InputError

__all__ = ["random_patterns", "make_cues", "as_patterns", "as_cues"]


def random_patterns(rng: np.random.Generator, m: int, n: int, k: int, chunk: int = 4096) -> np.ndarray:
    """``m`` random k-of-N patterns as sorted index rows ``[m, k]`` (int64), drawn from ``rng``."""
    out = np.empty((m, k), dtype=np.int64)
    for start in range(0, m, chunk):
        rows = min(chunk, m - start)
        out[start : start + rows] = np.sort(np.argpartition(rng.random((rows, n)), k - 1, axis=1)[:, :k], axis=1)
    return out


def make_cues(rng: np.random.Generator, patterns: np.ndarray, n: int, correct: int, false_bits: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cues of ``correct`` bits of each pattern plus ``false_bits`` cells outside it.

    Returns ``(cues, targets)``, both bool ``[B, N]``.
    """
    B, k = patterns.shape
    if not 1 <= correct <= k:
        raise InputError(f"make_cues: correct bits: expected 1..{k} (got {correct})")
    if not 0 <= false_bits <= n - k:
        raise InputError(f"make_cues: false bits: expected 0..{n - k} (got {false_bits})")
    targets = np.zeros((B, n), dtype=bool)
    np.put_along_axis(targets, patterns, True, axis=1)
    keep = np.argsort(rng.random((B, k)), axis=1)[:, :correct]
    cues = np.zeros((B, n), dtype=bool)
    np.put_along_axis(cues, np.take_along_axis(patterns, keep, axis=1), True, axis=1)
    if false_bits:
        score = rng.random((B, n))
        score[targets] = 2.0  # never pick a pattern cell
        extra = np.argpartition(score, false_bits - 1, axis=1)[:, :false_bits]
        np.put_along_axis(cues, extra, True, axis=1)
    return cues, targets


def as_patterns(patterns: Any, n: int, k: int, where: str = "store") -> np.ndarray:
    """Check patterns and return them as sorted index rows ``[M, k]``.

    Accepted: a 0/1 or boolean array ``[M, N]`` (or one pattern ``[N]``), or a sequence of
    index lists. Each must have exactly ``k`` distinct active cells out of ``N``.
    """
    if isinstance(patterns, np.ndarray) and patterns.dtype != object and patterns.ndim in (1, 2) and patterns.shape[-1] == n:
        arr = np.atleast_2d(patterns)  # binary vectors (index rows have k < N entries)
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            raise InputError(f"{where}: patterns: expected binary vectors of 0/1 values of length N={n}")
        arr = arr.astype(bool)
        counts = arr.sum(1)
        bad = np.flatnonzero(counts != k)
        if bad.size:
            raise InputError(f"{where}: pattern {int(bad[0])}: expected exactly k={k} active cells of N={n} (got {int(counts[bad[0]])})")
        return np.sort(np.argsort(~arr, axis=1, kind="stable")[:, :k], axis=1).astype(np.int64)
    if isinstance(patterns, np.ndarray) and patterns.ndim == 2 and patterns.shape[1] != k:
        raise InputError(f"{where}: patterns: expected binary vectors of length N={n} or index rows of k={k} cells (got shape {list(patterns.shape)})")
    try:
        rows = [np.asarray(p) for p in patterns]
    except TypeError:
        raise InputError(f"{where}: patterns: expected a [M, N] binary array or a list of index lists (got {type(patterns).__name__})") from None
    out = np.empty((len(rows), k), dtype=np.int64)
    for i, row in enumerate(rows):
        if row.ndim != 1 or (row.size and not np.issubdtype(row.dtype, np.integer)):
            raise InputError(f"{where}: pattern {i}: expected a list of cell indices or a binary vector of length N={n} (got {row.tolist()!r:.80})")
        if row.size == n and n != k and np.isin(row, (0, 1)).all():
            raise InputError(f"{where}: pattern {i}: a binary vector among index lists; pass all patterns in one form")
        if np.unique(row).size != row.size:
            raise InputError(f"{where}: pattern {i}: repeated cell indices (got {sorted(row.tolist())})")
        if row.size != k:
            raise InputError(f"{where}: pattern {i}: expected exactly k={k} active cells of N={n} (got {row.size})")
        if row.min() < 0 or row.max() >= n:
            raise InputError(f"{where}: pattern {i}: cell indices must be in 0..{n - 1} (got {row.min()}..{row.max()})")
        out[i] = np.sort(row)
    return out


def as_cues(cues: Any, n: int) -> np.ndarray:
    """Cues as a boolean ``[B, N]`` array (from binary vectors or index lists)."""
    if isinstance(cues, np.ndarray) and cues.dtype != object and cues.ndim in (1, 2) and cues.shape[-1] == n and (cues.dtype == bool or np.isin(cues, (0, 1)).all()):
        return np.atleast_2d(cues).astype(bool)
    try:
        rows = [np.asarray(c) for c in cues]
    except TypeError:
        raise InputError(f"recall: cues: expected a [B, N] binary array or a list of index lists (got {type(cues).__name__})") from None
    out = np.zeros((len(rows), n), dtype=bool)
    for i, row in enumerate(rows):
        if row.ndim != 1 or (row.size and not np.issubdtype(row.dtype, np.integer)):
            raise InputError(f"recall: cue {i}: expected a list of cell indices or a binary vector of length N={n}")
        if row.size and (row.min() < 0 or row.max() >= n):
            raise InputError(f"recall: cue {i}: cell indices must be in 0..{n - 1} (got {row.min()}..{row.max()})")
        out[i, row] = True
    return out
