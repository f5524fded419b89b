"""Populations, projections and the network: the backend-neutral description.

A :class:`Network` is plain, immutable data validated on construction. Backends compile
it (``neurohop.build(net, backend=...)``); nothing here imports torch or brian2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

from neurohop.errors import ModelError
from neurohop.model.distributions import per_neuron_values
from neurohop.model.neurons import NEURON_MODELS, STATE_VARIABLES, NeuronModel, SpikeSource
from neurohop.model.synapses import RECEPTORS, AllToAll, Connector, PlasticityRule

__all__ = ["Population", "PopRef", "Projection", "Network", "RECORDABLE", "INITIAL", "recordable", "initial_variables"]


def recordable(model: NeuronModel) -> tuple[str, ...]:
    """What a population of ``model`` may record: ``"spikes"``, plus the state variables its
    kernel registered (:data:`~neurohop.model.neurons.STATE_VARIABLES`, the floating-point
    fields of the kernel's state type)."""
    return ("spikes",) + STATE_VARIABLES.get(type(model), ())


def initial_variables(model: NeuronModel) -> tuple[str, ...]:
    """State variables whose initial value a population may give per neuron: those the model
    has an initial-value parameter ``<name>_init`` for (``v_init`` -> ``"v"``)."""
    return tuple(f.name[: -len("_init")] for f in fields(model) if f.name.endswith("_init"))


class _ByKind(Mapping[str, tuple[str, ...]]):
    """A read-only table by model kind (``NEURON_MODELS``), computed from one of the functions above."""

    def __init__(self, of_model: Any) -> None:
        self._of = of_model

    def __getitem__(self, kind: str) -> tuple[str, ...]:
        return self._of(NEURON_MODELS[kind]())  # every model has defaults

    def __iter__(self) -> Any:
        return iter(NEURON_MODELS)

    def __len__(self) -> int:
        return len(NEURON_MODELS)


#: Variables a population may record, per neuron model kind (from the kernels' state types, see :func:`recordable`).
RECORDABLE: Mapping[str, tuple[str, ...]] = _ByKind(recordable)

#: State variables whose initial value a population may give per neuron, per neuron model kind.
INITIAL: Mapping[str, tuple[str, ...]] = _ByKind(initial_variables)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\s*(-?\d*)\s*:\s*(-?\d*)\s*\])?\s*$")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelError(f"{kind} name: expected an identifier (letters, digits, _) (got {name!r})")


