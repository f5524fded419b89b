"""What every backend provides: the :class:`Simulation` contract, its capabilities and
options, the registry, run results and input checks.

A backend is one :class:`Simulation` subclass, registered by its import path
(``register("torch", "neurohop.backends.torch.simulation:TorchSimulation")``) so that the
registry imports nothing until a backend is used. The class declares

* :attr:`Simulation.OPTIONS`: the options its builder accepts (name, type, default, doc);
  :func:`build` refuses any other option with a :class:`~neurohop.errors.BuildError` naming
  it and listing the accepted ones;
* its :class:`Capabilities` (:meth:`Simulation.declared_capabilities`): what a feature may
  ask of it. A feature asks ``sim.capabilities.X`` (or :func:`capabilities` before
  building), never for a backend's name; an operation a backend lacks raises a
  :class:`~neurohop.errors.BuildError` naming the backend and the capability.

Builders look neuron models up in their own table and raise
:class:`~neurohop.errors.BuildError` naming the backend, the element and what is
supported when they meet something they cannot compile.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from neurohop.errors import BuildError, InputError
from neurohop.model.network import Network, Population, Projection
from neurohop.model.synapses import CONNECTORS

__all__ = [
    "Capabilities",
    "Option",
    "RunResult",
    "Simulation",
    "register",
    "available",
    "build",
    "capabilities",
    "options",
    "simulation_class",
    "check_inputs",
    "spike_array",
    "neuron_order",
    "SEED_OPTION",
    "check_seed",
]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared once by its :class:`Simulation` class.

    Attributes
    ----------
    learning_switch : bool
        :meth:`Simulation.set_learning` switches plasticity on and off between runs.
    weights : bool
        :meth:`Simulation.weights` returns the current weights of every projection.
    weight_matrix : bool
        :meth:`Simulation.weight_matrix` reads a projection's ``[pre, post]`` matrix directly;
        otherwise the default method assembles it from :meth:`Simulation.weights` (same
        values, one pass over the synapses).
    batch : bool
        ``build(..., batch=B)`` runs B independent instances side by side.
    batched_frozen_recall : bool
        :meth:`Simulation.run_frozen` recalls B instances in one pass against the shared
        weights, without a copy of the network; otherwise it runs a frozen copy (the
        default method of :class:`Simulation`, batched when :attr:`batch` is true, else one
        instance after the other).
    snapshot : bool
        :meth:`Simulation.snapshot` / :meth:`Simulation.restore` capture and return to a state.
    plasticity : tuple of str
        Plasticity rules run during a simulation (``"stdp"``); empty when plastic
        projections are refused.
    neuron_models : tuple of str
        Neuron model kinds it simulates (``"lif"``, ``"cuba_lif"``).
    connectors : tuple of str
        Connector kinds it compiles (``"one_to_one"``, ``"all_to_all"``...).
    plastic_connectors : tuple of str
        Connector kinds a plastic projection may use.
    per_synapse_delays : bool
        A projection may give each synapse its own delay (else one delay per projection).
    per_neuron_parameters : bool
        Populations may give each neuron its own parameters and initial values
        (``Population.parameters`` / ``Population.initial``).
    topology : str
        ``"any"``, or ``"layered"``: sources feed hidden neurons, which feed each other and
        the output populations, with one weight per neuron pair and a delay of one step
        (a fixed core architecture such as Xylo's; sizes are limits of the target file).
    states : dict of str -> tuple of str
        Recordable state variables per neuron model kind (besides ``spikes``).
    devices : tuple of str
        Device types (``"cpu"``, ``"cuda"``) accepted by its ``device`` option.
    dtypes : tuple of str
        Floating-point types accepted by its ``dtype`` option; empty for integer simulators.
    float_reference : bool
        Spikes equal the float64 reference semantics exactly (the torch/Brian2 backends);
        false for integer targets, whose quantised arithmetic differs by design.
    """

    learning_switch: bool = False
    weights: bool = True
    weight_matrix: bool = False
    batch: bool = False
    batched_frozen_recall: bool = False
    snapshot: bool = True
    plasticity: tuple[str, ...] = ()
    neuron_models: tuple[str, ...] = ()
    connectors: tuple[str, ...] = CONNECTORS
    plastic_connectors: tuple[str, ...] = CONNECTORS
    per_synapse_delays: bool = True
    per_neuron_parameters: bool = True
    topology: str = "any"
    states: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float64",)
    float_reference: bool = True


