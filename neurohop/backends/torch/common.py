"""Helpers shared by the torch backends and by features that size or place torch work.

Public so that other packages need no private name: :func:`resolve_device`,
:func:`resolve_dtype`, :func:`clone_state` and :func:`kernel_states`.
"""

from __future__ import annotations

from typing import Any

import torch

from neurohop.errors import BuildError

__all__ = ["resolve_device", "resolve_dtype", "clone_state", "kernel_states", "itemsize", "DTYPES"]

#: Accepted spellings of the floating-point types.
DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}


def clone_state(x: Any) -> Any:
    """Deep copy of nested (named) tuples of tensors."""
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, tuple):
        items = [clone_state(v) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    return x


def resolve_dtype(dtype: Any, backend: str = "torch") -> torch.dtype:
    """``"float64"``/``"float32"`` (or the torch dtype) as a torch dtype; a clear BuildError otherwise."""
    if isinstance(dtype, torch.dtype) and dtype in (torch.float64, torch.float32):
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise BuildError(f"{backend}: dtype: expected 'float64' or 'float32' (got {dtype!r})")


def resolve_device(device: Any, backend: str = "torch") -> torch.device:
    """A usable torch device; a clear BuildError for a malformed or absent one."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise BuildError(f"{backend}: device: expected a torch device such as 'cpu' or 'cuda' (got {device!r})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BuildError(f"{backend}: device {device!r} requested but CUDA is not available on this machine; use device='cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise BuildError(f"{backend}: device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), cuda:0..cuda:{torch.cuda.device_count() - 1}")
    return dev


def kernel_states() -> dict[str, tuple[str, ...]]:
    """Recordable state variables per neuron model kind, from the kernels' table."""
    from neurohop.kernels import NEURON_KERNELS

    return {model.kind: kernel.recordable for model, kernel in NEURON_KERNELS.items()}


def itemsize(dtype: Any, backend: str = "torch") -> int:
    """Bytes per value of a ``dtype`` option."""
    return resolve_dtype(dtype, backend).itemsize


def plastic_kernel(rule: Any, where: str) -> Any:
    """The plasticity kernel of ``rule`` for the torch backends, which run its dense-block form:
    :class:`~neurohop.errors.BuildError` naming ``where`` when the kernel has none."""
    from neurohop.errors import BuildError
    from neurohop.kernels.registry import plasticity_kernel_for

    kernel = plasticity_kernel_for(rule, where)
    if kernel.block_initial is None:
        raise BuildError(f"{where}: plasticity rule {kernel.name!r} has no dense-block form (its kernel's block_initial), which the torch backends run")
    return kernel


def plastic_rules() -> tuple[str, ...]:
    """Kinds of the registered plasticity rules the torch backends can run (those with a dense-block form)."""
    from neurohop.kernels.registry import PLASTICITY_KERNELS

    return tuple(getattr(rule, "kind", kernel.name) for rule, kernel in PLASTICITY_KERNELS.items() if kernel.block_initial is not None)


def block_state(kernel: Any, w: torch.Tensor) -> Any:
    """A fresh dense-block state of ``kernel`` for weights ``w``, on ``w``'s device and dtype."""
    def fill(shape: tuple[int, ...], value: float, integer: bool) -> torch.Tensor:
        return torch.full(shape, value, device=w.device, dtype=torch.int64 if integer else w.dtype)

    return kernel.block_initial(w, fill)
