"""Connectors, receptors and plasticity rules of the backend-neutral description.

Weights are in nA and are magnitudes (>= 0); the receptor gives the sign, as in PyNN.
Delays are whole timesteps >= 1: a spike emitted at step t over a delay d arrives at t + d.

A connector is a rule, not a list: :meth:`Connector.check` and :meth:`Connector.estimate`
work from the sizes of the two sides alone, and only :meth:`Connector.pairs` (called when a
backend builds) lists the synapses.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar, Iterator

import numpy as np

from neurohop.errors import ModelError
from neurohop.model.distributions import seed_value

__all__ = [
    "Connector",
    "OneToOne",
    "AllToAll",
    "FromList",
    "FixedProbability",
    "STDP",
    "PlasticityRule",
    "RECEPTORS",
    "CONNECTORS",
    "CONNECTOR_TYPES",
    "PLASTICITY_RULES",
    "parse_connector",
    "connector_keys",
]

#: Receptor names and the sign they give to a weight.
RECEPTORS: dict[str, int] = {"excitatory": 1, "inhibitory": -1}


@dataclass(frozen=True)
class Connector(ABC):
    """Base of the connection rules; ``kind`` is the name used in model files."""

    kind: ClassVar[str] = ""
    #: Keys of the model-file form besides ``kind``.
    spec_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Connector":
        """Build from the model-file form (a mapping with ``kind``)."""
        return cls()

    @abstractmethod
    def pairs(self, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the (pre, post) index arrays of every synapse, in a fixed order."""

    def count(self, n_pre: int, n_post: int) -> int:
        """Number of synapses between sides of the given sizes."""
        return int(self.pairs(n_pre, n_post)[0].size)

    def check(self, n_pre: int, n_post: int) -> None:
        """Raise :class:`~neurohop.errors.ModelError` if the rule cannot join sides of these
        sizes. The connectors of this module check from the sizes alone (no pair is listed)."""
        self.pairs(n_pre, n_post)

    def estimate(self, n_pre: int, n_post: int) -> int:
        """Number of synapses, or for a random rule its expected number, from the sizes alone
        (used for memory checks before anything is allocated)."""
        return self.count(n_pre, n_post)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class OneToOne(Connector):
    """Neuron i of the pre side to neuron i of the post side (sides of equal size)."""

    kind: ClassVar[str] = "one_to_one"

    def pairs(self, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
        self.check(n_pre, n_post)
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx.copy()

    def check(self, n_pre: int, n_post: int) -> None:
        if n_pre != n_post:
            raise ModelError(f"one_to_one: pre and post sides must have equal size (got {n_pre} and {n_post})")

    def count(self, n_pre: int, n_post: int) -> int:
        self.check(n_pre, n_post)
        return int(n_pre)


@dataclass(frozen=True)
class AllToAll(Connector):
    """Every pre neuron to every post neuron; optionally without i -> i (same-size sides)."""

    kind: ClassVar[str] = "all_to_all"
    spec_keys: ClassVar[tuple[str, ...]] = ("allow_self_connections",)
    allow_self_connections: bool = True

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "AllToAll":
        return cls(bool(spec.get("allow_self_connections", True)) and spec["kind"] != "all_to_all_without_self")

    def pairs(self, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        pre, post = pre.ravel().astype(np.int64), post.ravel().astype(np.int64)
        if not self.allow_self_connections:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post

    def count(self, n_pre: int, n_post: int) -> int:
        if self.allow_self_connections:
            return n_pre * n_post
        return n_pre * n_post - min(n_pre, n_post)

    def check(self, n_pre: int, n_post: int) -> None:
        """Any sizes can be joined."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "all_to_all" if self.allow_self_connections else "all_to_all_without_self"}


@dataclass(frozen=True, eq=False)
class FromList(Connector):
    """An explicit list of (pre, post) index pairs.

    Per-synapse weights and delays, if any, go in the projection's ``weight`` and
    ``delay`` as arrays of the same length as ``pairs``.
    """

    kind: ClassVar[str] = "from_list"
    spec_keys: ClassVar[tuple[str, ...]] = ("pairs",)
    pre_indices: np.ndarray = None  # type: ignore[assignment]
    post_indices: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        try:
            pre = np.asarray(self.pre_indices, dtype=np.int64).reshape(-1)
            post = np.asarray(self.post_indices, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise ModelError("from_list: expected integer index lists for pre and post") from None
        if pre.shape != post.shape:
            raise ModelError(f"from_list: pre and post index lists differ in length ({pre.size} vs {post.size})")
        pre.flags.writeable = False
        post.flags.writeable = False
        object.__setattr__(self, "pre_indices", pre)
        object.__setattr__(self, "post_indices", post)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "FromList":
        if "pairs" not in spec:
            raise ModelError("connector from_list: missing field 'pairs' (a list of [pre, post])")
        return cls.from_pairs(spec["pairs"])

    @classmethod
    def from_pairs(cls, pairs: Any) -> "FromList":
        arr = np.asarray(pairs, dtype=np.int64)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ModelError(f"from_list: expected a list of [pre, post] pairs (got shape {arr.shape})")
        return cls(arr[:, 0], arr[:, 1])

    def pairs(self, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
        self.check(n_pre, n_post)
        return self.pre_indices.copy(), self.post_indices.copy()

    def check(self, n_pre: int, n_post: int) -> None:
        if self.pre_indices.size:
            if self.pre_indices.min() < 0 or self.pre_indices.max() >= n_pre:
                raise ModelError(f"from_list: pre index out of range 0..{n_pre - 1} (got {self.pre_indices.min()}..{self.pre_indices.max()})")
            if self.post_indices.min() < 0 or self.post_indices.max() >= n_post:
                raise ModelError(f"from_list: post index out of range 0..{n_post - 1} (got {self.post_indices.min()}..{self.post_indices.max()})")

    def count(self, n_pre: int, n_post: int) -> int:
        self.check(n_pre, n_post)
        return int(self.pre_indices.size)

    def estimate(self, n_pre: int, n_post: int) -> int:
        return int(self.pre_indices.size)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "pairs": np.stack([self.pre_indices, self.post_indices], axis=1).tolist()}


#: Pairs drawn per block by :class:`FixedProbability` (bounds its temporary memory).
_BLOCK_PAIRS = 1 << 20


def _fixed_probability_blocks(p: float, allow_self: bool, seed: int, n_pre: int, n_post: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pairs of :class:`FixedProbability`, a block of whole rows at a time (at most about
    :data:`_BLOCK_PAIRS` draws in memory at once)."""
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, _BLOCK_PAIRS // max(1, n_post))
    for r0 in range(0, n_pre, rows_per_block):
        r1 = min(n_pre, r0 + rows_per_block)
        hit = np.flatnonzero(rng.random((r1 - r0) * n_post) < p)
        pre, post = np.divmod(hit, n_post)
        pre += r0
        if not allow_self:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        yield pre.astype(np.int64), post.astype(np.int64)


@lru_cache(maxsize=64)
def _fixed_probability_count(p: float, allow_self: bool, seed: int, n_pre: int, n_post: int) -> int:
    """The number of pairs (drawn block by block, nothing kept; remembered for the latest rules)."""
    return sum(int(pre.size) for pre, _ in _fixed_probability_blocks(p, allow_self, seed, n_pre, n_post))


@dataclass(frozen=True)
class FixedProbability(Connector):
    """Each (pre, post) pair is joined independently with probability ``p``, drawn from ``seed``.

    The draw is part of the description: the same ``p``, ``seed`` and sizes give the same
    pairs on every call and every backend. Order and draw: pairs are visited row by row
    (pre ascending, then post ascending); pair ``(i, j)`` is joined when the
    ``(i * n_post + j)``-th number of ``numpy.random.default_rng(seed).random()`` is below
    ``p``. Without self-connections the pairs ``i == j`` (indices inside the projection's
    slices) are then left out, as for :class:`AllToAll`. Drawing takes time proportional to
    the pairs and memory proportional to the synapses (blocks of about 10^6 pairs at a time);
    :meth:`count` draws without keeping the pairs, :meth:`check` and :meth:`estimate` draw
    nothing. Files store ``p`` and ``seed``, never the pairs.

    Parameters
    ----------
    p : float
        Connection probability, 0 <= p <= 1.
    allow_self_connections : bool
        Keep the pairs ``i -> i``.
    seed : int
        Seed of the draw (an integer >= 0).
    """

    kind: ClassVar[str] = "fixed_probability"
    spec_keys: ClassVar[tuple[str, ...]] = ("p", "allow_self_connections", "seed")
    p: float
    allow_self_connections: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            p = float(self.p)
        except (TypeError, ValueError):
            raise ModelError(f"fixed_probability.p: expected a probability in [0, 1] (got {self.p!r})") from None
        if isinstance(self.p, bool) or not 0.0 <= p <= 1.0:
            raise ModelError(f"fixed_probability.p: expected a probability in [0, 1] (got {self.p!r})")
        object.__setattr__(self, "p", p)
        if not isinstance(self.allow_self_connections, (bool, np.bool_)):
            raise ModelError(f"fixed_probability.allow_self_connections: expected true or false (got {self.allow_self_connections!r})")
        object.__setattr__(self, "allow_self_connections", bool(self.allow_self_connections))
        object.__setattr__(self, "seed", seed_value(self.seed, "fixed_probability.seed"))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "FixedProbability":
        if "p" not in spec:
            raise ModelError("connector fixed_probability: missing field 'p' (the connection probability)")
        if "seed" not in spec:
            raise ModelError("connector fixed_probability: missing field 'seed' (an integer >= 0; the pairs are drawn from it)")
        return cls(spec["p"], spec.get("allow_self_connections", True), spec["seed"])

    def pairs(self, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
        blocks = list(_fixed_probability_blocks(self.p, self.allow_self_connections, self.seed, int(n_pre), int(n_post)))
        if not blocks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])

    def count(self, n_pre: int, n_post: int) -> int:
        return _fixed_probability_count(self.p, self.allow_self_connections, self.seed, int(n_pre), int(n_post))

    def check(self, n_pre: int, n_post: int) -> None:
        """Any sizes can be joined."""

    def estimate(self, n_pre: int, n_post: int) -> int:
        """The expected number of synapses, rounded up (nothing is drawn)."""
        pairs = n_pre * n_post - (0 if self.allow_self_connections else min(n_pre, n_post))
        return int(math.ceil(Fraction(repr(self.p)) * pairs))  # exact (p as written), whatever the sizes

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "p": self.p, "allow_self_connections": self.allow_self_connections, "seed": self.seed}


