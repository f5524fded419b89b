"""Simulator state of ``neurohop.pynn``: the PyNN objects, the translated network and the run.

PyNN objects (populations, projections) are collected here as they are created. At the first
``run`` they are translated once into a :class:`neurohop.model.Network`
(:mod:`neurohop.pynn.translate`) and compiled with the backend chosen in ``setup``; later
``run`` calls continue the same compiled simulation. Creating populations or projections, or
changing parameters, marks the translation stale: it is rebuilt at the next ``run`` from time 0
(after ``reset()``), and refused in the middle of a simulation, where a rebuild would lose
the state.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pyNN import common

from neurohop.errors import BuildError

name = "neurohop"
logger = logging.getLogger("neurohop.pynn")


class ID(int, common.IDMixin):
    """A cell id (an int that knows its parent population)."""

    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Everything ``setup`` configures and ``run`` advances.

    Attributes
    ----------
    dt : float
        Timestep, ms.
    t : float
        Current time, ms (``steps * dt``).
    backend, options : str, dict
        The neurohop backend and its build options (``device``, ``dtype``, ``target``...).
    strict : bool
        Refuse sPyNNaker's dialect (see :mod:`neurohop.pynn`).
    """

    def __init__(self) -> None:
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.initialized = False
        self.backend = "torch"
        self.options: dict[str, Any] = {}
        self.strict = False
        self.seed: int | None = None
        self.dt = 1.0
        self.min_delay: Any = "auto"
        self.max_delay: Any = "auto"
        self.segment_counter = -1
        self.clear()

    # ------------------------------------------------------------------ structure
    def clear(self) -> None:
        """Forget the network (``setup`` and ``end``)."""
        self.recorders = set()
        self.populations: list[Any] = []
        self.projections: list[Any] = []
        self.id_counter = 0
        self.segment_counter = -1
        self.translation: Any = None
        self.simulation: Any = None
        self.stale = True
        self.reset()

    def mark_stale(self, what: str) -> None:
        """Record that the description changed (rebuilt at the next run from time 0)."""
        if self.steps > 0 and self.simulation is not None:
            self.pending_change = what
        self.stale = True

    def reset(self) -> None:
        """Return to time 0: the next run starts from the initial state (and initial weights)."""
        self.running = False
        self.steps = 0
        self.t_start = 0
        self.segment_counter += 1
        self.simulation = None
        self.pending_change: str | None = None
        self.rng = np.random.default_rng(self.seed)
        for recorder in self.recorders:
            recorder._clear_simulator()

    @property
    def t(self) -> float:
        return self.steps * self.dt

    # ------------------------------------------------------------------ running
    def require_setup(self, what: str) -> None:
        if not self.initialized:
            raise BuildError(f"neurohop.pynn.{what}: call setup() first (the simulator is not initialised)")

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        from neurohop.pynn.translate import translate

        self.require_setup("run")
        ratio = (tstop - self.t) / self.dt
        steps = int(round(ratio))
        if abs(ratio - steps) > 1e-6:
            raise BuildError(
                f"neurohop.pynn.run: the run must end on a whole timestep of {self.dt} ms (got t = {tstop} ms from {self.t} ms)"
            )
        if self.pending_change is not None:
            raise BuildError(
                f"neurohop.pynn.run: {self.pending_change} changed after the simulation started; "
                "call reset() to rebuild from time 0 (a continuing run keeps the network it started with)"
            )
        if self.simulation is None or self.stale:
            import neurohop

            self.translation = translate(self)
            self.simulation = neurohop.build(self.translation.network, backend=self.backend, dt=self.dt, **self.options)
            self.stale = False
            for recorder in self.recorders:
                recorder._start(self.translation, self.simulation)
        self.running = True
        if steps == 0:
            return
        # inputs are drawn and fed in chunks, so that long runs of many Poisson sources
        # never hold all their spikes at once
        chunk = max(1, min(steps, (1 << 22) // max(1, self.translation.input_channels)))
        done = 0
        while done < steps:
            n = min(chunk, steps - done)
            inputs = self.translation.source_inputs(self, self.steps, n)
            result = self.simulation.run(n, inputs)
            for recorder in self.recorders:
                recorder._append(self.translation, result)
            self.steps += n
            done += n


state = State()
