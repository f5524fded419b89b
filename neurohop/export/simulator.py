"""The common machinery of the integer simulators: state, stepping, recording, inputs.

Each target module subclasses :class:`IntegerSimulator` and supplies

* ``_neuron_kernel(pop)`` -> (step function, arithmetic, integer constants, initial state):
  the same kernel as the float backends (:mod:`neurohop.kernels`) run with the target's
  integer arithmetic;
* optionally ``_group_key(pop)``: populations with equal keys run as one
  :class:`NeuronGroup`, one kernel call per step on their concatenated neurons (the
  kernels are element-wise, so this changes nothing but the number of array operations);
  the default keeps every population on its own;
* ``_build_synapses()`` (the target's constants: weight matrices, shifts, buffer sizes),
  ``_initial_synapses()`` (the target's synaptic *state*, a NamedTuple it declares:
  delay buffers, plastic weights and traces, queued spikes), ``_arriving(t)`` (per neuron
  group, the integer ``in_e``/``in_i`` of its neurons for step ``t``, or what the target's
  own ``_step_group`` takes) and ``_propagate(t, emitted)`` (spikes emitted at ``t``, per
  population, into the target's synaptic buffers, including any plasticity).

State and constants are kept apart: what evolves is :class:`SimulatorState` (the time,
each neuron group's kernel state, the declared synaptic state and the event counts),
and a :meth:`~IntegerSimulator.snapshot` copies exactly that; everything else is built once
from the program and never changes.

One step ``t``: arriving input -> every neuron group's kernel -> spikes -> synapses.
Everything is NumPy ``int64`` (state words narrower than 64 bits are modelled with
explicit wrap or saturation); the synaptic matrix products are exact (float32 or float64
where every partial sum fits in the significand, checked once per matrix, int64 otherwise;
see :class:`~neurohop.export.intmath.IntMatrix`). A leading batch dimension ``B`` runs
independent copies.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from neurohop.errors import InputError
from neurohop.export.intmath import Events, IntMatrix
from neurohop.export.program import PopulationProgram, Program

__all__ = ["IntegerSimulator", "NeuronGroup", "SimulatorState", "check_input_array"]


class SimulatorState(NamedTuple):
    """Everything an integer simulation evolves: what :meth:`IntegerSimulator.snapshot` copies.

    Attributes
    ----------
    t : int
        Steps run since the reset.
    neurons : dict of str -> NamedTuple
        Each neuron group's kernel state (int64 arrays ``[B, n]``), by group name.
    synapses : NamedTuple
        The target's synaptic state (its simulator's ``_initial_synapses``).
    events : dict of str -> int
        Overflow / saturation counts.
    """

    t: int
    neurons: dict[str, Any]
    synapses: Any
    events: dict[str, int]


class NeuronGroup(NamedTuple):
    """Neuron populations simulated together, their neurons side by side.

    Attributes
    ----------
    name : str
        The population's name for a group of one.
    pops : tuple of PopulationProgram
    slices : dict of str -> (start, stop)
        Each population's columns in the group's arrays.
    size : int
    """

    name: str
    pops: tuple[PopulationProgram, ...]
    slices: dict[str, tuple[int, int]]
    size: int


def _concat_fields(parts: list[Any], sizes: list[int]) -> Any:
    """NamedTuples of per-neuron values (one per population) joined field by field: arrays
    concatenated, a scalar kept where every part has the same, spread per neuron otherwise."""
    fields = []
    for values in zip(*parts):
        if all(isinstance(v, np.ndarray) and v.ndim >= 1 for v in values):
            fields.append(np.concatenate(values, axis=-1))
        elif all(np.ndim(v) == 0 for v in values) and all(v == values[0] for v in values):
            fields.append(values[0])
        else:
            fields.append(np.concatenate([np.broadcast_to(np.asarray(v), (n,)) for v, n in zip(values, sizes)]))
    return type(parts[0])(*fields)


def check_input_array(spikes: Any, steps: int | None, n_inputs: int, where: str = "input") -> np.ndarray:
    """Validate input spikes ``[T, n_inputs]`` (or ``[T, B, n_inputs]``); return bool."""
    arr = np.asarray(spikes)
    if arr.ndim not in (2, 3) or arr.shape[-1] != n_inputs:
        raise InputError(f"{where}: expected spikes of shape [T, {n_inputs}] (one column per input neuron) (got {list(arr.shape)})")
    if steps is not None and arr.shape[0] != steps:
        raise InputError(f"{where}: expected {steps} rows (one per step) (got {arr.shape[0]})")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or (arr.size and not np.all((arr == 0) | (arr == 1))):
            raise InputError(f"{where}: expected boolean spikes or 0/1 values (got dtype {arr.dtype})")
        arr = arr.astype(bool)
    return arr


class IntegerSimulator(ABC):
    """Base of the bit-accurate simulators (see the module docstring).

    Parameters
    ----------
    program : Program
    batch : int or None
        Number of independent instances (None: one, no batch dimension in results).
    device : str
        Where the synaptic matrix products run (``"cpu"`` or a CUDA device); the state
        stays NumPy int64 on the CPU. Products run exactly in float64 where the weights
        allow it (see :class:`~neurohop.export.intmath.IntMatrix`), in int64 on the CPU
        otherwise.
    """

    def __init__(self, program: Program, batch: int | None = None, device: str = "cpu") -> None:
        self.program = program
        self.batch = batch
        self.B = 1 if batch is None else int(batch)
        self.device = device
        self.events = Events()
        self.sources = [p for p in program.populations if p.is_source]
        self.neurons = [p for p in program.populations if not p.is_source]
        self.groups = self._make_groups()
        #: the group of each neuron population
        self.group_of = {name: g for g in self.groups for name in g.slices}
        self._kernels: dict[str, tuple[Callable[..., Any], Any, Any, Any]] = {g.name: self._group_kernel(g) for g in self.groups}
        self._build_synapses()
        self.reset()

    def _make_groups(self) -> list[NeuronGroup]:
        keyed: dict[Any, list[PopulationProgram]] = {}
        for pop in self.neurons:
            key = self._group_key(pop)
            keyed.setdefault(("alone", pop.name) if key is None else ("key", key), []).append(pop)
        names = {p.name for p in self.program.populations}
        groups = []
        for i, pops in enumerate(keyed.values()):
            name = pops[0].name if len(pops) == 1 else "+".join(p.name for p in pops)
            if len(pops) > 1 and name in names:
                name = f"{name}#{i}"
            slices, at = {}, 0
            for p in pops:
                slices[p.name] = (at, at + p.size)
                at += p.size
            groups.append(NeuronGroup(name, tuple(pops), slices, at))
        return groups

    # ---------------------------------------------------------------- to override
    @abstractmethod
    def _neuron_kernel(self, pop: PopulationProgram) -> tuple[Callable[..., Any], Any, Any, Any]:
        ...

    def _group_key(self, pop: PopulationProgram) -> Any:
        """Populations with equal keys (not None) run as one group; None: on its own."""
        return None

    def _group_kernel(self, group: NeuronGroup) -> tuple[Callable[..., Any], Any, Any, Any]:
        """The kernel of a group: its populations' kernels (one step function, one
        arithmetic: the first population's), constants and initial states joined."""
        parts = [self._neuron_kernel(p) for p in group.pops]
        if len(parts) == 1:
            return parts[0]
        sizes = [p.size for p in group.pops]
        step, arith = parts[0][0], parts[0][1]
        return step, arith, _concat_fields([c for _, _, c, _ in parts], sizes), _concat_fields([i for _, _, _, i in parts], sizes)

    def _matrix(self, matrix: np.ndarray, max_count: int = 1) -> IntMatrix:
        """An integer weight matrix [pre, post] prepared once for exact products on ``device``."""
        return IntMatrix(matrix, max_count, self.device)

    @abstractmethod
    def _build_synapses(self) -> None:
        ...

    @abstractmethod
    def _initial_synapses(self) -> NamedTuple:
        """The synaptic state at step 0, as the target's declared NamedTuple (arrays, or
        lists and dicts of arrays, updated in place or by item while running)."""
        ...

    @abstractmethod
    def _arriving(self, t: int) -> dict[str, Any]:
        ...

    @abstractmethod
    def _propagate(self, t: int, emitted: Mapping[str, np.ndarray]) -> None:
        ...

    def _step_group(self, group: NeuronGroup, arriving: Any) -> tuple[np.ndarray, Any]:
        """One step of a neuron group: its kernel on the arriving ``(in_e, in_i)``.

        Returns the spikes it emits (boolean, or spike counts on a target whose neurons
        can fire several times in a step) and its new state.
        """
        step, arith, constants, _ = self._kernels[group.name]
        in_e, in_i = arriving
        return step(self.state[group.name], in_e, in_i, constants, np.where, arith)

    @abstractmethod
    def weights(self, projection: str) -> np.ndarray:
        """Current integer weights of a projection (target layout)."""
        ...

    # ---------------------------------------------------------------- state
    def reset(self) -> None:
        """Step 0, initial state."""
        self.t = 0
        self.events.clear()
        self.state: dict[str, Any] = {}
        for g in self.groups:
            _, _, _, initial = self._kernels[g.name]
            self.state[g.name] = type(initial)(*[np.broadcast_to(np.asarray(a, dtype=np.int64), (self.B, g.size)).copy() for a in initial])
        synapses = self._initial_synapses()
        if not (isinstance(synapses, tuple) and hasattr(synapses, "_fields")):
            raise TypeError(f"{type(self).__name__}._initial_synapses: expected the target's NamedTuple of synaptic state (got {type(synapses).__name__})")
        self.synapses = synapses

    def current_state(self) -> SimulatorState:
        """The evolving state (live: not a copy)."""
        return SimulatorState(self.t, self.state, self.synapses, self.events)

    def snapshot(self) -> SimulatorState:
        """Deep copy of everything that evolves (:class:`SimulatorState`); constants are not copied."""
        return SimulatorState(self.t, copy.deepcopy(self.state), copy.deepcopy(self.synapses), dict(self.events))

    def restore(self, snap: SimulatorState) -> None:
        """Return to a :meth:`snapshot` (which stays reusable)."""
        if not isinstance(snap, SimulatorState):
            raise InputError(f"restore: expected a snapshot of this simulator (got {type(snap).__name__})")
        self.t = int(snap.t)
        self.state = copy.deepcopy(snap.neurons)
        self.synapses = copy.deepcopy(snap.synapses)
        # the arithmetic of the kernels counts into this object: update it in place
        self.events.clear()
        self.events.update(snap.events)

    def state_variables(self, population: str) -> tuple[str, ...]:
        """Names of the integer state variables of a neuron population."""
        if population not in self.group_of:
            return ()
        return tuple(k for k in self.state[self.group_of[population].name]._fields if k != "refrac")

    def raw_state(self, population: str) -> dict[str, np.ndarray]:
        """Integer state variables of a neuron population (``[n]`` or ``[B, n]``)."""
        if population not in self.group_of:
            raise InputError(f"state: {population!r} is not a simulated neuron population; known: {sorted(self.group_of)}")
        group = self.group_of[population]
        a, b = group.slices[population]
        st = self.state[group.name]
        return {k: (v[0, a:b] if self.batch is None else v[:, a:b]).copy() for k, v in st._asdict().items() if k != "refrac"}

    # ---------------------------------------------------------------- running
    def split_inputs(self, spikes: np.ndarray | None, steps: int) -> dict[str, np.ndarray]:
        """Cut a ``[T, (B,) n_inputs]`` array into per-source ``[T, B, n]`` arrays."""
        out: dict[str, np.ndarray] = {}
        offset = 0
        for name in self.program.inputs:
            size = self.program.population(name).size
            if spikes is None:
                out[name] = np.zeros((steps, self.B, size), dtype=bool)
            else:
                part = spikes[..., offset : offset + size]
                out[name] = np.broadcast_to(part[:, None, :], (steps, self.B, size)) if part.ndim == 2 else part
            offset += size
        return out

    def run(self, steps: int, inputs: Mapping[str, np.ndarray] | None = None, record_state: bool | Mapping[str, Any] = False) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Advance ``steps`` steps.

        Parameters
        ----------
        steps : int
        inputs : mapping source name -> bool [steps, B, n]
            Missing sources are silent.
        record_state : bool or mapping name -> variables
            True records every neuron population's integer state after each step.

        Returns
        -------
        spikes : dict name -> bool [steps, B, n] (every population, sources included)
        states : dict name -> dict variable -> int64 [steps, B, n]
        """
        inputs = dict(inputs or {})
        spikes = {p.name: np.zeros((steps, self.B, p.size), dtype=bool) for p in self.program.populations}
        if record_state is True:
            watch = {p.name: list(self.state_variables(p.name)) for p in self.neurons}
        else:
            watch = {k: list(v) for k, v in dict(record_state or {}).items()}
        states = {name: {var: np.zeros((steps, self.B, self.program.population(name).size), dtype=np.int64) for var in vars_} for name, vars_ in watch.items()}
        # where each recorded population sits in its group's state
        places = {name: (self.group_of[name].name, *self.group_of[name].slices[name]) for name in watch}
        silent = {pop.name: np.zeros((self.B, pop.size), dtype=bool) for pop in self.sources if pop.name not in inputs}
        for k in range(steps):
            t = self.t
            arriving = self._arriving(t)
            emitted: dict[str, np.ndarray] = {}
            for pop in self.sources:
                emitted[pop.name] = inputs[pop.name][k] if pop.name in inputs else silent[pop.name]
            for g in self.groups:
                out, self.state[g.name] = self._step_group(g, arriving[g.name])
                if len(g.pops) == 1:
                    emitted[g.pops[0].name] = out
                else:
                    for name, (a, b) in g.slices.items():
                        emitted[name] = out[:, a:b]
            self._propagate(t, emitted)
            for name, arr in emitted.items():
                spikes[name][k] = arr
            for name, vars_ in watch.items():
                group, a, b = places[name]
                st = self.state[group]
                for var in vars_:
                    states[name][var][k] = getattr(st, var)[:, a:b]
            self.t += 1
        return spikes, states