#: Connectors by the ``kind`` names accepted in model files (``all_to_all_without_self`` is
#: ``all_to_all`` with ``allow_self_connections: false``).
CONNECTOR_TYPES: dict[str, type[Connector]] = {
    "one_to_one": OneToOne,
    "all_to_all": AllToAll,
    "all_to_all_without_self": AllToAll,
    "from_list": FromList,
    "fixed_probability": FixedProbability,
}

#: Connector names accepted in model files.
CONNECTORS: tuple[str, ...] = tuple(CONNECTOR_TYPES)


def connector_keys() -> set[str]:
    """Every key a connector mapping may hold in a model file."""
    return {"kind"}.union(*(cls.spec_keys for cls in CONNECTOR_TYPES.values()))


def parse_connector(spec: Any) -> Connector:
    """Build a connector from its model-file form (a name or a mapping), through :data:`CONNECTOR_TYPES`."""
    if isinstance(spec, Connector):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ModelError(f"connector: expected a name or a mapping with 'kind' (got {spec!r})")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in CONNECTORS:
        raise ModelError(f"connector: unknown kind {kind!r}; supported: {', '.join(CONNECTORS)}")
    return CONNECTOR_TYPES[kind].from_spec(spec)


_parse_connector = parse_connector  # the name used inside neurohop.model


