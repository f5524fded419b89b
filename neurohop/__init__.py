"""neurohop: spiking and neuromorphic simulation.

One backend-neutral description (:mod:`neurohop.model`), several simulation backends
(:mod:`neurohop.backends`: ``"brian2"`` and ``"torch"``), and on top of them the CA3
memories (:mod:`neurohop.cam`), Hebbian orthogonal-projection continual learning
(:mod:`neurohop.hlop`) and fixed-point hardware export (:mod:`neurohop.export`).

>>> import neurohop
>>> net = neurohop.model.load_model("ca3_cam", C=5, K=10)      # doctest: +SKIP
>>> sim = neurohop.build(net, backend="torch", dt=1.0, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from neurohop import errors, model
from neurohop import kernels as _kernels  # noqa: F401  (the kernels register each model's states with the model)
from neurohop.errors import NeurohopError

__version__ = "0.1.0"

__all__ = ["build", "model", "errors", "NeurohopError", "__version__"]


def build(net: "model.Network", backend: str = "torch", **options: Any) -> Any:
    """Compile ``net`` for a backend and return a ready :class:`~neurohop.backends.base.Simulation`.

    Parameters
    ----------
    net : Network
        The description.
    backend : str
        A registered backend name (``"torch"``, ``"brian2"``); see
        :func:`neurohop.backends.available`.
    **options
        Backend options: ``dt`` (ms), ``seed``, and e.g. ``device``, ``batch``, ``dtype`` for
        torch or ``target`` for brian2.
    """
    from neurohop.backends import build as _build

    return _build(net, backend=backend, **options)
