"""A trained classifier as a :class:`neurohop.model.Network` (and back), without NIR.

:func:`to_network` describes one head of a :class:`~neurohop.hlop.network.SpikingMLP` with
the shared model classes, so every backend and every exporter runs it:

* ``input``: a spike source of ``n_inputs`` neurons (the encoder's spikes are the input).
* ``lif{i}``: a :class:`~neurohop.model.neurons.CubaLIF` per hidden layer with
  ``tau_syn = dt`` (the input enters the membrane in the step it arrives) and
  ``tau_mem = dt / (1 - beta)`` (``v <- beta v + W x``; ``inf`` for ``beta = 1``), the layer's
  threshold, hard reset to 0.
* ``readout``: the same neuron with ``tau_mem = inf`` and ``v_th = inf`` (an integrator
  that never spikes): its potential after the run is the logits times ``timesteps``.
* ``fc{i}_exc`` / ``fc{i}_inh``, ``head_exc`` / ``head_inh``: each weight matrix split by
  sign into an excitatory and an inhibitory projection (``FromList``, delay 1 step).
* a bias ``b`` of a layer: a one-neuron population ``fc{i}_bias`` (``head_bias``) that fires
  every step from the step its target's input first arrives, with projections
  ``fc{i}_bias_exc`` / ``_inh`` carrying ``b``.

Timing: in the classifier a spike of layer ``l`` drives layer ``l + 1`` in the same step; in
a neurohop network every connection takes one step, so population ``lif{i}`` runs ``i + 1``
steps late and the readout ``L + 1`` (``metadata["latency_steps"]``). Running
``timesteps + latency`` steps with the input of the first ``timesteps`` reproduces the
classifier: the same hidden spikes, shifted, and the readout potential equal to the logits
times ``timesteps`` up to float rounding.

``metadata["classifier"]`` records what a reader needs without this package: ``timesteps``,
``head``, ``readout`` (the population deciding the class), ``beta``, ``encoder`` and
``producer``. The values are those of the float32 network as float64, thresholds read as
the shortest decimal of their float32 value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from neurohop.errors import InputError
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import CubaLIF, SpikeSource
from neurohop.model.synapses import AllToAll, FromList

if TYPE_CHECKING:
    from neurohop.hlop.network import SpikingMLP

__all__ = ["to_network", "from_network", "READOUT", "INPUT"]

#: Names of the input and readout populations.
INPUT, READOUT = "input", "readout"
_RTOL = 1e-9  # thresholds of one layer that agree this closely are one value


def _signed(label: str, pre: str, post: str, w: np.ndarray) -> list[Projection]:
    """A signed ``[post, pre]`` matrix as an excitatory and an inhibitory projection."""
    projs = []
    for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
        part = np.where(sign * w > 0, sign * w, 0.0)
        if not part.any():
            continue
        nz = part > 0
        name = f"{label}_{receptor[:3]}"
        if nz.all():
            projs.append(Projection(name, pre, post, AllToAll(), part.T.copy(), 1, receptor))
        else:
            post_idx, pre_idx = np.nonzero(nz)
            projs.append(Projection(name, pre, post, FromList(pre_idx, post_idx), part[post_idx, pre_idx], 1, receptor))
    return projs


def _threshold(values: np.ndarray, layer: str) -> float:
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    as64 = np.array([float(str(x)) for x in v])  # the shortest decimal of each float32 value
    if as64.size and not np.allclose(as64, as64[0], rtol=_RTOL, atol=0):
        raise InputError(
            f"to_network: layer {layer}: thresholds differ between neurons ({as64.min():g} .. {as64.max():g}); "
            "a population shares one threshold (scale each neuron's incoming weights and bias by 1 / v_th first)"
        )
    return float(as64[0])


def to_network(classifier: Any, head: int = 0, dt: float = 1.0) -> Network:
    """One head of a classifier as a neurohop network (see the module docstring).

    Parameters
    ----------
    classifier : SpikingMLP or Classifier
        The network, or a loaded checkpoint (:func:`neurohop.hlop.checkpoint.load_classifier`).
    head : int
        Readout head.
    dt : float
        Timestep, ms (the time constants are ``dt`` and ``dt / (1 - beta)``).

    Raises
    ------
    InputError
        For a head out of range, ``dt <= 0`` or a layer whose neurons have different thresholds.
    """
    net: SpikingMLP = getattr(classifier, "net", classifier)
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < len(net.heads):
        raise InputError(f"to_network: head: expected 0 .. {len(net.heads) - 1} (got {head!r})")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise InputError(f"to_network: dt: expected a positive step in ms (got {dt!r})")
    dt = float(dt)
    if net.config.input != "spikes":
        raise InputError(f"to_network: net: expected a classifier with spike input (network.input 'spikes') (got {net.config.input!r}: an input current has no spike source)")
    beta = float(net.config.beta)
    tau_mem = math.inf if beta >= 1.0 else float(f"{dt / (1.0 - beta):.12g}")

    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32).astype(np.float64)

    pops = [Population(INPUT, net.n_inputs, SpikeSource())]
    extra: list[Population] = []
    projs: list[Projection] = []
    latency = {INPUT: 0}
    layers = [(f"fc{i}", f"lif{i}", lin) for i, lin in enumerate(net.layers)] + [("head", READOUT, net.heads[head])]
    pre = INPUT
    for depth, (label, post, lin) in enumerate(layers, start=1):
        n = lin.out_features
        if post == READOUT:
            model = CubaLIF(tau_syn=dt, tau_mem=math.inf, v_th=math.inf, v_reset=0.0, bias=0.0, reset="hard")
        else:
            vth = _threshold(net.thresholds()[depth - 1].detach().cpu().numpy(), post)
            model = CubaLIF(tau_syn=dt, tau_mem=tau_mem, v_th=vth, v_reset=0.0, bias=0.0, reset=net.config.reset)
        pops.append(Population(post, n, model))
        latency[post] = depth
        projs += _signed(label, pre, post, arr(lin.weight))
        if lin.bias is not None and np.any(arr(lin.bias)):
            # a constant input: a neuron firing every step from step depth - 1 on (an integrator
            # started below threshold, reset to 0), its spikes arriving one step later
            bname = f"{label}_bias"
            extra.append(Population(bname, 1, CubaLIF(tau_syn=dt, tau_mem=math.inf, v_th=0.5, v_reset=0.0, bias=1.0, v_init=0.25 - (depth - 1))))
            projs += _signed(bname, bname, post, arr(lin.bias)[:, None])
        pre = post
    meta = {
        "dt_ms": dt,
        "inputs": [INPUT],
        "outputs": [READOUT],
        "latency_steps": latency,
        "classifier": {
            "producer": "neurohop.hlop",
            "timesteps": int(net.timesteps),
            "head": head,
            "readout": READOUT,
            "beta": beta,
            "encoder": {"kind": "if", "levels": int(net.config.encoder_levels)},
        },
    }
    return Network(tuple(pops + extra), tuple(projs), name="hlop_classifier", metadata=meta)


def _dense(network: Network, pre: str, post: str) -> np.ndarray:
    """The signed weight matrix ``[post, pre]`` of all projections from ``pre`` to ``post``."""
    w = np.zeros((network.population(post).size, network.population(pre).size))
    for p in network.projections:
        if p.pre.population != pre or p.post.population != post:
            continue
        if p.pre.start != 0 or p.pre.stop is not None or p.post.start != 0 or p.post.stop is not None or np.any(np.asarray(p.delay) != 1):
            raise InputError(f"from_network: projection {p.name!r}: expected whole populations and a delay of one step")
        sign = 1.0 if p.receptor == "excitatory" else -1.0
        if isinstance(p.connector, FromList):
            np.add.at(w, (p.connector.post_indices, p.connector.pre_indices), sign * np.asarray(p.weight, dtype=np.float64))
        elif isinstance(p.connector, AllToAll):
            w += sign * np.broadcast_to(np.asarray(p.weight, dtype=np.float64), (w.shape[1], w.shape[0])).T
        else:
            raise InputError(f"from_network: projection {p.name!r}: expected a FromList or AllToAll connector (got {type(p.connector).__name__})")
    return w


def from_network(network: Network) -> SpikingMLP:
    """The single-head classifier that :func:`to_network` describes (weights, thresholds, biases).

    Raises
    ------
    InputError
        When ``network`` lacks ``metadata["classifier"]`` or the layout of :func:`to_network`.
    """
    import torch

    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    info = network.metadata.get("classifier")
    if not isinstance(info, dict) or "timesteps" not in info or "beta" not in info:
        raise InputError(f"from_network: network {network.name!r}: expected metadata['classifier'] written by to_network (got none)")
    names = [p.name for p in network.populations]
    hidden = []
    while f"lif{len(hidden)}" in names:
        hidden.append(f"lif{len(hidden)}")
    if not hidden or INPUT not in names or READOUT not in names:
        raise InputError(f"from_network: network {network.name!r}: expected populations input, lif0, ..., readout (got {names})")
    chain = [INPUT, *hidden, READOUT]
    labels = [f"fc{i}" for i in range(len(hidden))] + ["head"]
    weights, biases = [], []
    for (pre, post), label in zip(zip(chain, chain[1:]), labels):
        weights.append(_dense(network, pre, post))
        bname = f"{label}_bias"
        biases.append(_dense(network, bname, post)[:, 0] if bname in names else None)
    has_bias = any(b is not None for b in biases)  # a layer whose bias is all zero has no bias population
    biases = [np.zeros(w.shape[0]) if b is None and has_bias else b for b, w in zip(biases, weights)]
    cfg = NetworkConfig(
        hidden=tuple(network.population(h).size for h in hidden),
        timesteps=int(info["timesteps"]),
        beta=float(info["beta"]),
        bias=has_bias,
        encoder_levels=int(info.get("encoder", {}).get("levels", 255)),
        reset=str(network.population(hidden[0]).model.reset),
    )
    net = SpikingMLP(network.population(INPUT).size, (network.population(READOUT).size,), cfg, torch.Generator().manual_seed(0), True)
    lins = [*net.layers, net.heads[0]]
    with torch.no_grad():
        for lin, w, b in zip(lins, weights, biases):
            lin.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        for th, h in zip(net.thresholds(), hidden):
            th.fill_(float(network.population(h).model.v_th))
    return net
