"""Checks and helpers shared by the target modules (what fits, what a target supports)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurohop.errors import BuildError, CapacityError
from neurohop.export.targets import Target
from neurohop.model.network import Network, Projection

__all__ = ["check_network", "freeze_plasticity", "resolve_dt", "slices", "dense_block", "fan_in", "as_json"]


def resolve_dt(target: Target, dt: float | None) -> float:
    """The timestep to export with: the target's fixed one, or the given ``dt`` (ms)."""
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0 or not math.isfinite(dt)):
        raise BuildError(f"{target.name}: dt: expected a positive number of ms (got {dt!r})")
    if target.timestep_ms is not None:
        if dt is not None and abs(float(dt) - target.timestep_ms) > 1e-12:
            raise BuildError(f"{target.name}: dt: the target runs at a fixed timestep of {target.timestep_ms} ms ({target.path}: timestep_ms) (got {dt})")
        return float(target.timestep_ms)
    return 1.0 if dt is None else float(dt)


def freeze_plasticity(net: Network) -> Network:
    """The network with every plastic projection made static at its current (initial) weight."""
    projs = []
    for proj in net.projections:
        if proj.plasticity is None:
            projs.append(proj)
        else:
            projs.append(Projection(proj.name, proj.pre, proj.post, proj.connector, proj.weight, proj.delay, proj.receptor, None))
    return net.with_updates(projections=projs)


def check_network(net: Network, target: Target) -> None:
    """Refuse what the target cannot run: neuron models, plasticity rules, delays.

    Raises
    ------
    BuildError
        For a neuron model or plasticity rule the target lacks (naming what it supports).
    CapacityError
        For a delay over the target's limit.
    """
    for pop in net.neurons:
        if pop.model.kind not in target.neuron_models:
            raise BuildError(
                f"{target.name}: population {pop.name!r}: neuron model {pop.model.kind!r} is not supported by this target; "
                f"supported: {list(target.neuron_models)} ({target.path}: neuron_models)"
            )
    for proj in net.projections:
        if proj.plasticity is not None and proj.plasticity.kind not in target.plasticity_rules:
            supported = list(target.plasticity_rules) or "none"
            raise BuildError(
                f"{target.name}: projection {proj.name!r}: plasticity rule {proj.plasticity.kind!r} is not available on this target "
                f"(supported: {supported}); export with freeze_plasticity=True to run it with fixed weights"
            )
    max_delay = target.limit("max_delay_steps")
    for proj in net.projections:
        d = proj.max_delay()
        if max_delay is not None and d > max_delay:
            raise CapacityError(f"{target.name}: projection {proj.name!r}: delay of {d} steps exceeds the limit of {max_delay} ({target.path}: limits.max_delay_steps)")


def slices(net: Network, proj: Projection) -> tuple[tuple[int, int], tuple[int, int]]:
    """Absolute ``[start, stop)`` of a projection's pre and post slices."""
    sizes = net.sizes
    return proj.pre.resolve(sizes[proj.pre.population]), proj.post.resolve(sizes[proj.post.population])


def dense_block(net: Network, proj: Projection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, delays and existence mask of a projection as ``[pre_slice, post_slice]`` matrices.

    Duplicate (pre, post) pairs are summed (they must share a delay).
    """
    (a0, a1), (b0, b1) = slices(net, proj)
    pre, post, w, d = proj.synapses(net.sizes)
    shape = (a1 - a0, b1 - b0)
    size = shape[0] * shape[1]
    flat = (pre - a0) * shape[1] + (post - b0)
    # summed in synapse order, as np.add.at would (bincount adds one weight at a time)
    W = np.bincount(flat, weights=np.asarray(w, dtype=np.float64), minlength=size).reshape(shape)
    d = np.asarray(d, dtype=np.int64)
    D = np.zeros(size, dtype=np.int64)
    D[flat] = d
    # duplicates must share their delay
    if np.any(D[flat] != d):
        raise BuildError(f"projection {proj.name!r}: a (pre, post) pair appears twice with different delays; the target stores one delay per pair")
    M = np.zeros(size, dtype=bool)
    M[flat] = True
    return W, D.reshape(shape), M.reshape(shape)


def fan_in(net: Network) -> dict[str, np.ndarray]:
    """Number of incoming synapses per neuron, per population."""
    out = {p.name: np.zeros(p.size, dtype=np.int64) for p in net.neurons}
    for proj in net.projections:
        _, post, _, _ = proj.synapses(net.sizes)
        np.add.at(out[proj.post.population], post, 1)
    return out


def as_json(value: Any) -> Any:
    """Convert NumPy scalars inside nested containers to Python numbers."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return as_json(value.tolist())
    return value
