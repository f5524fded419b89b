"""The ``fixed:<target>`` simulation backend: a network quantised and run bit-accurately.

>>> sim = neurohop.build(net, backend="fixed:spinnaker1")          # doctest: +SKIP
>>> result = sim.run(90, inputs={"input": spikes})                  # doctest: +SKIP

It honours the :class:`~neurohop.backends.base.Simulation` contract of the float backends
(same ``run``/``RunResult``, ``weights`` in nA, ``state`` in model units), so any code
written against a backend (for example ``neurohop cam replay``) runs the integer simulator
unchanged. :meth:`FixedSimulation.raw_state` gives the integer state.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from neurohop.backends.base import RunResult, Simulation, check_inputs
from neurohop.errors import BuildError, InputError
from neurohop.export.plugin import ExportOptions, arithmetic_of
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


class FixedSimulation(Simulation):
    """A :class:`~neurohop.backends.base.Simulation` running a :class:`Program` in integers."""

    def __init__(self, program: Program, batch: int | None = None, device: str = "cpu") -> None:
        if program.network is None:
            raise BuildError(f"fixed:{program.target.name}: the program carries no network description")
        self.backend = f"fixed:{program.target.name}"
        super().__init__(program.network, program.dt, batch)
        self.program = program
        self.sim = simulator_for(program, batch, device)

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


def build_fixed(net: Network, target: str, dt: float | None = None, batch: int | None = None, seed: Any = None, device: Any = "cpu", **options: Any) -> FixedSimulation:
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
    seed : ignored
        Accepted for interface compatibility; the integer simulators are deterministic.
    device : str
        Where the synaptic matrix products run: ``"cpu"`` or a CUDA device (``"cuda"``,
        ``"cuda:1"``). The state stays NumPy int64 on the CPU; the products are exact in
        float64 where every partial sum fits in 53 bits (checked once per matrix), and
        those that do not fit run in int64 on the CPU (torch has no int64 product on CUDA).
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
    program = quantise(net, target, dt, **options)
    return FixedSimulation(program, batch, dev)
