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
``network_json`` / ``array:*``
    The classifier's readout head ``network_head`` (default 0) as a neurohop network
    (absent, with the reason in ``meta_json.network.not_embedded``, when the layers do not
    fit populations, e.g. per-neuron thresholds)
    (:func:`neurohop.hlop.as_network.to_network`), in the layout of
    :func:`neurohop.model.io.save_network`: the checkpoint is also a saved network, which
    :func:`neurohop.model.io.load_network` and ``neurohop export`` read without this package.

:func:`run_classifier` runs the float network on given input spikes -- the reference that a
fixed-point export is compared with; :func:`to_network` describes it with the shared model
classes and :func:`to_nir` as a NIR graph (through :func:`neurohop.export.nir_io.to_nir`, as
every network; ``for_peers=True`` writes the graph Norse and snnTorch load).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.errors import InputError, ModelFileError
from neurohop.files import atomic_write, check_finite, check_keys, json_member, read_npz
from neurohop.hlop.as_network import from_network, to_network
from neurohop.hlop.config import NetworkConfig, check_network_memory
from neurohop.hlop.network import ClassifierOutput, SpikingMLP

__all__ = ["CHECKPOINT_FORMAT", "Classifier", "save_classifier", "load_classifier", "run_classifier", "to_network", "to_nir", "from_nir"]

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
        "reset": "subtractive reset v <- v - v_th after a spike" if net.config.reset == "subtract" else "hard reset v <- 0 after a spike",
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
    network_head: int = 0,
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
    network_head : int
        The head stored as a neurohop network (what ``neurohop export`` reads).
    """
    from neurohop.model.io import network_to_dict

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
    try:
        network = to_network(net, head=network_head)
        meta["network"] = {"head": network_head}
    except InputError as exc:  # e.g. per-neuron thresholds: a population shares one
        network = None
        meta["network"] = {"head": None, "not_embedded": str(exc)}
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
    if network is not None:
        doc, net_arrays = network_to_dict(network)
        arrays["network_json"] = np.array(json.dumps(doc))
        arrays.update({f"array:{k}": v for k, v in net_arrays.items()})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(path, write, suffix=".npz")


def _meta_int(p: Path, meta: Mapping[str, Any], key: str, minimum: int = 1) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelFileError(f"{p}: meta_json.{key}: expected an integer >= {minimum} (got {value!r})")
    return value


def _meta_section(p: Path, meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = meta.get(key)
    if not isinstance(value, dict):
        raise ModelFileError(f"{p}: meta_json.{key}: expected an object (got {type(value).__name__})")
    return value


def _meta_ints(p: Path, meta: Mapping[str, Any], key: str) -> tuple[int, ...]:
    value = meta.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ModelFileError(f"{p}: meta_json.{key}: expected a non-empty list of integers >= 1 (got {value!r})")
    return tuple(value)


_META_KEYS = ("format", "n_inputs", "hidden", "head_sizes", "shared_head", "bias", "timesteps", "neuron", "surrogate", "encoder", "readout", "tasks", "info", "network")


def load_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Classifier:
    """Read a checkpoint written by :func:`save_classifier`.

    Every array must be finite (a NaN is refused naming the array and its first bad index)
    and of the shape the metadata implies; the network must fit in memory before it is built;
    unknown metadata fields and unknown arrays are refused.

    Raises
    ------
    ModelFileError
        When the file is not a readable checkpoint of this format; the message names the field.
    """
    p = Path(path)
    arrays = read_npz(p, what="checkpoint", error=ModelFileError)
    if "meta_json" not in arrays:
        raise ModelFileError(f"{p}: meta_json: missing (not a neurohop HLOP checkpoint)")
    meta = json_member(arrays, "meta_json", str(p), error=ModelFileError)
    arrays.pop("meta_json")
    # the embedded network (read by neurohop.model.io.load_network) is not part of the classifier
    arrays = {k: v for k, v in arrays.items() if k != "network_json" and not k.startswith("array:")}
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{p}: format: expected {CHECKPOINT_FORMAT!r} (got {meta.get('format')!r})")
    check_keys(meta, _META_KEYS, f"{p}: meta_json", error=ModelFileError)
    for key, value in arrays.items():
        check_finite(value, key, str(p), error=ModelFileError)
    hidden = _meta_ints(p, meta, "hidden")
    head_sizes = _meta_ints(p, meta, "head_sizes")
    n_inputs = _meta_int(p, meta, "n_inputs")
    neuron, surrogate, encoder = (_meta_section(p, meta, k) for k in ("neuron", "surrogate", "encoder"))
    for key in ("bias", "shared_head"):
        if not isinstance(meta.get(key), bool):
            raise ModelFileError(f"{p}: meta_json.{key}: expected true or false (got {meta.get(key)!r})")
    try:
        cfg = NetworkConfig(
            hidden=hidden,
            timesteps=_meta_int(p, meta, "timesteps"),
            beta=neuron.get("beta"),
            bias=meta["bias"],
            surrogate=surrogate.get("method"),
            surrogate_alpha=surrogate.get("alpha"),
            encoder_levels=encoder.get("levels"),
            reset="subtract" if str(neuron.get("reset", "")).startswith("subtract") else "hard",
        )
    except ModelFileError as exc:
        raise ModelFileError(f"{p}: meta_json: {exc}") from None
    check_network_memory(cfg, 1, n_inputs, sum(head_sizes), f"{p}: meta_json.hidden")
    shared = meta["shared_head"]
    net = SpikingMLP(n_inputs, head_sizes, cfg, torch.Generator().manual_seed(0), shared, device)

    def take(key: str, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in arrays:
            raise ModelFileError(f"{p}: {key}: missing array")
        a = arrays.pop(key)
        if a.shape != shape:
            raise ModelFileError(f"{p}: {key}: expected shape {shape} (got {a.shape})")
        if a.dtype.kind not in "fiu":
            raise ModelFileError(f"{p}: {key}: expected real numbers (got dtype {a.dtype})")
        if a.size and np.abs(a).max() > np.finfo(np.float32).max:
            raise ModelFileError(f"{p}: {key}: expected values that fit a float32 (got a magnitude of {np.abs(a).max():g})")
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

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
    for key in list(arrays):
        if key == "task_permutations":
            perm = arrays[key]
            if perm.ndim != 2 or perm.shape[1] != n_inputs or perm.dtype.kind not in "iu" or any(
                not np.array_equal(np.sort(row), np.arange(n_inputs)) for row in perm
            ):
                raise ModelFileError(f"{p}: task_permutations: expected one permutation of 0..{n_inputs - 1} per task (got shape {perm.shape}, dtype {perm.dtype})")
        elif not (key.startswith("lateral") and key.endswith(".weight")):
            raise ModelFileError(f"{p}: {key}: unknown array (expected fc*/head* weights, task_permutations or lateral*.weight)")
    return Classifier(net, meta, arrays)


@torch.no_grad()
def run_classifier(net: SpikingMLP, input_spikes: torch.Tensor | np.ndarray, head: int = 0) -> ClassifierOutput:
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
    ClassifierOutput
        Hidden spikes per layer and logits (readout potential / timesteps).
    """
    s = torch.as_tensor(np.asarray(input_spikes) if isinstance(input_spikes, np.ndarray) else input_spikes)
    if s.shape[0] != net.timesteps:
        raise InputError(f"run_classifier: input_spikes: expected {net.timesteps} timesteps (got {s.shape[0]})")
    return net.simulate(s.to(net.device, torch.float32), head)


