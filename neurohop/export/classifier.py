"""Spiking classifiers on fixed-point targets: the HLOP classifier as a network, readout by potential.

A classifier trained by :mod:`neurohop.hlop` (checkpoint of
:func:`neurohop.hlop.checkpoint.save_classifier`) becomes a neurohop network through its
own NIR description (:func:`neurohop.hlop.checkpoint.to_nir`, read by
:func:`neurohop.export.nir_io.from_nir`): LIF layers ``v <- beta v + W x``, a non-spiking
integrating readout, feed-forward connections acting in the same step. In neurohop every
connection takes a step, so layer ``l`` runs ``l`` steps late (``metadata["latency_steps"]``);
running ``T + L`` steps with the input of the first ``T`` reproduces the classifier's ``T``
steps, and the readout's potential at the end is its logits times ``T``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from neurohop.errors import InputError
from neurohop.model.network import Network

__all__ = ["classifier_network", "readout_of", "predict_fixed"]


def classifier_network(checkpoint: Any, dt: float = 1.0, head: int = 0) -> Network:
    """The network of an HLOP classifier checkpoint (a path or a loaded ``Classifier``)."""
    from neurohop.export.nir_io import from_nir
    from neurohop.hlop.checkpoint import load_classifier, to_nir

    clf = load_classifier(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    graph = to_nir(clf.net, head=head, dt=dt / 1000.0)
    net = from_nir(graph, dt=dt, name="hlop_classifier")
    meta = dict(net.metadata)
    meta["classifier"] = {"timesteps": int(clf.net.timesteps), "head": head, "readout": readout_of(net)}
    return net.with_updates(metadata=meta)


def readout_of(net: Network) -> str:
    """The output population (the classifier's integrating readout)."""
    outs = list(net.metadata.get("outputs", []))
    if len(outs) != 1:
        raise InputError(f"classifier: expected one output population (got {outs})")
    return outs[0]


def predict_fixed(program: Any, spikes: np.ndarray, timesteps: int, readout: str) -> np.ndarray:
    """Class indices of a batch under the bit-accurate simulation of ``program``.

    Parameters
    ----------
    program : Program
    spikes : bool array [T, B, n_inputs]
        The encoder's spikes (``T = timesteps``).
    timesteps : int
    readout : str
        The readout population; its integer potential after ``T + L`` steps decides.
    """
    from neurohop.export.backend import simulator_for

    if spikes.ndim != 3 or spikes.shape[0] != timesteps or spikes.shape[2] != program.n_inputs:
        raise InputError(f"predict_fixed: spikes: expected [{timesteps}, B, {program.n_inputs}] (got {list(spikes.shape)})")
    lat = int(program.network.metadata.get("latency_steps", {}).get(readout, 0)) if program.network is not None else 0
    steps = timesteps + lat
    padded = np.zeros((steps, spikes.shape[1], spikes.shape[2]), dtype=bool)
    padded[:timesteps] = spikes
    sim = simulator_for(program, batch=spikes.shape[1])
    sim.run(steps, sim.split_inputs(padded, steps))
    return np.asarray(sim.raw_state(readout)["v"]).argmax(axis=1)
