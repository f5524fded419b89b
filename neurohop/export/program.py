"""A network quantised for a target: plain integer arrays plus what they mean.

A :class:`Program` is what an arithmetic module (:mod:`~neurohop.export.spinnaker1`,
:mod:`~neurohop.export.loihi`, :mod:`~neurohop.export.xylo`) produces from a
:class:`~neurohop.model.network.Network`, what an export bundle stores, and what the integer
simulators run. Every population and projection holds named integer arrays
(``params``/``arrays``, documented per target by its arithmetic plugin's ``array_docs``) and
JSON-able integer ``scalars``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurohop.errors import InputError
from neurohop.export.report import QuantisationReport
from neurohop.export.targets import Target
from neurohop.model.network import Network

__all__ = ["PopulationProgram", "ProjectionProgram", "Program"]


@dataclass
class PopulationProgram:
    """One population on the target.

    Attributes
    ----------
    name, size : str, int
    model : str
        ``"source"`` or the neuron model kind (``"lif"``, ``"cuba_lif"``).
    params : dict of str -> ndarray
        Per-neuron integer parameters (empty for sources).
    scalars : dict of str -> int
        Per-population integer parameters.
    units : dict of str -> float
        Model units per integer unit of each state variable (``v`` etc.), for reporting.
    offsets : dict of str -> float
        Model value of integer 0 (``model = int * unit + offset``; e.g. a shifted rest).
    """

    name: str
    size: int
    model: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)

    def to_model(self, variable: str, values: np.ndarray) -> np.ndarray:
        """Integer state values in the float model's units."""
        return values * self.units.get(variable, 1.0) + self.offsets.get(variable, 0.0)

    @property
    def is_source(self) -> bool:
        return self.model == "source"


@dataclass
class ProjectionProgram:
    """One projection on the target.

    Attributes
    ----------
    name, pre, post : str
        Projection and population names.
    pre_slice, post_slice : tuple of int
        ``[start, stop)`` inside the pre / post populations.
    receptor : str
        ``"excitatory"`` or ``"inhibitory"``.
    arrays : dict of str -> ndarray
        Integer arrays (per-synapse rows or dense matrices, per target).
    scalars : dict
        Integer parameters and flags (shifts, exponents, plasticity amplitudes).
    weight_unit : float
        nA (model units) per integer weight unit.
    plastic : bool
    """

    name: str
    pre: str
    post: str
    pre_slice: tuple[int, int]
    post_slice: tuple[int, int]
    receptor: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)
    weight_unit: float = 1.0
    plastic: bool = False


@dataclass
class Program:
    """A whole network quantised for one target.

    Attributes
    ----------
    target : Target
    dt : float
        Timestep, ms.
    populations, projections : list
    inputs : list of str
        Source populations, in the column order of input spike arrays.
    outputs : list of str
        Populations whose spikes form the output array.
    report : QuantisationReport
    network : Network or None
        The float network it came from (for comparisons), when known.
    """

    target: Target
    dt: float
    populations: list[PopulationProgram]
    projections: list[ProjectionProgram]
    inputs: list[str]
    outputs: list[str]
    report: QuantisationReport
    network: Network | None = None

    def population(self, name: str) -> PopulationProgram:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise InputError(f"program: no population named {name!r}; known: {[p.name for p in self.populations]}")

    def projection(self, name: str) -> ProjectionProgram:
        for proj in self.projections:
            if proj.name == name:
                return proj
        raise InputError(f"program: no projection named {name!r}; known: {[p.name for p in self.projections]}")

    @property
    def n_inputs(self) -> int:
        return sum(self.population(n).size for n in self.inputs)

    @property
    def n_outputs(self) -> int:
        return sum(self.population(n).size for n in self.outputs)


def default_outputs(net: Network) -> list[str]:
    """Output populations of a network: ``metadata["outputs"]`` if given, else the neuron
    populations that project nowhere (sinks), else all neuron populations."""
    meta = net.metadata.get("outputs") if isinstance(net.metadata, dict) else None
    if meta:
        return [str(n) for n in meta]
    sources = {p.pre.population for p in net.projections}
    sinks = [p.name for p in net.neurons if p.name not in sources]
    return sinks or [p.name for p in net.neurons]