@dataclass(frozen=True)
class PlasticityRule:
    """Base of the plasticity rules; ``kind`` is the ``rule:`` name used in model files.

    A rule is a frozen dataclass whose fields are its parameters (numbers); its kernel is
    registered in :data:`neurohop.kernels.PLASTICITY_KERNELS`.
    """

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a plain dict (the form used in model files)."""
        return {"rule": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class STDP(PlasticityRule):
    """Additive pair-based STDP with all-to-all traces, as run on SpiNNaker (sPyNNaker).

    Semantics (shared by every backend; stated and tested in :mod:`neurohop.kernels.stdp`):
    a post spike emitted at step t is seen by the synapse at t + d (d = the projection's
    delay, the dendritic delay). A post spike seen at s potentiates by
    ``a_plus * x_pre(s)``, where x_pre sums ``exp(-(s - t_pre)/tau_plus)`` over earlier pre
    spikes (lag s - t_pre > 0 only). A pre spike at t depresses by ``a_minus * x_post(t)``,
    x_post summing ``exp(-(t - s)/tau_minus)`` over posts seen at s <= t (lag 0 counts at full
    strength). Weights are clipped to [w_min, w_max] after every event. The weight a pre
    spike delivers is the one after its own depression and all earlier potentiation.
    Trace decays are read from a table ``exp(-n/tau)`` for n = 0..``table_length - 1``
    ticks and are 0 beyond it, as on the hardware.

    Parameters
    ----------
    tau_plus, tau_minus : float
        Trace time constants, ms (> 0).
    a_plus, a_minus : float
        Absolute weight steps of potentiation / depression, nA (>= 0).
    w_min, w_max : float
        Weight bounds, nA, 0 <= w_min <= w_max.
    """

    kind: ClassVar[str] = "stdp"

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    a_plus: float = 0.01
    a_minus: float = 0.012
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_plus", "tau_minus"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ModelError(f"STDP.{name}: must be > 0 (got {getattr(self, name)!r})")
            object.__setattr__(self, name, value)
        for name in ("a_plus", "a_minus", "w_min", "w_max"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ModelError(f"STDP.{name}: must be a finite number >= 0 (got {getattr(self, name)!r})")
            object.__setattr__(self, name, value)
        if self.w_min > self.w_max:
            raise ModelError(f"STDP.w_min: must be <= w_max={self.w_max} (got {self.w_min})")

    def decay_table(self, tau: float, dt: float) -> np.ndarray:
        """``exp(-n dt / tau)`` for n = 0, 1, ... until it drops below 2**-40, then one 0.

        The final 0 is where lags beyond the table land (a backend clamps the index).
        """
        n = int(math.ceil(40 * math.log(2) * tau / dt)) + 1
        table = np.exp(-np.arange(n, dtype=np.float64) * dt / tau)
        return np.concatenate([table, [0.0]])


#: Plasticity rules by the ``rule:`` name used in model files.
PLASTICITY_RULES: dict[str, type[PlasticityRule]] = {cls.kind: cls for cls in (STDP,)}