@dataclass(frozen=True)
class Option:
    """One builder option: its name, type (in words), default and meaning."""

    name: str
    type: str
    default: Any
    doc: str


#: ``seed``: the one meaning it has on every backend.
SEED_OPTION = Option(
    "seed",
    "int >= 0 or None",
    None,
    "seed of every random number the backend draws while simulating. The description fixes "
    "every other random choice (connectors are explicit, sources are given spike trains), "
    "and the built-in backends draw none, so their results do not depend on it; it is "
    "accepted by every backend so that code can pass it to any of them.",
)


def check_seed(backend: str, seed: Any) -> int | None:
    """Validate the ``seed`` option; return it as an int or None."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BuildError(f"{backend}: seed: expected None or an integer >= 0 (got {seed!r})")
    return int(seed)


_REGISTRY: dict[str, str] = {}
_FAMILIES: dict[str, str] = {}


def register(name: str, simulation: str, family: bool = False) -> None:
    """Register a backend: ``simulation`` is the import path ``"module:Class"`` of its
    :class:`Simulation` subclass (imported on first use).

    With ``family=True``, ``name`` is a prefix: ``"NAME:VARIANT"`` builds with
    ``Class.build(net, variant=VARIANT, **options)`` (used for ``fixed:<hardware target>``).
    """
    if not isinstance(simulation, str) or simulation.count(":") != 1:
        raise BuildError(f"register({name!r}): simulation: expected an import path 'module:Class' (got {simulation!r})")
    (_FAMILIES if family else _REGISTRY)[name] = simulation


def available() -> list[str]:
    """Names of the registered backends (families as ``NAME:<variant>``)."""
    return sorted(_REGISTRY) + sorted(f"{name}:<variant>" for name in _FAMILIES)


def _resolve(backend: str) -> tuple[type["Simulation"], str | None]:
    if not isinstance(backend, str):
        raise BuildError(f"build: backend: expected a backend name (got {backend!r}); available: {available()}")
    if backend in _REGISTRY:
        path, variant = _REGISTRY[backend], None
    else:
        family, _, variant = backend.partition(":")
        if not (variant and family in _FAMILIES):
            raise BuildError(f"build: unknown backend {backend!r}; available: {available()}")
        path = _FAMILIES[family]
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr), variant


def simulation_class(backend: str) -> type["Simulation"]:
    """The :class:`Simulation` subclass of a registered backend name (imports it)."""
    return _resolve(backend)[0]


def options(backend: str) -> tuple[Option, ...]:
    """The options a backend's builder accepts (name, type, default, doc)."""
    cls, variant = _resolve(backend)
    return cls.declared_options(variant)


def capabilities(backend: str) -> Capabilities:
    """What a backend can do, before building anything (``"torch"``, ``"fixed:loihi"``...)."""
    cls, variant = _resolve(backend)
    return cls.declared_capabilities(variant)


