"""Simulation backends and their registry.

``"torch"`` (PyTorch, CPU or CUDA, batched) and ``"brian2"`` (Brian2 runtime device,
Cython or NumPy target) compile the same :class:`~neurohop.model.network.Network` and give
the same spikes; ``"fixed:<target>"`` runs the network quantised for a hardware target in a
bit-accurate integer simulator (:mod:`neurohop.export`). Backends are imported lazily, so that using one never imports the other.
"""

from __future__ import annotations

from typing import Any

from neurohop.backends.base import RunResult, Simulation, available, register
from neurohop.backends.base import build as _build
from neurohop.model.network import Network

__all__ = ["build", "available", "register", "RunResult", "Simulation"]


def _lazy(module: str, attr: str) -> Any:
    def builder(net: Network, **options: Any) -> Simulation:
        import importlib

        return getattr(importlib.import_module(module), attr)(net, **options)

    return builder


register("torch", _lazy("neurohop.backends.torch", "build_torch"))
register("brian2", _lazy("neurohop.backends.brian2", "build_brian2"))
# event-driven torch (shared plastic weights, batched frozen recall): large recurrent memories
register("torch_event", _lazy("neurohop.backends.torch.event", "build_torch_event"))


def _fixed(net: Network, target: str, **options: Any) -> Simulation:
    from neurohop.export.backend import build_fixed

    return build_fixed(net, target, **options)


# bit-accurate integer simulation of a hardware target: backend="fixed:<target>"
register("fixed", _fixed, family=True)


def build(net: Network, backend: str = "torch", **options: Any) -> Simulation:
    """Compile ``net`` with a backend; see :func:`neurohop.build`."""
    return _build(net, backend=backend, **options)
