"""Hebbian orthogonal-projection continual learning (HLOP) for spiking networks.

Spiking classifiers learn task after task without forgetting: lateral circuits learn, with
Oja's Hebbian/anti-Hebbian subspace rule, the principal subspace of each layer's past input
activity, and later weight updates are projected orthogonal to it (Xiao et al., ICLR 2024).

Public API (imported lazily, so ``import neurohop.hlop`` does not load torch):

* settings: :func:`read_config`, :class:`HLOPConfig` (``neurohop/resources/models/hlop_*.yaml``)
* network: :class:`SpikingMLP`, :func:`layer_step`, :func:`encode_if`; convolutional:
  :class:`SpikingConvNet`, :class:`SpikingResNet18`, :func:`build_classifier` (``network.kind``)
* lateral circuits: :class:`LateralCircuit`, :func:`hebbian_step`, :func:`spiking_response`
* projection: :func:`project_out`, :func:`project_weight_gradient`, :func:`traced_linear`
* training methods: :func:`make_trainer` (bptt, dsr, ottt, fa, ss)
* continual learning: :func:`run_continual`, :class:`ContinualResult`; methods: :class:`ContinualMethod`,
  :data:`METHODS`, :func:`register` (one file per method in :mod:`neurohop.hlop.methods`)
* classifier files: :func:`save_classifier`, :func:`load_classifier`, :func:`run_classifier`,
  :func:`to_nir`, :func:`from_nir`; as a shared network: :func:`to_network`, :func:`from_network`
* figures: :func:`plot_accuracy_matrix`

The CLI is ``neurohop cl run`` (:mod:`neurohop.hlop.cli`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "read_config": "neurohop.hlop.config",
    "config_from_dict": "neurohop.hlop.config",
    "HLOPConfig": "neurohop.hlop.config",
    "NetworkConfig": "neurohop.hlop.config",
    "TRAIN_METHODS": "neurohop.hlop.config",
    "SpikingMLP": "neurohop.hlop.network",
    "ClassifierOutput": "neurohop.hlop.network",
    "SpikingConvNet": "neurohop.hlop.conv",
    "build_classifier": "neurohop.hlop.conv",
    "SpikingResNet18": "neurohop.hlop.resnet",
    "LayerParameters": "neurohop.hlop.neurons",
    "LayerState": "neurohop.hlop.neurons",
    "layer_step": "neurohop.hlop.neurons",
    "layer_scan": "neurohop.hlop.neurons",
    "encode_if": "neurohop.hlop.neurons",
    "LateralCircuit": "neurohop.hlop.lateral",
    "HebbianParameters": "neurohop.hlop.lateral",
    "SpikingLateralParameters": "neurohop.hlop.lateral",
    "hebbian_step": "neurohop.hlop.lateral",
    "spiking_response": "neurohop.hlop.lateral",
    "project_out": "neurohop.hlop.projection",
    "project_weight_gradient": "neurohop.hlop.projection",
    "traced_linear": "neurohop.hlop.projection",
    "make_trainer": "neurohop.hlop.training",
    "run_continual": "neurohop.hlop.runner",
    "ContinualResult": "neurohop.hlop.runner",
    "METHODS": "neurohop.hlop.methods",
    "ContinualMethod": "neurohop.hlop.methods",
    "MethodContext": "neurohop.hlop.methods",
    "register": "neurohop.hlop.methods",
    "save_classifier": "neurohop.hlop.checkpoint",
    "load_classifier": "neurohop.hlop.checkpoint",
    "run_classifier": "neurohop.hlop.checkpoint",
    "to_nir": "neurohop.hlop.checkpoint",
    "to_network": "neurohop.hlop.as_network",
    "from_network": "neurohop.hlop.as_network",
    "from_nir": "neurohop.hlop.checkpoint",
    "plot_accuracy_matrix": "neurohop.hlop.plotting",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'neurohop.hlop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
