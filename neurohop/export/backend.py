"""The ``fixed:<target>`` simulation backend: a network quantised and run bit-accurately.

>>> sim = neurohop.build(net, backend="fixed:spinnaker1")          # doctest: +SKIP
>>> result = sim.run(90, inputs={"input": spikes})                  # doctest: +SKIP

It honours the :class:`~neurohop.backends.base.Simulation` contract of the float backends
(same ``run``/``RunResult``, ``weights`` in nA, ``state`` in model units), so any code
written against a backend (for example ``neurohop cam replay``) runs the integer simulator
unchanged. :meth:`FixedSimulation.raw_state` gives the integer state. Its capabilities
are declared per target (:meth:`FixedSimulation.declared_capabilities`): the neuron models
and plasticity rules of the target file, the state variables its arithmetic keeps, batched
runs, and frozen recall on the learned integer weights.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import numpy as np

from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_inputs, check_seed
from neurohop.errors import BuildError, InputError, NeurohopError
from neurohop.export.plugin import ExportOptions, arithmetic_of, option_type
from neurohop.export.program import Program
from neurohop.export.targets import Target, load_target
from neurohop.model.network import Network

__all__ = ["build_fixed", "FixedSimulation", "quantise", "simulator_for"]


def quantise(net: Network, target: str | Target, dt: float | None = None, check_fit: bool = True, options: ExportOptions | None = None, **values: Any) -> Program:
    """Quantise ``net`` for ``target`` (a name, a path or a :class:`Target`).

    The options are those of the target's arithmetic (:attr:`TargetArithmetic.options_type
    <neurohop.export.plugin.TargetArithmetic.options_type>`: ``outputs``,
    ``freeze_plasticity`` and per-arithmetic policies such as ``num_weight_bits``), given as
    an options object or as keywords; an option the arithmetic lacks raises
    :class:`~neurohop.export.plugin.OptionError` (a ``TypeError`` too). With ``check_fit``
    the network is also mapped onto the chip's cores and refused
    (:class:`~neurohop.errors.CapacityError`) when it does not fit.
    """
    tgt = target if isinstance(target, Target) else load_target(target)
    plugin = arithmetic_of(tgt)
    return plugin.quantise(net, tgt, dt, plugin.options(options, **values), check_fit=check_fit)


def simulator_for(program: Program, batch: int | None = None, device: str = "cpu") -> Any:
    """The integer simulator of a program's target (matrix products on ``device``)."""
    return arithmetic_of(program.target).simulate(program, batch, device)


#: Options of every ``fixed:<target>`` builder; each target adds its quantisation options.
BASE_OPTIONS: tuple[Option, ...] = (
    Option("dt", "float > 0 or None", None, "timestep, ms (None: the target's; must match a target with a fixed timestep)"),
    Option("batch", "int >= 1 or None", None, "independent instances run side by side"),
    Option("device", "str", "cpu", "where the synaptic matrix products run: 'cpu' or a CUDA device (the state stays NumPy int64 on the CPU)"),
    Option("check_fit", "bool", True, "map the network onto the chip's cores and refuse it (CapacityError) when it does not fit"),
    dataclasses.replace(SEED_OPTION, doc=SEED_OPTION.doc + " The integer simulators are deterministic."),
)


def _target(variant: str | Target) -> Target:
    return variant if isinstance(variant, Target) else load_target(variant)


@functools.lru_cache(maxsize=None)
def _target_options(variant: str) -> tuple[Option, ...]:
    """The builder options of one target: the common ones plus its arithmetic's options dataclass."""
    plugin = arithmetic_of(_target(variant))
    extra = []
    for f in plugin.options_type.option_fields():
        extra.append(Option(f.name, option_type(f), f.default, f"{f.metadata['help']} ({plugin.name} quantisation option)"))
    return BASE_OPTIONS + tuple(extra)


@functools.lru_cache(maxsize=None)
def _target_capabilities(variant: str) -> Capabilities:
    return _capabilities_of(_target(variant))


def _capabilities_of(tgt: Target) -> Capabilities:
    from neurohop.model.network import RECORDABLE, Population
    from neurohop.model.neurons import NEURON_MODELS, SpikeSource

    states: dict[str, tuple[str, ...]] = {}
    for kind in tgt.neuron_models:
        # the state variables the target's arithmetic keeps for this model, read from a
        # one-neuron program rather than restated here
        net = Network((Population("s", 1, SpikeSource()), Population("n", 1, NEURON_MODELS[kind]())))
        try:
            probe = arithmetic_of(tgt).quantise(net, tgt, None, check_fit=False)
            states[kind] = tuple(v for v in simulator_for(probe).state_variables("n") if v in RECORDABLE[kind])
        except NeurohopError:  # a model the target only takes with other parameters
            states[kind] = ()
    return Capabilities(
        learning_switch=False,
        weights=True,
        weight_matrix=False,
        batch=True,
        batched_frozen_recall=False,
        snapshot=True,
        plasticity=tuple(tgt.plasticity_rules),
        neuron_models=tuple(tgt.neuron_models),
        states=states,
        devices=("cpu", "cuda"),
        dtypes=(),
        float_reference=False,
        topology=_topology(tgt),
        per_neuron_parameters=arithmetic_of(tgt).per_neuron_parameters,
        per_synapse_delays=_topology(tgt) == "any",
    )


def _topology(tgt: Target) -> str:
    """``"layered"`` for a target whose core has fixed input/hidden/output weight matrices."""
    return "layered" if tgt.limits.get("hidden_neurons") is not None else "any"


class FixedSimulation(Simulation):
    """A :class:`~neurohop.backends.base.Simulation` running a :class:`Program` in integers."""

    backend = "fixed"
    OPTIONS = BASE_OPTIONS

    def __init__(self, program: Program, batch: int | None = None, device: str = "cpu") -> None:
        if program.network is None:
            raise BuildError(f"fixed:{program.target.name}: the program carries no network description")
        self.backend = f"fixed:{program.target.name}"
        super().__init__(program.network, program.dt, batch)
        self.program = program
        self.device = device
        self.sim = simulator_for(program, batch, device)
        for pop in self.net.neurons:
            have = self.sim.state_variables(pop.name)
            missing = [v for v in pop.record if v != "spikes" and v not in have]
            if missing:
                raise BuildError(f"{self.backend}: population {pop.name!r}.record: {missing} not kept by this target's arithmetic; recordable: {['spikes', *have]}")

    # ------------------------------------------------------------------ contract
    @classmethod
    def declared_capabilities(cls, variant: str | None = None) -> Capabilities:
        """A target's capabilities: its neuron models and plasticity rules, the state
        variables its arithmetic keeps, batched runs; no learning switch."""
        if variant is None:
            raise BuildError("fixed: capabilities: name a target, e.g. 'fixed:spinnaker1'")
        return _target_capabilities(variant)

    @property
    def capabilities(self) -> Capabilities:
        return _capabilities_of(self.program.target)

    @classmethod
    def declared_options(cls, variant: str | None = None) -> tuple[Option, ...]:
        """The common options plus the target's quantisation options."""
        return BASE_OPTIONS if variant is None else _target_options(variant)

    @classmethod
    def _from_options(cls, net: Network, variant: str | None, **options: Any) -> "FixedSimulation":
        return build_fixed(net, str(variant), **options)

    def frozen_copy(self, batch: int | None) -> "FixedSimulation":
        """A new simulation at step 0 whose plastic projections are static at their current
        *integer* weights (no re-quantisation, so recall is bit-exact with the learned state)."""
        if self.batch is not None:
            raise InputError(f"{self.backend}: frozen_copy: a batched simulation has one set of weights per instance")
        projections = []
        for proj in self.program.projections:
            if proj.plastic:
                proj = dataclasses.replace(proj, arrays={**proj.arrays, "weight": np.asarray(self.sim.weights(proj.name), dtype=np.int64)}, plastic=False)
            projections.append(proj)
        program = dataclasses.replace(self.program, projections=projections, network=self.frozen_network())
        return FixedSimulation(program, batch, self.device)

    @property
    def events(self) -> dict[str, int]:
        """Overflow / saturation events counted so far."""
        return dict(self.sim.events)

    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        steps = self._check_steps(steps)
        checked = check_inputs(self.net, inputs, steps, self.batch)
        B = self.sim.B
        feed: dict[str, np.ndarray] = {}
        for pop in self.net.sources:
            arr = np.zeros((steps, B, pop.size), dtype=bool)
            if pop.name in checked:
                arr |= checked[pop.name]
            fixed = self._fixed_source_spikes(pop.name, steps)
            if fixed is not None:
                arr |= fixed[:, None, :]
            feed[pop.name] = arr
        # state variables the target has (a LIF run on loihi has u and v, not i_e / i_i)
        watch = {}
        for p in self.net.neurons:
            have = self.sim.state_variables(p.name)
            wanted = [v for v in p.record if v != "spikes" and v in have]
            if wanted:
                watch[p.name] = wanted
        spikes, states = self.sim.run(steps, feed, watch)
        result = RunResult(self.t, steps, self.dt)
        squeeze = (lambda a: a[:, 0]) if self.batch is None else (lambda a: a)  # noqa: E731
        for pop in self.net.populations:
            if "spikes" in pop.record:
                result.spikes[pop.name] = squeeze(spikes[pop.name])
        for name, variables in states.items():
            pop = self.program.population(name)
            result.states[name] = {v: pop.to_model(v, squeeze(arr)) for v, arr in variables.items()}
        self.t += steps
        return result

    def weights(self, projection: str) -> np.ndarray:
        return self.sim.model_weights(projection)

    def state(self, population: str) -> dict[str, np.ndarray]:
        pop = self.net.population(population)
        if pop.is_source:
            raise InputError(f"state: {population!r} is a spike source and has no state")
        prog = self.program.population(population)
        return {k: prog.to_model(k, v) for k, v in self.sim.raw_state(population).items()}

    def raw_state(self, population: str) -> dict[str, np.ndarray]:
        """The integer state of a neuron population (target units)."""
        return self.sim.raw_state(population)

    def snapshot(self) -> Any:
        return self.t, self.sim.snapshot()

    def restore(self, snapshot: Any) -> None:
        t, snap = snapshot
        self.t = t
        self.sim.restore(snap)


def build_fixed(net: Network, target: str, dt: float | None = None, batch: int | None = None, seed: Any = None, device: Any = "cpu", check_fit: bool = True, **options: Any) -> FixedSimulation:
    """Quantise ``net`` for ``target`` and return its bit-accurate :class:`FixedSimulation`.

    Parameters
    ----------
    net : Network
    target : str
        A target name (``spinnaker1``, ``loihi``, ``xylo``) or a target file path.
    dt : float, optional
        Timestep, ms (must match a target with a fixed timestep).
    batch : int, optional
        Independent instances.
    seed : int or None
        See :data:`~neurohop.backends.base.SEED_OPTION`; the integer simulators are
        deterministic and draw no random numbers.
    device : str
        Where the synaptic matrix products run: ``"cpu"`` or a CUDA device (``"cuda"``,
        ``"cuda:1"``). The state stays NumPy int64 on the CPU; the products are exact in
        float64 where every partial sum fits in 53 bits (checked once per matrix), and
        those that do not fit run in int64 on the CPU (torch has no int64 product on CUDA).
    check_fit : bool
        Map the network onto the chip's cores and refuse it when it does not fit.
    **options
        Quantisation options of the target's arithmetic (``freeze_plasticity``, ``outputs``, ...;
        see :func:`quantise`).
    """
    dev = str(device)
    if dev != "cpu" and not dev.startswith("cuda"):
        raise BuildError(f"fixed:{target}: device: expected 'cpu' or a CUDA device such as 'cuda' (got {device!r})")
    if dev.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise BuildError(f"fixed:{target}: device: {dev!r} was asked for but torch sees no CUDA device; use 'cpu'")
    check_seed(f"fixed:{target}", seed)
    program = quantise(net, target, dt, check_fit=check_fit, **options)
    return FixedSimulation(program, batch, dev)
