"""Pure step functions shared by the backends, and the table of neuron kernels.

The kernels take and return plain arrays (NumPy or torch: only ``+ - * >=``, indexing,
``.clip`` and ``where`` are used) in NamedTuple states, and never hold state themselves.
Their docstrings are the one place where the order of operations in a timestep is stated;
the Brian2 backend generates its code by running the step functions on symbolic values
(:mod:`neurohop.backends.brian2.codegen`), so it performs the same operations in the same
order, which is what makes spike trains identical across backends.

:data:`NEURON_KERNELS` maps each simulated neuron model class to its
:class:`NeuronKernel`, :data:`PLASTICITY_KERNELS` each plasticity rule class to its
:class:`PlasticityKernel` (:mod:`neurohop.kernels.registry`). Each kernel module registers
its own entry and this package imports every module in it, so a new neuron model is its
kernel module plus its model class (in :mod:`neurohop.model.neurons`, with its entry in
``NEURON_MODELS``), and nothing else. Likewise a new plasticity rule is its kernel module
(registering itself with :func:`~neurohop.kernels.registry.plasticity_kernel`, naming the
synapse-state field that holds the weight) plus its rule class (in
:mod:`neurohop.model.synapses`, with its entry in ``PLASTICITY_RULES``); backends look it
up with :func:`plasticity_kernel_for` (by rule object, class or ``kind``).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Sequence

import numpy as np

from neurohop.kernels.cuba import CUBAConstants, CUBAState, cuba_constants, cuba_initial, cuba_step
from neurohop.kernels.lif import LIFConstants, LIFState, lif_constants, lif_initial, lif_step
from neurohop.kernels.stdp import STDPConstants, STDPState, stdp_constants, stdp_step
from neurohop.kernels.registry import NEURON_KERNELS, PLASTICITY_KERNELS, NeuronKernel, PlasticityKernel, plasticity_kernel_for
from neurohop.model.neurons import NEURON_MODELS

__all__ = [
    "NeuronKernel",
    "NEURON_KERNELS",
    "PlasticityKernel",
    "PLASTICITY_KERNELS",
    "plasticity_kernel_for",
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


def _import_kernel_modules() -> None:
    """Import every kernel module of this package (each registers its own kernels), then
    order the table like :data:`~neurohop.model.neurons.NEURON_MODELS`."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
    order = list(NEURON_MODELS.values())
    ranked = sorted(NEURON_KERNELS.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    NEURON_KERNELS.clear()
    NEURON_KERNELS.update(ranked)


_import_kernel_modules()


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
