"""Spiking classifiers on fixed-point targets: a saved classifier network, readout by potential.

A classifier arrives as a neurohop network whose ``metadata["classifier"]`` names its readout
population, ``timesteps`` and encoder -- for example the network that every HLOP classifier
checkpoint embeds (``save_classifier``), which makes the checkpoint file itself a saved
network, read by :func:`neurohop.model.io.load_network`. Layers are
feed-forward with one step per connection, so population ``p`` runs
``metadata["latency_steps"][p]`` steps late: running ``T + L`` steps with the input of the
first ``T`` reproduces the classifier's ``T`` steps, and the readout's potential at the end
decides the class. Nothing here depends on how the classifier was trained.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from neurohop.errors import InputError
from neurohop.model.network import Network

__all__ = ["classifier_network", "readout_of", "predict_fixed"]


def classifier_network(source: Network | str | os.PathLike[str]) -> Network:
    """The classifier network of ``source``: a saved network file (``.npz``) or a network.

    Raises
    ------
    InputError
        When the network has no ``metadata["classifier"]`` naming its readout.
    """
    from neurohop.model.io import load_network

    net = source if isinstance(source, Network) else load_network(source)
    readout_of(net)
    return net


def readout_of(net: Network) -> str:
    """The population whose potential decides the class (``metadata["classifier"]["readout"]``)."""
    info = net.metadata.get("classifier")
    readout = info.get("readout") if isinstance(info, Mapping) else None
    if not isinstance(readout, str):
        raise InputError(f"classifier: network {net.name!r}: expected metadata['classifier']['readout'] naming the readout population (got {info!r})")
    net.population(readout)
    return readout


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