def to_nir(net: SpikingMLP, head: int = 0, dt: float = 1.0, for_peers: bool = False) -> Any:
    """Describe the classifier (one head) as a ``nir.NIRGraph``.

    Parameters
    ----------
    net : SpikingMLP
    head : int
        Readout head.
    dt : float
        Timestep, ms (the graph states it in seconds, as NIR does).
    for_peers : bool
        False (default): the network of :func:`to_network` written by
        :func:`neurohop.export.nir_io.to_nir`, as every neurohop network (exact for neurohop,
        :func:`from_nir` reads it back; the classifier's metadata is kept in the graph's
        ``metadata["neurohop_classifier"]``). NIR's ``IF`` node has no bias, so a classifier
        with biases is refused on this path: use ``for_peers=True``. True: the graph
        Norse 1.1 and snnTorch 1.0 load (below).

    Notes
    -----
    ``for_peers=True`` writes ``input -> fc0 -> lif0 -> fc1 -> lif1 ... -> head -> readout ->
    output`` with ``nir.Linear`` (``nir.Affine`` with a bias) connections acting in the same
    step, as the classifier and the peers do. One forward-Euler step of ``tau dv/dt = (v_leak
    - v) + R I`` is this network's ``v <- beta v + I`` for ``tau = dt / (1 - beta)`` and
    ``R = 1 / (1 - beta)``. Norse ignores a ``LIF``'s ``r`` and snnTorch wants one threshold
    per layer, so each hidden ``LIF`` gets ``r = 1`` and ``v_threshold = 1`` with ``r /
    v_threshold`` of each neuron folded into its incoming weights and bias (the same spikes:
    the reset is to 0 and there is no leak potential; ``nir.IF`` with ``r = 1 / dt`` when
    ``beta = 1``); neither maps ``nir.I``, so the readout is a ``nir.LIF`` with ``tau = dt``,
    ``r = 1`` and an infinite threshold, whose potential at each step is the head's output of
    that step: the logits are the mean of that potential over the ``T`` steps. The folded
    weights differ from the classifier's by float32 rounding. snnTorch's importer fixes
    ``dt = 0.1`` ms.
    """
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < len(net.heads):
        raise InputError(f"to_nir: head: expected 0 .. {len(net.heads) - 1} (got {head!r})")
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InputError(f"to_nir: dt: expected a positive step in ms (got {dt!r})")
    if not for_peers:
        from neurohop.export.nir_io import to_nir as network_to_nir

        network = to_network(net, head=head, dt=dt)
        if len(network.populations) > len(net.layers) + 2:  # bias populations
            raise InputError("to_nir: net: a classifier with biases has no exact NIR form on the common path (NIR's IF node has no bias); write the peer graph with for_peers=True")
        graph = network_to_nir(network, dt=dt)
        graph.metadata["neurohop_classifier"] = json.dumps(network.metadata["classifier"])
        return graph
    from neurohop._optional import require

    nir = require("nir", "exporting to NIR")
    if net.config.reset != "hard" or net.config.input != "spikes":
        raise InputError("to_nir: net: for_peers: expected hard reset and spike input (NIR's LIF and IF nodes reset to v_reset; the peers read spikes)")
    beta = float(net.config.beta)
    dt = dt / 1000.0  # NIR time is in seconds

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
        if beta < 1.0:  # r / v_threshold folded into the incoming weights
            nodes[f"fc{i}"] = lin_node(lin, (1.0 / ((1.0 - beta) * vth.astype(np.float64))).astype(np.float32))
            one = np.ones(n, dtype=np.float32)
            nodes[f"lif{i}"] = nir.LIF(tau=np.full(n, dt / (1.0 - beta), dtype=np.float32), r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one)
        else:
            nodes[f"lif{i}"] = nir.IF(r=np.full(n, 1.0 / dt, dtype=np.float32), v_threshold=vth, v_reset=np.zeros(n, dtype=np.float32))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    out = net.heads[head]
    nodes["head"] = lin_node(out)
    one = np.ones(out.out_features, dtype=np.float32)
    nodes["readout"] = nir.LIF(tau=np.full(out.out_features, dt, dtype=np.float32), r=one, v_leak=0 * one, v_threshold=np.full(out.out_features, np.inf, dtype=np.float32), v_reset=0 * one)
    nodes["output"] = nir.Output(output_type={"output": np.array([out.out_features])})
    edges += [(prev, "head"), ("head", "readout"), ("readout", "output")]
    metadata = {
        "producer": "neurohop.hlop",
        "dt": dt,
        "timesteps": net.timesteps,
        "beta": beta,
        "encoder_levels": net.config.encoder_levels,
        "head": head,
        "for_peers": True,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def from_nir(graph: Any) -> SpikingMLP:
    """Rebuild a single-head :class:`SpikingMLP` from a graph written by :func:`to_nir`.

    The graph is read as every NIR graph (:func:`neurohop.export.nir_io.from_nir`) and the
    network turned back into the classifier (:func:`neurohop.hlop.as_network.from_network`).

    Raises
    ------
    InputError
        For a ``for_peers=True`` graph (weights rescaled) or a graph without the classifier's
        metadata.
    """
    from neurohop.export.nir_io import from_nir as network_from_nir

    meta = dict(getattr(graph, "metadata", {}) or {})
    if bool(meta.get("for_peers", False)):
        raise InputError("from_nir: graph: written with for_peers=True (weights rescaled for Norse/snnTorch); rebuild from the default graph")
    if "neurohop_classifier" not in meta:
        raise InputError("from_nir: graph: expected metadata['neurohop_classifier'] (a graph written by neurohop.hlop.checkpoint.to_nir)")
    info = json.loads(str(meta["neurohop_classifier"]))
    network = network_from_nir(graph)
    return from_network(network.with_updates(metadata={**network.metadata, "classifier": info}))