@dataclass(frozen=True)
class Population:
    """A group of identical neurons (or input channels).

    Parameters
    ----------
    name : str
        Identifier, unique within the network.
    size : int
        Number of neurons, >= 1.
    model : NeuronModel
        The cell model (:class:`~neurohop.model.neurons.LIF` or
        :class:`~neurohop.model.neurons.SpikeSource`) and its parameters.
    record : tuple of str
        What to record: ``"spikes"`` and, for LIF, ``"v"`` (mV), ``"i_e"``, ``"i_i"`` (nA).
    initial : mapping of str -> array or Distribution
        Optional per-neuron initial values of state variables (``"v"``, mV), one per neuron;
        they replace the model's ``v_init`` for this population.
    parameters : mapping of str -> array or Distribution
        Optional per-neuron values of numeric model parameters (for LIF e.g. ``"tau_m"``, ms,
        or ``"i_offset"``, nA), one per neuron; they replace the model's value for this
        population. Each neuron's parameters are validated as a model of their own.

    A value of ``initial`` or ``parameters`` may be a seeded
    :class:`~neurohop.model.distributions.Distribution` (or its mapping form
    ``{"uniform": [low, high], "seed": 1}``): it is drawn here, once, to one value per
    neuron, so every backend sees the same array.
    """

    name: str
    size: int
    model: NeuronModel
    record: tuple[str, ...] = ("spikes",)
    initial: Mapping[str, Any] = field(default_factory=dict, compare=False)
    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_name("population", self.name)
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ModelError(f"population {self.name!r}.size: expected an integer >= 1 (got {self.size!r})")
        object.__setattr__(self, "size", int(self.size))
        if not isinstance(self.model, NeuronModel):
            raise ModelError(f"population {self.name!r}.model: expected a neuron model (got {type(self.model).__name__})")
        record = (self.record,) if isinstance(self.record, str) else tuple(self.record)
        allowed = recordable(self.model)
        for var in record:
            if var not in allowed:
                raise ModelError(
                    f"population {self.name!r}.record: {var!r} is not recordable for model "
                    f"{self.model.kind!r}; expected one of {list(allowed)}"
                )
        object.__setattr__(self, "record", record)
        if not isinstance(self.initial, Mapping):
            raise ModelError(f"population {self.name!r}.initial: expected a mapping of state variable -> per-neuron values (got {type(self.initial).__name__})")
        initial: dict[str, np.ndarray] = {}
        for var, values in self.initial.items():
            if var not in initial_variables(self.model):
                raise ModelError(
                    f"population {self.name!r}.initial: {var!r} has no per-neuron initial value for model "
                    f"{self.model.kind!r}; expected one of {list(initial_variables(self.model))}"
                )
            values = per_neuron_values(values, self.size, f"population {self.name!r}.initial[{var!r}]")
            try:
                arr = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise ModelError(f"population {self.name!r}.initial[{var!r}]: expected numbers (got {values!r})") from None
            if arr.shape != (self.size,) or not np.all(np.isfinite(arr)):
                raise ModelError(
                    f"population {self.name!r}.initial[{var!r}]: expected {self.size} finite values, one per neuron (got shape {list(arr.shape)})"
                )
            initial[var] = _as_readonly(arr)
        object.__setattr__(self, "initial", MappingProxyType(initial))
        self._check_parameters()
        if isinstance(self.model, SpikeSource) and self.model.times and len(self.model.times) != self.size:
            raise ModelError(
                f"population {self.name!r}.times: expected {self.size} spike trains, one per channel "
                f"(got {len(self.model.times)})"
            )

    def _check_parameters(self) -> None:
        where = f"population {self.name!r}.parameters"
        if not isinstance(self.parameters, Mapping):
            raise ModelError(f"{where}: expected a mapping of parameter -> per-neuron values (got {type(self.parameters).__name__})")
        numeric = [f.name for f in fields(self.model) if f.name != "v_init" and isinstance(getattr(self.model, f.name), float)]
        values: dict[str, np.ndarray] = {}
        for name, given in self.parameters.items():
            if name not in numeric:
                raise ModelError(f"{where}: {name!r} cannot be given per neuron for model {self.model.kind!r}; expected one of {numeric}"
                                 + (" (initial values go in 'initial')" if name == "v_init" else ""))
            given = per_neuron_values(given, self.size, f"{where}[{name!r}]")
            try:
                arr = np.asarray(given, dtype=np.float64)
            except (TypeError, ValueError):
                raise ModelError(f"{where}[{name!r}]: expected numbers (got {given!r})") from None
            if arr.shape != (self.size,):
                raise ModelError(f"{where}[{name!r}]: expected {self.size} values, one per neuron (got shape {list(arr.shape)})")
            values[name] = _as_readonly(arr)
        object.__setattr__(self, "parameters", MappingProxyType(values))
        if not values:
            object.__setattr__(self, "_models", None)  # one model: the index is built on demand
            return
        names = list(values)
        table = np.stack([values[n] for n in names], axis=1)
        rows, index = np.unique(table, axis=0, return_inverse=True)
        models = []
        for row in rows:
            try:
                models.append(replace(self.model, **dict(zip(names, row.tolist()))))
            except ModelError as exc:
                raise ModelError(f"{where}: a neuron's parameters are invalid: {exc}") from None
        object.__setattr__(self, "_models", (tuple(models), index.reshape(-1).astype(np.int64)))

    def neuron_models(self) -> tuple[tuple[NeuronModel, ...], np.ndarray]:
        """The distinct models of this population's neurons (the model with the per-neuron
        ``parameters`` put in) and, for each neuron, the index of its model."""
        if self._models is None:  # type: ignore[attr-defined]
            return (self.model,), np.zeros(self.size, dtype=np.int64)
        return self._models  # type: ignore[attr-defined]

    @property
    def is_source(self) -> bool:
        """True for spike-source populations (inputs)."""
        return isinstance(self.model, SpikeSource)


