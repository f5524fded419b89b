"""Saving, loading and exporting a trained HLOP classifier.

Checkpoint file (``.npz``, written atomically by :func:`save_classifier`):

``meta_json``
    A JSON document with ``format: neurohop-hlop-classifier/1`` and everything needed to run
    the network: ``n_inputs``, ``hidden``, ``head_sizes``, ``shared_head``, ``timesteps``,
    ``neuron`` (``beta``, ``update``/``threshold``/``reset`` rules in words), ``encoder``
    (``kind: if``, ``levels``), ``readout``, ``tasks`` (scenario, head, classes of every task),
    and optional ``info`` (method, training method, accuracy...).
``fc{i}.weight`` / ``fc{i}.bias`` / ``fc{i}.v_th``
    Hidden layer ``i``: weights (out x in), bias (out; absent when bias-free), per-neuron
    threshold (out).
``head{h}.weight`` / ``head{h}.bias``
    Readout head ``h``.
``task_permutations``
    (tasks x n_inputs) pixel permutation of each task (permuted scenario only).
``lateral{k}.weight``
    The lateral weights ``H`` of projected layer ``k`` (HLOP methods only).

:func:`run_classifier` runs the float network on given input spikes -- the reference that a
fixed-point export is compared with -- and :func:`to_nir` describes it as a NIR graph.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.errors import InputError, ModelFileError
from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.network import Simulation, SpikingMLP

__all__ = ["CHECKPOINT_FORMAT", "Classifier", "save_classifier", "load_classifier", "run_classifier", "to_nir", "from_nir"]

CHECKPOINT_FORMAT = "neurohop-hlop-classifier/1"


class Classifier(NamedTuple):
    """A loaded checkpoint: the network and its metadata.

    Attributes
    ----------
    net : SpikingMLP
    meta : dict
        The ``meta_json`` document.
    arrays : dict
        Extra arrays (``task_permutations``, ``lateral{k}.weight``) as numpy arrays.
    """

    net: SpikingMLP
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


def _neuron_meta(net: SpikingMLP) -> dict[str, Any]:
    return {
        "model": "lif",
        "beta": net.config.beta,
        "update": "v <- beta * v + W x (+ b)",
        "threshold": "spike when v > v_th (strict)",
        "reset": "hard reset v <- 0 after a spike",
        "initial_v": 0.0,
        "propagation": "spikes of layer l at step t drive layer l+1 at the same step t",
    }


def save_classifier(
    path: str | os.PathLike[str],
    net: SpikingMLP,
    tasks: Mapping[str, Any] | None = None,
    permutations: Sequence[np.ndarray] | None = None,
    lateral: Sequence[torch.Tensor] | None = None,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write a trained classifier to an ``.npz`` checkpoint (see the module docstring).

    Parameters
    ----------
    path : str or path-like
    net : SpikingMLP
    tasks : mapping, optional
        Task description (e.g. :meth:`TaskSequence.describe`).
    permutations : sequence of numpy.ndarray, optional
        Per-task pixel permutations (permuted scenario).
    lateral : sequence of torch.Tensor, optional
        Lateral weights of the projected layers.
    info : mapping, optional
        Free JSON-friendly information (method, accuracy, ...).
    """
    from neurohop.model.io import atomic_write

    c = net.config
    meta = {
        "format": CHECKPOINT_FORMAT,
        "n_inputs": net.n_inputs,
        "hidden": list(c.hidden),
        "head_sizes": [h.out_features for h in net.heads],
        "shared_head": net.shared_head,
        "bias": c.bias,
        "timesteps": c.timesteps,
        "neuron": _neuron_meta(net),
        "surrogate": {"method": c.surrogate, "alpha": c.surrogate_alpha},
        "encoder": {
            "kind": "if",
            "levels": c.encoder_levels,
            "rule": "q = round(p * levels); spike at step t (1-based) iff floor(t q / levels) > floor((t-1) q / levels)",
        },
        "readout": "integrator o <- o + W_head z[t] (+ b); logits = o / timesteps; class = argmax",
        "tasks": dict(tasks or {}),
        "info": dict(info or {}),
    }
    arrays: dict[str, np.ndarray] = {"meta_json": np.array(json.dumps(meta))}
    for i, lin in enumerate(net.layers):
        arrays[f"fc{i}.weight"] = lin.weight.detach().cpu().numpy()
        if lin.bias is not None:
            arrays[f"fc{i}.bias"] = lin.bias.detach().cpu().numpy()
        arrays[f"fc{i}.v_th"] = net.thresholds()[i].detach().cpu().numpy()
    for h, lin in enumerate(net.heads):
        arrays[f"head{h}.weight"] = lin.weight.detach().cpu().numpy()
        if lin.bias is not None:
            arrays[f"head{h}.bias"] = lin.bias.detach().cpu().numpy()
    if permutations is not None:
        arrays["task_permutations"] = np.stack([np.asarray(p, dtype=np.int64) for p in permutations])
    for k, h in enumerate(lateral or []):
        arrays[f"lateral{k}.weight"] = h.detach().cpu().numpy()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(path, write, suffix=".npz")


