"""Pure step functions shared by the backends, and the table of neuron kernels.

The kernels take and return plain arrays (NumPy or torch: only ``+ - * >=``, indexing,
``.clip`` and ``where`` are used) in NamedTuple states, and never hold state themselves.
Their docstrings are the one place where the order of operations in a timestep is stated;
the Brian2 backend generates its code by running the step functions on symbolic values
(:mod:`neurohop.backends.brian2.codegen`), so it performs the same operations in the same
order, which is what makes spike trains identical across backends.

:data:`NEURON_KERNELS` maps each simulated neuron model class to its
:class:`NeuronKernel`. A new neuron model is added by writing its kernel module and one
entry here.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from neurohop.kernels.cuba import CUBAConstants, CUBAState, cuba_constants, cuba_initial, cuba_step
from neurohop.kernels.lif import LIFConstants, LIFState, lif_constants, lif_initial, lif_step
from neurohop.kernels.stdp import STDPConstants, STDPState, stdp_constants, stdp_step
from neurohop.model.neurons import LIF, CubaLIF, NeuronModel

__all__ = [
    "NeuronKernel",
    "NEURON_KERNELS",
    "LIFConstants",
    "LIFState",
    "lif_constants",
    "lif_initial",
    "lif_step",
    "CUBAConstants",
    "CUBAState",
    "cuba_constants",
    "cuba_initial",
    "cuba_step",
    "STDPConstants",
    "STDPState",
    "stdp_constants",
    "stdp_step",
    "population_initial",
    "population_constants",
]


class NeuronKernel(NamedTuple):
    """How to simulate one neuron model, independent of the array library.

    Attributes
    ----------
    name : str
        Short name (used for Brian2 object names).
    constants : callable
        ``constants([(model, size), ...], dt) -> NamedTuple`` of per-neuron NumPy arrays.
    initial : callable
        ``initial([(model, size), ...]) -> NamedTuple`` state of NumPy arrays.
    step : callable
        ``step(state, in_e, in_i, constants, where) -> (spikes, state)``.
    recordable : tuple of str
        State fields that populations may record (besides ``spikes``).
    """

    name: str
    constants: Callable[[Sequence[tuple[Any, int]], float], Any]
    initial: Callable[[Sequence[tuple[Any, int]]], Any]
    step: Callable[..., tuple[Any, Any]]
    recordable: tuple[str, ...]


#: Simulated neuron models and their kernels.
NEURON_KERNELS: dict[type[NeuronModel], NeuronKernel] = {
    LIF: NeuronKernel("lif", lif_constants, lif_initial, lif_step, ("v", "i_e", "i_i")),
    CubaLIF: NeuronKernel("cuba", cuba_constants, cuba_initial, cuba_step, ("u", "v")),
}


def population_initial(kernel: NeuronKernel, pops: Sequence[Any]) -> Any:
    """Initial state of populations simulated together by ``kernel``: the kernel's initial
    state of each neuron's model (see :func:`population_constants`), with the populations'
    per-neuron ``initial`` values put in."""
    if not any(p.initial or p.parameters for p in pops):
        return kernel.initial([(p.model, p.size) for p in pops])
    parts = []
    for pop in pops:
        models, index = pop.neuron_models()
        rows = kernel.initial([(m, 1) for m in models])
        fields = {name: np.array(np.asarray(values)[index], copy=True) for name, values in rows._asdict().items()}
        for var, values in pop.initial.items():
            fields[var][:] = values
        parts.append(fields)
    return type(rows)(**{name: np.concatenate([part[name] for part in parts]) for name in rows._fields})


def population_constants(kernel: NeuronKernel, pops: Sequence[Any], dt: float) -> Any:
    """Per-neuron constants of populations simulated together by ``kernel``, with the
    populations' per-neuron ``parameters`` put in (the kernel computes one row per distinct
    model; each neuron takes its model's row)."""
    if not any(p.parameters for p in pops):
        return kernel.constants([(p.model, p.size) for p in pops], dt)
    parts = []
    for pop in pops:
        models, index = pop.neuron_models()
        rows = kernel.constants([(m, 1) for m in models], dt)
        parts.append([np.asarray(a)[index] for a in rows])
    return type(rows)(*[np.concatenate([part[k] for part in parts]) for k in range(len(rows))])
