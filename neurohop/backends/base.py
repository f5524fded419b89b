"""What every backend provides: the :class:`Simulation` interface, run results, input checks.

A backend is registered with :func:`register` under a name and a builder
``builder(net, **options) -> Simulation``. Builders look neuron models up in their own
table and raise :class:`~neurohop.errors.BuildError` naming the backend, the element and
what is supported when they meet something they cannot compile.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from neurohop.errors import BuildError, InputError
from neurohop.model.network import Network, Population

__all__ = ["RunResult", "Simulation", "register", "available", "build", "check_inputs", "spike_array", "neuron_order"]

_REGISTRY: dict[str, Callable[..., "Simulation"]] = {}
_FAMILIES: dict[str, Callable[..., "Simulation"]] = {}


def register(name: str, builder: Callable[..., "Simulation"], family: bool = False) -> None:
    """Register a backend builder under ``name``.

    With ``family=True``, ``name`` is a prefix: ``"NAME:VARIANT"`` calls
    ``builder(net, VARIANT, **options)`` (used for ``fixed:<hardware target>``).
    """
    (_FAMILIES if family else _REGISTRY)[name] = builder


def available() -> list[str]:
    """Names of the registered backends (families as ``NAME:<variant>``)."""
    return sorted(_REGISTRY) + sorted(f"{name}:<variant>" for name in _FAMILIES)


def build(net: Network, backend: str = "torch", **options: Any) -> "Simulation":
    """Compile ``net`` with the named backend (see :func:`neurohop.build`)."""
    if not isinstance(net, Network):
        raise BuildError(f"build: expected a neurohop Network (got {type(net).__name__})")
    if backend in _REGISTRY:
        return _REGISTRY[backend](net, **options)
    family, _, variant = str(backend).partition(":")
    if variant and family in _FAMILIES:
        return _FAMILIES[family](net, variant, **options)
    raise BuildError(f"build: unknown backend {backend!r}; available: {available()}")


@dataclass
class RunResult:
    """What one :meth:`Simulation.run` call recorded.

    Attributes
    ----------
    t_start : int
        Step index of the first recorded step (steps count from 0 at build time).
    steps : int
        Number of steps run.
    dt : float
        Timestep, ms.
    spikes : dict of str -> bool ndarray
        Per recorded population: ``[steps, n]``, or ``[steps, batch, n]`` for a batched run.
    states : dict of str -> dict of str -> ndarray
        Recorded state variables (after the step), same layout as ``spikes``.
    """

    t_start: int
    steps: int
    dt: float
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def spike_times(self, population: str, instance: int | None = None) -> list[list[int]]:
        """Absolute spike steps of each neuron of ``population`` (one list per neuron)."""
        if population not in self.spikes:
            raise InputError(f"RunResult: population {population!r} was not recorded; recorded: {sorted(self.spikes)}")
        arr = self.spikes[population]
        if arr.ndim == 3:
            if instance is None:
                raise InputError("RunResult.spike_times: a batched result needs instance=<index>")
            arr = arr[:, instance, :]
        return [(np.flatnonzero(arr[:, i]) + self.t_start).tolist() for i in range(arr.shape[1])]

    def count(self) -> int:
        """Total number of recorded spikes."""
        return int(sum(int(a.sum()) for a in self.spikes.values()))

    @staticmethod
    def concatenate(results: list["RunResult"]) -> "RunResult":
        """Join consecutive results of one simulation into one."""
        if not results:
            raise InputError("RunResult.concatenate: expected at least one result")
        first = results[0]
        out = RunResult(first.t_start, sum(r.steps for r in results), first.dt)
        for name in first.spikes:
            out.spikes[name] = np.concatenate([r.spikes[name] for r in results], axis=0)
        for name, variables in first.states.items():
            out.states[name] = {v: np.concatenate([r.states[name][v] for r in results], axis=0) for v in variables}
        return out


def spike_array(times: Any, steps: int, size: int, t_start: int = 0) -> np.ndarray:
    """Turn per-neuron lists of spike steps into a boolean ``[steps, size]`` array.

    Steps outside ``[t_start, t_start + steps)`` are ignored.
    """
    out = np.zeros((steps, size), dtype=bool)
    if len(times) != size:
        raise InputError(f"spike_array: expected {size} spike trains (got {len(times)})")
    for i, train in enumerate(times):
        for t in train:
            k = int(t) - t_start
            if 0 <= k < steps:
                out[k, i] = True
    return out


def check_inputs(net: Network, inputs: Mapping[str, Any] | None, steps: int, batch: int | None) -> dict[str, np.ndarray]:
    """Validate run-time input spikes and return them as boolean ``[steps, batch or 1, n]`` arrays.

    Raises
    ------
    InputError
        For an unknown or non-source population, a wrong shape, or non-binary values.
    """
    out: dict[str, np.ndarray] = {}
    if not inputs:
        return out
    if not isinstance(inputs, Mapping):
        raise InputError(f"run: inputs must map source population names to spike arrays (got {type(inputs).__name__})")
    sources = {p.name: p for p in net.sources}
    for name, value in inputs.items():
        if name not in sources:
            raise InputError(f"run: inputs[{name!r}]: not a spike-source population; sources: {sorted(sources)}")
        n = sources[name].size
        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        if arr.dtype != bool:
            if arr.size and not np.all((arr == 0) | (arr == 1)):
                bad = arr[(arr != 0) & (arr != 1)].flat[0]
                raise InputError(f"run: inputs[{name!r}]: expected spikes as 0/1 or booleans (got the value {bad!r})")
            arr = arr.astype(bool)
        want_b = 1 if batch is None else batch
        if arr.ndim == 2 and arr.shape == (steps, n):
            arr = np.broadcast_to(arr[:, None, :], (steps, want_b, n))
        elif arr.ndim == 3 and batch is not None and arr.shape == (steps, batch, n):
            pass
        else:
            shape = f"[{steps}, {n}]" + (f" or [{steps}, {batch}, {n}]" if batch is not None else "")
            raise InputError(f"run: inputs[{name!r}]: expected shape {shape} (got {list(arr.shape)})")
        out[name] = np.ascontiguousarray(arr)
    return out


def neuron_order(net: Network) -> list[list[Population]]:
    """Simulated populations grouped by neuron model, in order of first appearance.

    Raises :class:`BuildError` for a model without a kernel.
    """
    from neurohop.kernels import NEURON_KERNELS

    groups: dict[type, list[Population]] = {}
    for pop in net.neurons:
        if type(pop.model) not in NEURON_KERNELS:
            raise BuildError(
                f"cannot build population {pop.name!r}: neuron model {type(pop.model).__name__} has no kernel; "
                f"supported: {[c.__name__ for c in NEURON_KERNELS]} and SpikeSource"
            )
        groups.setdefault(type(pop.model), []).append(pop)
    return list(groups.values())


class Simulation(abc.ABC):
    """A compiled network that can be advanced in time.

    Steps are counted from 0; :attr:`t` is the number of steps already run. Successive
    :meth:`run` calls continue where the previous one stopped.
    """

    backend: str = ""

    def __init__(self, net: Network, dt: float, batch: int | None) -> None:
        if not (isinstance(dt, (int, float)) and dt > 0):
            raise BuildError(f"{self.backend}: dt: must be a positive number of ms (got {dt!r})")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1):
            raise BuildError(f"{self.backend}: batch: expected None or an integer >= 1 (got {batch!r})")
        self.net = net
        self.dt = float(dt)
        self.batch = None if batch is None else int(batch)
        self.t = 0

    @abc.abstractmethod
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        """Advance ``steps`` timesteps, feeding ``inputs`` (source name -> ``[steps, n]`` spikes)."""

    @abc.abstractmethod
    def weights(self, projection: str) -> np.ndarray:
        """Current weights (nA) of a projection, one per synapse in the connector's order.

        ``[n_synapses]``, or ``[batch, n_synapses]`` for plastic weights of a batched run.
        """

    @abc.abstractmethod
    def state(self, population: str) -> dict[str, np.ndarray]:
        """Current state variables of a simulated population (for LIF: ``v``, ``i_e``, ``i_i``)."""

    @abc.abstractmethod
    def snapshot(self) -> Any:
        """Capture the complete simulation state (time, neurons, synapses, queued spikes)."""

    @abc.abstractmethod
    def restore(self, snapshot: Any) -> None:
        """Return to a state captured by :meth:`snapshot` of this same simulation."""

    def _check_steps(self, steps: int) -> int:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise InputError(f"run: steps: expected an integer >= 0 (got {steps!r})")
        return int(steps)

    def _fixed_source_spikes(self, name: str, steps: int) -> np.ndarray | None:
        """Spikes of a source's fixed ``times`` inside the coming window, or None."""
        pop = self.net.population(name)
        if not pop.model.times:
            return None
        return spike_array(pop.model.times, steps, pop.size, t_start=self.t)
