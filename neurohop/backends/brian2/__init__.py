"""Brian2 backend (runtime device; Cython target with NumPy fallback). See :func:`build_brian2`."""

from neurohop.backends.brian2.simulation import Brian2Simulation, build_brian2

__all__ = ["build_brian2", "Brian2Simulation"]
