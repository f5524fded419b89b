"""Seeded random distributions for per-neuron values of the description.

A :class:`Distribution` stands for an array: a population resolves it, once, to one value per
neuron (:attr:`neurohop.model.Population.parameters` and :attr:`~neurohop.model.Population.initial`
take it where they take an array). The draw belongs to the description, so every backend
and target of one network sees the same array.

The draw of ``n`` values, with ``g = numpy.random.default_rng(seed)``:

* ``uniform [low, high]``: ``low + (high - low) * g.random(n)``;
* ``normal [mean, std]``: ``mean + std * g.standard_normal(n)``;
* ``normal_clipped [mean, std, low, high]``: as ``normal``; then the values outside
  ``[low, high]`` are drawn again, in neuron order, from the same generator, until none is
  left (PyNN's ``normal_clipped``);
* ``exponential [scale]``: ``scale * g.standard_exponential(n)``.

The same seed and size give the same array on every call and every backend (for one NumPy
release: NumPy documents that a ``Generator``'s streams are stable except for bug fixes).
Model files write ``{uniform: [low, high], seed: 3}``; the arguments and the seed may be
expressions in the file's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neurohop.errors import ModelError

__all__ = ["Distribution", "DISTRIBUTIONS", "is_distribution_spec", "per_neuron_values"]

#: Distribution names and the meaning of their arguments.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "normal_clipped": ("mean", "std", "low", "high"),
    "exponential": ("scale",),
}

#: Rounds of redrawing after which ``normal_clipped`` gives up (a range far in a tail).
_MAX_REDRAWS = 1000


def seed_value(seed: Any, where: str) -> int:
    """A seed of a description as an int >= 0 (a whole float such as a model file's ``3.0``
    counts); :class:`~neurohop.errors.ModelError` naming ``where`` otherwise."""
    value = int(seed) if isinstance(seed, float) and seed.is_integer() else seed
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ModelError(f"{where}: expected an integer >= 0 (got {seed!r})")
    return int(value)


@dataclass(frozen=True)
class Distribution:
    """A seeded distribution (see the module for the draw).

    Parameters
    ----------
    kind : str
        One of :data:`DISTRIBUTIONS`.
    args : tuple of float
        The arguments in the order of :data:`DISTRIBUTIONS` (units of the value they give).
    seed : int
        Seed of the draw, an integer >= 0.
    """

    kind: str
    args: tuple[float, ...]
    seed: int

    def __post_init__(self) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise ModelError(f"distribution: unknown kind {self.kind!r}; supported: {', '.join(DISTRIBUTIONS)}")
        names = DISTRIBUTIONS[self.kind]
        where = f"distribution {self.kind}"
        args = self.args if isinstance(self.args, (list, tuple, np.ndarray)) else (self.args,)
        if len(args) != len(names):
            raise ModelError(f"{where}: expected {len(names)} arguments [{', '.join(names)}] (got {list(args)!r})")
        values = []
        for name, value in zip(names, args):
            if isinstance(value, bool):
                raise ModelError(f"{where}.{name}: expected a finite number (got {value!r})")
            try:
                out = float(value)
            except (TypeError, ValueError):
                raise ModelError(f"{where}.{name}: expected a finite number (got {value!r})") from None
            if not math.isfinite(out):
                raise ModelError(f"{where}.{name}: expected a finite number (got {value!r})")
            values.append(out)
        got = dict(zip(names, values))
        if self.kind == "uniform" and not got["low"] <= got["high"]:
            raise ModelError(f"{where}: expected low <= high (got [{got['low']}, {got['high']}])")
        if self.kind in ("normal", "normal_clipped") and got["std"] < 0:
            raise ModelError(f"{where}.std: must be >= 0 (got {got['std']})")
        if self.kind == "normal_clipped" and not got["low"] <= got["high"]:
            raise ModelError(f"{where}: expected low <= high (got [{got['low']}, {got['high']}])")
        if self.kind == "normal_clipped" and got["std"] == 0 and not got["low"] <= got["mean"] <= got["high"]:
            raise ModelError(f"{where}: with std 0 the mean must lie in [low, high] (got mean {got['mean']}, [{got['low']}, {got['high']}])")
        if self.kind == "exponential" and got["scale"] <= 0:
            raise ModelError(f"{where}.scale: must be > 0 (got {got['scale']})")
        object.__setattr__(self, "args", tuple(values))
        object.__setattr__(self, "seed", seed_value(self.seed, f"{where}.seed"))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "Distribution":
        """Build from the file form ``{kind: [args...], seed: s}``."""
        kinds = [k for k in spec if k in DISTRIBUTIONS]
        extra = [k for k in spec if k not in DISTRIBUTIONS and k != "seed"]
        if len(kinds) != 1 or extra:
            raise ModelError(
                f"distribution: expected one of {', '.join(DISTRIBUTIONS)} with its arguments and a 'seed' "
                f"(e.g. {{uniform: [-65, -55], seed: 1}}) (got keys {sorted(map(str, spec))})"
            )
        if "seed" not in spec:
            raise ModelError(f"distribution {kinds[0]}: missing 'seed' (an integer >= 0; the values are drawn from it)")
        return cls(kinds[0], spec[kinds[0]], spec["seed"])

    def to_dict(self) -> dict[str, Any]:
        """The file form."""
        return {self.kind: list(self.args), "seed": self.seed}

    def sample(self, n: int) -> np.ndarray:
        """The ``n`` values (float64), drawn as the module states."""
        g = np.random.default_rng(self.seed)
        a = self.args
        if self.kind == "uniform":
            return a[0] + (a[1] - a[0]) * g.random(n)
        if self.kind == "exponential":
            return a[0] * g.standard_exponential(n)
        out = a[0] + a[1] * g.standard_normal(n)
        if self.kind == "normal_clipped":
            for _ in range(_MAX_REDRAWS):
                bad = np.flatnonzero((out < a[2]) | (out > a[3]))
                if bad.size == 0:
                    break
                out[bad] = a[0] + a[1] * g.standard_normal(bad.size)
            else:
                raise ModelError(f"distribution normal_clipped: [{a[2]}, {a[3]}] is too far in the tails of normal({a[0]}, {a[1]}) to draw from")
        return out


def is_distribution_spec(value: Any) -> bool:
    """True for a :class:`Distribution` or its file form (a mapping naming a distribution)."""
    return isinstance(value, Distribution) or (isinstance(value, Mapping) and any(k in DISTRIBUTIONS for k in value))


def per_neuron_values(value: Any, size: int, where: str) -> Any:
    """``value`` with a distribution (object or file form) resolved to ``size`` values; any
    other value is returned as given. Errors name ``where``."""
    if not is_distribution_spec(value) and not (isinstance(value, Mapping)):
        return value
    try:
        dist = value if isinstance(value, Distribution) else Distribution.from_spec(value)
        return dist.sample(size)
    except ModelError as exc:
        raise ModelError(f"{where}: {exc}") from None
