"""Export to neuromorphic fixed-point targets.

Targets are files (``neurohop/resources/hardware/*.yaml``, :mod:`neurohop.export.targets`); each names the
module that implements its integer arithmetic (:mod:`~neurohop.export.spinnaker1`,
:mod:`~neurohop.export.loihi`, :mod:`~neurohop.export.xylo`). :func:`quantise` turns a
:class:`~neurohop.model.network.Network` into a :class:`~neurohop.export.program.Program`
of integer parameters with a quantisation report; ``neurohop.build(net,
backend="fixed:<target>")`` runs it bit-accurately (:mod:`~neurohop.export.backend`);
:mod:`~neurohop.export.bundle` writes and reads export bundles; :mod:`~neurohop.export.mapping`
places a program on cores and chips; :mod:`~neurohop.export.nir_io` converts to and from NIR.
"""

from neurohop.export.targets import Target, available_targets, load_target

__all__ = ["Target", "load_target", "available_targets", "quantise", "build_fixed"]


def quantise(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`neurohop.export.backend.quantise`."""
    from neurohop.export.backend import quantise as _q

    return _q(*args, **kwargs)


def build_fixed(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`neurohop.export.backend.build_fixed`."""
    from neurohop.export.backend import build_fixed as _b

    return _b(*args, **kwargs)