@dataclass(frozen=True)
class PopRef:
    """A contiguous slice ``[start:stop]`` of a population, written ``"name[start:stop]"``."""

    population: str
    start: int = 0
    stop: int | None = None

    @classmethod
    def parse(cls, ref: "str | PopRef") -> "PopRef":
        """Parse ``"name"`` or ``"name[a:b]"`` (empty bounds mean the ends)."""
        if isinstance(ref, PopRef):
            return ref
        if not isinstance(ref, str):
            raise ModelError(f"population reference: expected 'name' or 'name[a:b]' (got {ref!r})")
        match = _REF.match(ref)
        if not match:
            raise ModelError(f"population reference: expected 'name' or 'name[a:b]' (got {ref!r})")
        name, a, b = match.groups()
        return cls(name, int(a) if a else 0, int(b) if b else None)

    def resolve(self, size: int) -> tuple[int, int]:
        """Return absolute (start, stop) for a population of ``size`` neurons."""
        start = self.start + size if self.start < 0 else self.start
        stop = size if self.stop is None else (self.stop + size if self.stop < 0 else self.stop)
        if not 0 <= start < stop <= size:
            raise ModelError(f"population reference {self}: slice out of range for a population of {size} (got [{start}:{stop}])")
        return start, stop

    def __str__(self) -> str:
        if self.start == 0 and self.stop is None:
            return self.population
        return f"{self.population}[{self.start}:{'' if self.stop is None else self.stop}]"