def load_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Classifier:
    """Read a checkpoint written by :func:`save_classifier`.

    Raises
    ------
    ModelFileError
        When the file is not a readable checkpoint of this format; the message names the field.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{p}: cannot read checkpoint: {exc}") from None
    if "meta_json" not in arrays:
        raise ModelFileError(f"{p}: meta_json: missing (not a neurohop HLOP checkpoint)")
    try:
        meta = json.loads(str(arrays.pop("meta_json")))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{p}: meta_json: not valid JSON: {exc}") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{p}: format: expected {CHECKPOINT_FORMAT!r} (got {meta.get('format')!r})")
    try:
        cfg = NetworkConfig(
            hidden=tuple(int(h) for h in meta["hidden"]),
            timesteps=int(meta["timesteps"]),
            beta=float(meta["neuron"]["beta"]),
            bias=bool(meta["bias"]),
            surrogate=str(meta["surrogate"]["method"]),
            surrogate_alpha=float(meta["surrogate"]["alpha"]),
            encoder_levels=int(meta["encoder"]["levels"]),
        )
        head_sizes = tuple(int(k) for k in meta["head_sizes"])
        n_inputs = int(meta["n_inputs"])
    except KeyError as exc:
        raise ModelFileError(f"{p}: meta_json: missing field {exc}") from None
    except ModelFileError as exc:
        raise ModelFileError(f"{p}: meta_json: {exc}") from None
    net = SpikingMLP(n_inputs, head_sizes, cfg, torch.Generator().manual_seed(0), bool(meta["shared_head"]), device)

    def take(key: str, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in arrays:
            raise ModelFileError(f"{p}: {key}: missing array")
        a = arrays.pop(key)
        if a.shape != shape:
            raise ModelFileError(f"{p}: {key}: expected shape {shape} (got {a.shape})")
        return torch.from_numpy(np.ascontiguousarray(a))

    with torch.no_grad():
        for i, lin in enumerate(net.layers):
            lin.weight.copy_(take(f"fc{i}.weight", tuple(lin.weight.shape)))
            if lin.bias is not None:
                lin.bias.copy_(take(f"fc{i}.bias", tuple(lin.bias.shape)))
            net.thresholds()[i].copy_(take(f"fc{i}.v_th", (lin.out_features,)))
        for h, lin in enumerate(net.heads):
            lin.weight.copy_(take(f"head{h}.weight", tuple(lin.weight.shape)))
            if lin.bias is not None:
                lin.bias.copy_(take(f"head{h}.bias", tuple(lin.bias.shape)))
    return Classifier(net, meta, arrays)


@torch.no_grad()
def run_classifier(net: SpikingMLP, input_spikes: torch.Tensor | np.ndarray, head: int = 0) -> Simulation:
    """Run the float spiking classifier on given input spikes (the reference for an export).

    Parameters
    ----------
    net : SpikingMLP
    input_spikes : tensor or array
        (timesteps, batch, n_inputs), 0/1; e.g. ``net.encode(images)``.
    head : int
        Readout head.

    Returns
    -------
    Simulation
        Hidden spikes per layer and logits (readout potential / timesteps).
    """
    s = torch.as_tensor(np.asarray(input_spikes) if isinstance(input_spikes, np.ndarray) else input_spikes)
    if s.shape[0] != net.timesteps:
        raise InputError(f"run_classifier: input_spikes: expected {net.timesteps} timesteps (got {s.shape[0]})")
    return net.simulate(s.to(net.device, torch.float32), head)


def to_nir(net: SpikingMLP, head: int = 0, dt: float = 1e-3, for_peers: bool = False) -> Any:
    """Describe the classifier (one head) as a ``nir.NIRGraph``.

    Graph: ``input -> fc0 -> lif0 -> fc1 -> lif1 ... -> head -> readout -> output``, where
    ``fc*``/``head`` are ``nir.Linear`` (``nir.Affine`` with a bias), hidden neurons are
    ``nir.LIF`` (``nir.IF`` when ``beta = 1``) and the readout is an integrator ``nir.I``.

    Time semantics: NIR neurons are continuous-time, ``tau dv/dt = (v_leak - v) + R I``. One
    forward-Euler step of length ``dt`` gives ``v <- (1 - dt/tau) v + (dt R / tau) I``, which is
    this network's ``v <- beta v + I`` for ``tau = dt / (1 - beta)`` and ``R = tau / dt =
    1 / (1 - beta)``, ``v_leak = 0``, ``v_reset = 0``; ``nir.IF`` and ``nir.I`` take
    ``R = 1 / dt``. Spikes are ``v > v_threshold`` followed by a reset to ``v_reset``, as here.
    Consumers must step the graph with the same ``dt`` (in seconds), forward Euler, propagating
    a spike through all layers within the step. The input are the encoder's spikes (the
    encoder is not part of the graph); the readout's potential after ``T`` steps divided by
    ``T`` equals the logits of :meth:`SpikingMLP.simulate`.

    ``for_peers=True`` writes a graph that Norse 1.1 and snnTorch 1.0 load (``dt = 1e-4`` s
    for snnTorch, whose importer fixes it): Norse ignores a ``LIF``'s ``r`` and snnTorch wants
    one threshold per layer, so each hidden ``LIF`` gets ``r = 1`` and ``v_threshold = 1``
    with ``r / v_threshold`` of each neuron folded into its incoming weights and bias (the
    same spikes: the reset is to 0 and there is no leak potential); neither maps ``nir.I``,
    so the readout is a ``nir.LIF`` with ``tau = dt``, ``r = 1`` and an infinite threshold,
    whose potential at each step is the head's output of that step: the logits are the
    mean of that potential over the ``T`` steps. The default graph stays exact for neurohop
    (:func:`from_nir` and :func:`neurohop.export.classifier.classifier_network` read it
    without rounding); the folded one differs from it by float32 rounding of the weights.
    """
    from neurohop._optional import require

    nir = require("nir", "exporting to NIR")
    if not 0 <= head < len(net.heads):
        raise InputError(f"to_nir: head: expected 0 .. {len(net.heads) - 1} (got {head})")
    if not dt > 0:
        raise InputError(f"to_nir: dt: expected a positive step in seconds (got {dt})")
    beta = float(net.config.beta)

    def lin_node(lin: torch.nn.Linear, gain: np.ndarray | None = None) -> Any:
        """``Linear``/``Affine`` of a layer; ``gain`` (per output, float32) scales its rows."""
        w = lin.weight.detach().cpu().numpy().astype(np.float32)
        b = None if lin.bias is None else lin.bias.detach().cpu().numpy().astype(np.float32)
        if gain is not None:
            w, b = w * gain[:, None], None if b is None else b * gain
        return nir.Linear(weight=w) if b is None else nir.Affine(weight=w, bias=b)

    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([net.n_inputs])})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for i, lin in enumerate(net.layers):
        n = lin.out_features
        vth = net.thresholds()[i].detach().cpu().numpy().astype(np.float32)
        nodes[f"fc{i}"] = lin_node(lin)
        if for_peers and beta < 1.0:  # r / v_threshold folded into the incoming weights
            nodes[f"fc{i}"] = lin_node(lin, (1.0 / ((1.0 - beta) * vth.astype(np.float64))).astype(np.float32))
            one = np.ones(n, dtype=np.float32)
            nodes[f"lif{i}"] = nir.LIF(tau=np.full(n, dt / (1.0 - beta), dtype=np.float32), r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one)
        elif beta < 1.0:
            tau = dt / (1.0 - beta)
            nodes[f"lif{i}"] = nir.LIF(
                tau=np.full(n, tau, dtype=np.float32),
                r=np.full(n, 1.0 / (1.0 - beta), dtype=np.float32),
                v_leak=np.zeros(n, dtype=np.float32),
                v_threshold=vth,
                v_reset=np.zeros(n, dtype=np.float32),
            )
        else:
            nodes[f"lif{i}"] = nir.IF(r=np.full(n, 1.0 / dt, dtype=np.float32), v_threshold=vth, v_reset=np.zeros(n, dtype=np.float32))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    out = net.heads[head]
    nodes["head"] = lin_node(out)
    if for_peers:
        one = np.ones(out.out_features, dtype=np.float32)
        nodes["readout"] = nir.LIF(tau=np.full(out.out_features, dt, dtype=np.float32), r=one, v_leak=0 * one, v_threshold=np.full(out.out_features, np.inf, dtype=np.float32), v_reset=0 * one)
    else:
        nodes["readout"] = nir.I(r=np.full(out.out_features, 1.0 / dt, dtype=np.float32))
    nodes["output"] = nir.Output(output_type={"output": np.array([out.out_features])})
    edges += [(prev, "head"), ("head", "readout"), ("readout", "output")]
    metadata = {
        "producer": "neurohop.hlop",
        "dt": dt,
        "timesteps": net.timesteps,
        "beta": beta,
        "encoder_levels": net.config.encoder_levels,
        "head": head,
        "for_peers": for_peers,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def from_nir(graph: Any, timesteps: int | None = None, encoder_levels: int = 255) -> SpikingMLP:
    """Rebuild a single-head :class:`SpikingMLP` from a graph made by :func:`to_nir`.

    Only that chain layout is understood; anything else raises :class:`InputError` naming the
    node. ``timesteps`` defaults to the graph's metadata.
    """
    import nir

    meta = dict(getattr(graph, "metadata", {}) or {})
    if bool(meta.get("for_peers", False)):
        raise InputError("from_nir: graph: written with for_peers=True (weights rescaled for Norse/snnTorch); rebuild from the default graph")
    dt = float(meta.get("dt", 1e-3))
    nodes = graph.nodes
    i = 0
    weights: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
    beta: float | None = None
    while f"fc{i}" in nodes:
        fc, neuron = nodes[f"fc{i}"], nodes.get(f"lif{i}")
        if not isinstance(fc, (nir.Linear, nir.Affine)):
            raise InputError(f"from_nir: node fc{i}: expected nir.Linear or nir.Affine (got {type(fc).__name__})")
        if isinstance(neuron, nir.LIF):
            b = float(1.0 - dt / float(np.asarray(neuron.tau).reshape(-1)[0]))
            if "beta" in meta and abs(float(meta["beta"]) - b) < 1e-5:
                b = float(meta["beta"])  # tau is float32: take the exact value when it agrees
        elif isinstance(neuron, nir.IF):
            b = 1.0
        else:
            raise InputError(f"from_nir: node lif{i}: expected nir.LIF or nir.IF (got {type(neuron).__name__})")
        if beta is not None and abs(b - beta) > 1e-6:
            raise InputError(f"from_nir: node lif{i}: expected the same beta in every layer ({beta}) (got {b})")
        beta = b
        bias = np.asarray(fc.bias) if isinstance(fc, nir.Affine) else None
        weights.append((np.asarray(fc.weight), bias, np.asarray(neuron.v_threshold)))
        i += 1
    if not weights or "head" not in nodes:
        raise InputError("from_nir: expected nodes fc0, lif0, ..., head (a graph written by neurohop.hlop.to_nir)")
    head = nodes["head"]
    hb = np.asarray(head.bias) if isinstance(head, nir.Affine) else None
    has_bias = hb is not None
    if any((w[1] is not None) != has_bias for w in weights):
        raise InputError("from_nir: expected all layers with a bias or none")
    cfg = NetworkConfig(
        hidden=tuple(int(w[0].shape[0]) for w in weights),
        timesteps=int(timesteps or meta.get("timesteps", 10)),
        beta=float(beta),  # type: ignore[arg-type]
        bias=has_bias,
        encoder_levels=int(meta.get("encoder_levels", encoder_levels)),
    )
    net = SpikingMLP(int(weights[0][0].shape[1]), (int(np.asarray(head.weight).shape[0]),), cfg, torch.Generator().manual_seed(0), True)
    with torch.no_grad():
        for lin, (w, b, vth), th in zip(net.layers, weights, net.thresholds()):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))
            th.copy_(torch.from_numpy(np.ascontiguousarray(vth, dtype=np.float32)))
        net.heads[0].weight.copy_(torch.from_numpy(np.ascontiguousarray(head.weight, dtype=np.float32)))
        if hb is not None:
            net.heads[0].bias.copy_(torch.from_numpy(np.ascontiguousarray(hb, dtype=np.float32)))
    return net
