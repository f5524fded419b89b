"""The tables of kernels: which kernel simulates each neuron model and each plasticity rule.

Each kernel module registers its own entry (:func:`neuron_kernel`, :func:`plasticity_kernel`)
next to its step function, and :mod:`neurohop.kernels` imports every kernel module of the
package, so a new model is its kernel module plus its model class and nothing else.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from neurohop.errors import BuildError
from neurohop.model.neurons import STATE_VARIABLES

__all__ = ["NeuronKernel", "NEURON_KERNELS", "neuron_kernel", "PlasticityKernel", "PLASTICITY_KERNELS", "plasticity_kernel", "plasticity_kernel_for"]


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
        State fields that populations may record (besides ``spikes``): the floating-point
        fields of the kernel's state type (integer counters are internal).
    """

    name: str
    constants: Callable[[Sequence[tuple[Any, int]], float], Any]
    initial: Callable[[Sequence[tuple[Any, int]]], Any]
    step: Callable[..., tuple[Any, Any]]
    recordable: tuple[str, ...]


#: Simulated neuron models (classes) and their kernels.
NEURON_KERNELS: dict[type, NeuronKernel] = {}


def neuron_kernel(
    model: type,
    name: str,
    constants: Callable[[Sequence[tuple[Any, int]], float], Any],
    initial: Callable[[Sequence[tuple[Any, int]]], Any],
    step: Callable[..., tuple[Any, Any]],
) -> NeuronKernel:
    """Register the kernel of neuron model class ``model``; its recordable states are the
    floating-point fields of the state that ``initial`` returns."""
    state = initial([])
    recordable = tuple(f for f, v in state._asdict().items() if np.issubdtype(np.asarray(v).dtype, np.floating))
    kernel = NeuronKernel(name, constants, initial, step, recordable)
    NEURON_KERNELS[model] = kernel
    STATE_VARIABLES[model] = recordable  # what the description lets a population record
    return kernel


class PlasticityKernel(NamedTuple):
    """How to run one plasticity rule.

    Attributes
    ----------
    name : str
        Short name.
    constants : callable
        ``constants(rule, dt) -> NamedTuple``.
    step : callable
        The clock-driven step on a dense block of synapses.
    event_step : callable
        The same rule restricted to the synapses the step's spikes can change.
    synapse_initial : callable
        ``synapse_initial(w) -> state`` with one value per synapse in every field (the
        initial weights ``w`` and fresh traces).
    on_pre, on_post : callable
        ``on_x(state, t, constants) -> state`` on per-synapse values, for the synapses whose
        pre neuron spikes / whose post neuron is seen at step ``t`` (the Brian2 backend
        generates its synapse code from them).
    weight : str
        The field of the synapse state that holds the weight a pre spike delivers (and that
        a backend reports as the projection's weights).
    block_initial : callable or None
        ``block_initial(w, fill) -> state`` for ``step``: the state of a dense block whose
        weights are ``w`` (``[..., pre, post]``, a backend array), other fields made with
        ``fill(shape, value, integer)`` on the same backend. The torch backends need it;
        ``None`` for a rule they do not run.
    """

    name: str
    constants: Callable[[Any, float], Any]
    step: Callable[..., Any]
    event_step: Callable[..., Any]
    synapse_initial: Callable[[Any], Any]
    on_pre: Callable[..., Any]
    on_post: Callable[..., Any]
    weight: str = "w"
    block_initial: Callable[[Any, Callable[..., Any]], Any] | None = None


#: Plasticity rules (classes) and their kernels.
PLASTICITY_KERNELS: dict[type, PlasticityKernel] = {}


def plasticity_kernel(
    rule: type,
    name: str,
    constants: Callable[[Any, float], Any],
    step: Callable[..., Any],
    event_step: Callable[..., Any],
    synapse_initial: Callable[[Any], Any],
    on_pre: Callable[..., Any],
    on_post: Callable[..., Any],
    weight: str = "w",
    block_initial: Callable[[Any, Callable[..., Any]], Any] | None = None,
) -> PlasticityKernel:
    """Register the kernel of plasticity rule class ``rule`` (see :class:`PlasticityKernel`).

    Raises :class:`BuildError` when ``weight`` is not a field of the synapse state that
    ``synapse_initial`` returns.
    """
    fields = getattr(synapse_initial(np.zeros(0)), "_fields", ())
    if weight not in fields:
        raise BuildError(f"plasticity kernel {name!r}: weight: expected a field of its synapse state {list(fields)} (got {weight!r})")
    kernel = PlasticityKernel(name, constants, step, event_step, synapse_initial, on_pre, on_post, weight, block_initial)
    PLASTICITY_KERNELS[rule] = kernel
    return kernel


def plasticity_kernel_for(rule: Any, where: str) -> PlasticityKernel:
    """The kernel of ``rule`` (a rule object, its class, or its ``kind`` such as ``"stdp"``);
    :class:`BuildError` naming ``where`` and the supported rules."""
    if isinstance(rule, str):
        kernel = next((k for cls, k in PLASTICITY_KERNELS.items() if getattr(cls, "kind", None) == rule), None)
        shown = rule
    else:
        cls = rule if isinstance(rule, type) else type(rule)
        kernel, shown = PLASTICITY_KERNELS.get(cls), cls.__name__
    if kernel is None:
        raise BuildError(f"{where}: plasticity rule {shown} has no kernel; supported: {[c.__name__ for c in PLASTICITY_KERNELS]}")
    return kernel