def _as_readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from a pre slice to a post slice.

    Parameters
    ----------
    name : str
        Identifier, unique within the network.
    pre, post : PopRef or str
        Source and target (``"pop"`` or ``"pop[a:b]"``); the target must not be a spike source.
    connector : Connector
        The connection rule.
    weight : float or array
        Magnitude in nA (>= 0): a scalar, an array with one entry per synapse in the
        connector's order, or for all-to-all a matrix ``[n_pre, n_post]`` (its diagonal is
        ignored without self-connections). With plasticity it is the initial weight.
    delay : int or array of int
        Delay in timesteps (>= 1); an array gives one per synapse. Plastic projections take a
        single delay (it is also the dendritic delay of the rule).
    receptor : str
        ``"excitatory"`` or ``"inhibitory"``.
    plasticity : PlasticityRule or None
        Optional plasticity rule (one of :data:`~neurohop.model.synapses.PLASTICITY_RULES`).
    """

    name: str
    pre: PopRef
    post: PopRef
    connector: Connector
    weight: Any = 0.0
    delay: Any = 1
    receptor: str = "excitatory"
    plasticity: PlasticityRule | None = None

    def __post_init__(self) -> None:
        _check_name("projection", self.name)
        where = f"projection {self.name!r}"
        object.__setattr__(self, "pre", PopRef.parse(self.pre))
        object.__setattr__(self, "post", PopRef.parse(self.post))
        if not isinstance(self.connector, Connector):
            raise ModelError(f"{where}.connector: expected a connector (got {self.connector!r})")
        if self.receptor not in RECEPTORS:
            raise ModelError(f"{where}.receptor: expected one of {list(RECEPTORS)} (got {self.receptor!r})")
        if self.plasticity is not None and not isinstance(self.plasticity, PlasticityRule):
            raise ModelError(f"{where}.plasticity: expected a plasticity rule (STDP) or None (got {self.plasticity!r})")
        weight = np.asarray(self.weight, dtype=np.float64) if not np.isscalar(self.weight) else self.weight
        if np.isscalar(weight):
            try:
                weight = float(weight)
            except (TypeError, ValueError):
                raise ModelError(f"{where}.weight: expected a number or an array of numbers (got {self.weight!r})") from None
            bad = not np.isfinite(weight) or weight < 0
        else:
            weight = _as_readonly(weight)
            bad = weight.size > 0 and (not np.all(np.isfinite(weight)) or weight.min() < 0)
        if bad:
            raise ModelError(f"{where}.weight: expected finite magnitudes >= 0 nA (the receptor gives the sign) (got {self.weight!r})")
        object.__setattr__(self, "weight", weight)
        if np.isscalar(self.delay):
            delay = self.delay
            if isinstance(delay, bool) or not float(delay).is_integer() or delay < 1:
                raise ModelError(f"{where}.delay: expected a whole number of timesteps >= 1 (got {self.delay!r})")
            object.__setattr__(self, "delay", int(delay))
        else:
            if self.plasticity is not None:
                raise ModelError(f"{where}.delay: a plastic projection takes one delay for all synapses (got an array)")
            delay = np.asarray(self.delay)
            if delay.size and (not np.all(np.mod(delay, 1) == 0) or delay.min() < 1):
                raise ModelError(f"{where}.delay: expected whole numbers of timesteps >= 1 (got {self.delay!r})")
            object.__setattr__(self, "delay", _as_readonly(delay.astype(np.int64)))

    @property
    def sign(self) -> int:
        """+1 for excitatory, -1 for inhibitory."""
        return RECEPTORS[self.receptor]

    def synapses(self, sizes: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Expand into per-synapse arrays.

        Returns
        -------
        pre, post : ndarray of int64
            Indices inside the pre / post *populations* (slice offsets added).
        weight : ndarray of float64
            Magnitudes, nA.
        delay : ndarray of int64
            Delays, timesteps.
        """
        pre, post, weight, delay = self.local_synapses(sizes)
        a0, _ = self.pre.resolve(sizes[self.pre.population])
        b0, _ = self.post.resolve(sizes[self.post.population])
        return pre + a0, post + b0, weight, delay

    def check(self, sizes: Mapping[str, int]) -> None:
        """Check the connector against the slice sizes and the weight / delay shapes against
        the number of synapses, without listing the synapses where the connector can count
        them from the sizes (all-to-all, one-to-one, an explicit list; a random connector is
        drawn only when an array gives one weight or delay per synapse)."""
        where = f"projection {self.name!r}"
        a0, a1 = self.pre.resolve(sizes[self.pre.population])
        b0, b1 = self.post.resolve(sizes[self.post.population])
        n_pre, n_post = a1 - a0, b1 - b0
        self.connector.check(n_pre, n_post)
        if not np.isscalar(self.weight):
            if self.weight.ndim == 2 and isinstance(self.connector, AllToAll):
                if self.weight.shape != (n_pre, n_post):
                    raise ModelError(f"{where}.weight: expected a [{n_pre}, {n_post}] matrix (got {list(self.weight.shape)})")
            else:
                n = self.connector.count(n_pre, n_post)
                if self.weight.shape != (n,):
                    raise ModelError(f"{where}.weight: expected a scalar or {n} values, one per synapse (got shape {list(self.weight.shape)})")
        if not np.isscalar(self.delay):
            n = self.connector.count(n_pre, n_post)
            if self.delay.shape != (n,):
                raise ModelError(f"{where}.delay: expected a scalar or {n} values, one per synapse (got shape {list(self.delay.shape)})")

    def local_synapses(self, sizes: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`synapses`, with ``pre``/``post`` indices inside the projection's pre / post
        *slices* (the coordinates of its ``[pre, post]`` weight block)."""
        where = f"projection {self.name!r}"
        a0, a1 = self.pre.resolve(sizes[self.pre.population])
        b0, b1 = self.post.resolve(sizes[self.post.population])
        n_pre, n_post = a1 - a0, b1 - b0
        pre, post = self.connector.pairs(n_pre, n_post)
        n = pre.size
        if np.isscalar(self.weight):
            weight = np.full(n, self.weight, dtype=np.float64)
        elif self.weight.ndim == 2 and isinstance(self.connector, AllToAll):
            if self.weight.shape != (n_pre, n_post):
                raise ModelError(f"{where}.weight: expected a [{n_pre}, {n_post}] matrix (got {list(self.weight.shape)})")
            weight = self.weight[pre, post].astype(np.float64)
        else:
            if self.weight.shape != (n,):
                raise ModelError(f"{where}.weight: expected a scalar or {n} values, one per synapse (got shape {list(self.weight.shape)})")
            weight = np.array(self.weight, dtype=np.float64)
        if np.isscalar(self.delay):
            delay = np.full(n, self.delay, dtype=np.int64)
        else:
            if self.delay.shape != (n,):
                raise ModelError(f"{where}.delay: expected a scalar or {n} values, one per synapse (got shape {list(self.delay.shape)})")
            delay = np.array(self.delay, dtype=np.int64)
        return pre, post, weight, delay

    def max_delay(self) -> int:
        return int(self.delay) if np.isscalar(self.delay) else int(self.delay.max(initial=1))


@dataclass(frozen=True, eq=False)
class Network:
    """A network: populations (including spike sources) and projections.

    Parameters
    ----------
    populations : sequence of Population
    projections : sequence of Projection
    name : str
    metadata : mapping
        Free-form provenance (model file, parameters); carried through save/load.
    """

    populations: tuple[Population, ...]
    projections: tuple[Projection, ...] = ()
    name: str = "network"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "projections", tuple(self.projections))
        if not self.populations:
            raise ModelError(f"network {self.name!r}: expected at least one population")
        seen: set[str] = set()
        for pop in self.populations:
            if not isinstance(pop, Population):
                raise ModelError(f"network {self.name!r}.populations: expected Population objects (got {type(pop).__name__})")
            if pop.name in seen:
                raise ModelError(f"network {self.name!r}: population name {pop.name!r} is used twice")
            seen.add(pop.name)
        sizes = self.sizes
        pnames: set[str] = set()
        for proj in self.projections:
            if not isinstance(proj, Projection):
                raise ModelError(f"network {self.name!r}.projections: expected Projection objects (got {type(proj).__name__})")
            if proj.name in pnames or proj.name in seen:
                raise ModelError(f"network {self.name!r}: name {proj.name!r} is used twice")
            pnames.add(proj.name)
            for side, ref in (("pre", proj.pre), ("post", proj.post)):
                if ref.population not in sizes:
                    raise ModelError(
                        f"projection {proj.name!r}.{side}: unknown population {ref.population!r}; "
                        f"known: {sorted(sizes)}"
                    )
                ref.resolve(sizes[ref.population])
            if self.population(proj.post.population).is_source:
                raise ModelError(f"projection {proj.name!r}.post: {proj.post.population!r} is a spike source and cannot receive synapses")
            proj.check(sizes)  # connector sizes, weight and delay shapes, from the sizes where possible

    @property
    def sizes(self) -> dict[str, int]:
        """Population sizes by name."""
        return {p.name: p.size for p in self.populations}

    def population(self, name: str) -> Population:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise ModelError(f"network {self.name!r}: no population named {name!r}; known: {[p.name for p in self.populations]}")

    def projection(self, name: str) -> Projection:
        for proj in self.projections:
            if proj.name == name:
                return proj
        raise ModelError(f"network {self.name!r}: no projection named {name!r}; known: {[p.name for p in self.projections]}")

    @property
    def sources(self) -> tuple[Population, ...]:
        return tuple(p for p in self.populations if p.is_source)

    @property
    def neurons(self) -> tuple[Population, ...]:
        return tuple(p for p in self.populations if not p.is_source)

    def count_neurons(self, include_sources: bool = False) -> int:
        return sum(p.size for p in self.populations if include_sources or not p.is_source)

    def count_synapses(self, plastic_only: bool = False) -> int:
        sizes = self.sizes
        total = 0
        for proj in self.projections:
            if plastic_only and proj.plasticity is None:
                continue
            a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
            b0, b1 = proj.post.resolve(sizes[proj.post.population])
            total += proj.connector.count(a1 - a0, b1 - b0)
        return total

    def with_updates(self, *, populations: Iterable[Population] | None = None, projections: Iterable[Projection] | None = None, **kw: Any) -> "Network":
        """Return a copy with some fields replaced (the result is validated again)."""
        return Network(
            populations=tuple(populations) if populations is not None else self.populations,
            projections=tuple(projections) if projections is not None else self.projections,
            name=kw.get("name", self.name),
            metadata=kw.get("metadata", self.metadata),
        )
