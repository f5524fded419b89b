"""Simulation backends and their registry.

``"torch"`` (PyTorch, CPU or CUDA, batched), ``"torch_event"`` (event-driven torch for large
recurrent memories) and ``"brian2"`` (Brian2 runtime device, Cython or NumPy target) compile
the same :class:`~neurohop.model.network.Network` and give the same spikes;
``"fixed:<target>"`` runs the network quantised for a hardware target in a bit-accurate
integer simulator. The registry names each backend's :class:`Simulation` class by its
import path, so using one backend never imports another, and this package imports nothing
above it (the integer simulators live in :mod:`neurohop.export`).

What a backend can do is declared in its :class:`Capabilities`
(:func:`capabilities` before building, ``sim.capabilities`` after); what it accepts, in its
``OPTIONS`` (:func:`options`).
"""

from __future__ import annotations

from typing import Any

from neurohop.backends.base import Capabilities, Option, RunResult, Simulation, available, capabilities, options, register, simulation_class
from neurohop.backends.base import build as _build
from neurohop.model.network import Network

__all__ = ["build", "available", "register", "capabilities", "options", "simulation_class", "Capabilities", "Option", "RunResult", "Simulation"]

register("torch", "neurohop.backends.torch.simulation:TorchSimulation")
register("brian2", "neurohop.backends.brian2.simulation:Brian2Simulation")
# event-driven torch (shared plastic weights, batched frozen recall): large recurrent memories
register("torch_event", "neurohop.backends.torch.event:EventSimulation")
# bit-accurate integer simulation of a hardware target: backend="fixed:<target>"
register("fixed", "neurohop.export.backend:FixedSimulation", family=True)


def build(net: Network, backend: str = "torch", **options: Any) -> Simulation:
    """Compile ``net`` with a backend; see :func:`neurohop.build`."""
    return _build(net, backend=backend, **options)