def build(net: Network, backend: str = "torch", **options: Any) -> "Simulation":
    """Compile ``net`` with the named backend (see :func:`neurohop.build`).

    Raises
    ------
    BuildError
        For an unknown backend, an option the backend does not declare (the message lists
        the accepted ones), or anything the backend cannot compile.
    """
    if not isinstance(net, Network):
        raise BuildError(f"build: expected a neurohop Network (got {type(net).__name__})")
    cls, variant = _resolve(backend)
    return cls.build(net, variant, **options)


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
    #: The options :meth:`build` accepts (every backend declares ``dt`` and ``seed``).
    OPTIONS: ClassVar[tuple[Option, ...]] = ()
    #: What this backend can do (see :class:`Capabilities`); a family overrides
    #: :meth:`declared_capabilities` to declare per variant.
    CAPABILITIES: ClassVar[Capabilities] = Capabilities()

    @classmethod
    def declared_capabilities(cls, variant: str | None = None) -> Capabilities:
        """The capabilities of this backend (of one variant, for a family)."""
        return cls.CAPABILITIES

    @property
    def capabilities(self) -> Capabilities:
        """What this simulation can do (see :class:`Capabilities`)."""
        return type(self).declared_capabilities(getattr(self, "variant", None))

    @classmethod
    def build(cls, net: Network, variant: str | None = None, **options: Any) -> "Simulation":
        """Check ``options`` against :attr:`OPTIONS` and compile ``net``.

        Raises :class:`BuildError` for an undeclared option, naming it and the accepted ones.
        """
        name = cls.backend if variant is None else f"{cls.backend}:{variant}"
        cls.check_options(name, options)
        sim = cls._from_options(net, variant, **options)
        sim.build_options = dict(options)
        return sim

    @classmethod
    def compile_notice(cls, options: Mapping[str, Any]) -> str | None:
        """One line to show before a build with ``options`` that may compile generated code
        (so that its first run is slow), else None (the default: nothing is compiled)."""
        return None

    @classmethod
    def declared_options(cls, variant: str | None = None) -> tuple[Option, ...]:
        """The options this backend (one variant, for a family) accepts."""
        return cls.OPTIONS

    @classmethod
    def check_options(cls, name: str, options: Mapping[str, Any]) -> None:
        """Refuse options this backend does not declare."""
        accepted = [o.name for o in cls.declared_options(name.partition(":")[2] or None)]
        for key in options:
            if key not in accepted:
                raise BuildError(f"{name}: unknown option {key!r}; accepted: {accepted}")

    @classmethod
    def _from_options(cls, net: Network, variant: str | None, **options: Any) -> "Simulation":
        return cls(net, **options)

    @classmethod
    def check_device(cls, device: Any, backend: str | None = None) -> None:
        """Refuse a device this backend cannot use, before anything is built.

        The default accepts the device types of :attr:`Capabilities.devices`.
        """
        name = backend or cls.backend
        kind = str(device).partition(":")[0]
        devices = cls.declared_capabilities(name.partition(":")[2] or None).devices
        if kind not in devices:
            raise BuildError(f"{name}: device: expected one of {list(devices)} (got {device!r})")

    @classmethod
    def estimate_bytes(cls, plastic_synapses: int, dense_entries: int, options: Mapping[str, Any]) -> int:
        """Rough memory (bytes) of a compiled network, for checks before building a large one.

        Parameters
        ----------
        plastic_synapses : int
            Number of plastic synapses.
        dense_entries : int
            Entries of the dense matrices a clock-driven backend would hold for the static
            projections.
        options : mapping
            The build options (``dtype``...).

        The default counts 8 bytes per dense entry and two 8-byte words per plastic synapse
        (the weights and a frozen copy for recall).
        """
        return 8 * (dense_entries + 2 * plastic_synapses)


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

    # ------------------------------------------------------------------ optional operations
    def _missing(self, capability: str, operation: str) -> BuildError:
        return BuildError(f"{self.backend}: {operation}: this backend does not provide the capability {capability!r}")

    def set_learning(self, on: bool) -> None:
        """Switch plasticity on or off for the following :meth:`run` calls (weights are kept).

        Needs the capability ``learning_switch``.
        """
        raise self._missing("learning_switch", "set_learning")

    def weight_matrix(self, projection: str) -> np.ndarray:
        """The current ``[pre, post]`` weight matrix (nA) of a plastic projection (a copy).

        Backends without the capability ``weight_matrix`` but with ``weights`` assemble it
        from :meth:`weights` (absent synapses are 0).
        """
        if not self.capabilities.weights:
            raise self._missing("weight_matrix", "weight_matrix")
        proj = self.net.projection(projection)
        pre, post, _, _ = proj.local_synapses(self.net.sizes)
        sizes = self.net.sizes
        a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
        b0, b1 = proj.post.resolve(sizes[proj.post.population])
        w = np.asarray(self.weights(projection))
        if w.ndim != 1:
            raise InputError(f"{self.backend}: weight_matrix: {projection!r} has per-instance weights in a batched run; use weights()")
        mat = np.zeros((a1 - a0, b1 - b0))
        mat[pre, post] = w
        return mat

    def frozen_network(self) -> Network:
        """The description with every plastic projection made static at its current weights."""
        projs = []
        for proj in self.net.projections:
            if proj.plasticity is None:
                projs.append(proj)
                continue
            w = self.weight_matrix(proj.name)
            projs.append(Projection(proj.name, proj.pre, proj.post, proj.connector, weight=w, delay=proj.delay, receptor=proj.receptor, plasticity=None))
        return self.net.with_updates(projections=projs)

    def frozen_copy(self, batch: int | None) -> "Simulation":
        """A new simulation at step 0 of :meth:`frozen_network`, built with this backend and options.

        Backends with an exact, cheaper path (for example one that keeps the integer
        weights of a quantised network) override it.
        """
        options = {k: v for k, v in getattr(self, "build_options", {}).items() if k != "batch"}
        if batch is not None:
            options["batch"] = batch
        return build(self.frozen_network(), self.backend, **options)

    def run_frozen(self, steps: int, inputs: Mapping[str, Any] | None, batch: int, record: Sequence[str] | None = None) -> RunResult:
        """Run ``batch`` independent instances from a quiet start against the current, frozen weights.

        Neuron states start from their initial values with nothing in flight; plasticity is
        off; this simulation's own state (time, neurons, weights) is left unchanged. Inputs
        are ``[steps, n]`` or ``[steps, batch, n]``; results have a batch dimension
        ``[steps, batch, n]``; ``record`` limits the recorded populations.

        This default runs a frozen copy (:meth:`frozen_copy`, cached while the weights do
        not change): all instances at once when the backend has the capability ``batch``,
        else one after the other, each from the copy's step-0 snapshot.
        """
        steps = self._check_steps(steps)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise InputError(f"run_frozen: batch: expected an integer >= 1 (got {batch!r})")
        B = int(batch)
        if self.batch is not None:
            raise InputError(f"{self.backend}: run_frozen: a batched simulation has one set of weights per instance; run_frozen needs batch=None")
        caps = self.capabilities
        if not caps.snapshot:
            raise self._missing("snapshot", "run_frozen")
        checked = check_inputs(self.net, inputs, steps, B)
        names = [p.name for p in self.net.populations if p.record] if record is None else list(record)
        for name in names:
            self.net.population(name)
        key = (self._weights_digest(), B if caps.batch else None)
        cache = getattr(self, "_frozen_cache", None)
        if cache is None or cache[0] != key:
            sim = self.frozen_copy(B if caps.batch else None)
            cache = (key, sim, sim.snapshot())
            self._frozen_cache = cache
        _, sim, start = cache
        if caps.batch:
            sim.restore(start)
            res = sim.run(steps, checked)
        else:
            parts = []
            for b in range(B):
                sim.restore(start)
                parts.append(sim.run(steps, {k: v[:, b] for k, v in checked.items()}))
            res = RunResult(0, steps, self.dt)
            for name in parts[0].spikes:
                res.spikes[name] = np.stack([r.spikes[name] for r in parts], axis=1)
            for name, variables in parts[0].states.items():
                res.states[name] = {v: np.stack([r.states[name][v] for r in parts], axis=1) for v in variables}
        out = RunResult(self.t, steps, self.dt)
        out.spikes = {k: v for k, v in res.spikes.items() if k in names}
        out.states = {k: v for k, v in res.states.items() if k in names}
        return out

    def _weights_digest(self) -> str:
        digest = hashlib.sha1()
        for proj in self.net.projections:
            if proj.plasticity is not None:
                digest.update(np.ascontiguousarray(self.weights(proj.name)).tobytes())
        return digest.hexdigest()

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
