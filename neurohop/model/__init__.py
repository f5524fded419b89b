"""Backend-neutral network description (plain, validated, immutable data).

Units: ms, mV, nA, nF; delays in whole timesteps. This package imports neither torch nor
brian2.
"""

from neurohop.model.distributions import Distribution
from neurohop.model.io import ModelSpec, load, load_model, load_network, read_model, save_network
from neurohop.model.network import Network, Population, PopRef, Projection
from neurohop.model.neurons import LIF, CubaLIF, NeuronModel, SpikeSource
from neurohop.model.synapses import STDP, AllToAll, Connector, FixedProbability, FromList, OneToOne

__all__ = [
    "LIF",
    "CubaLIF",
    "SpikeSource",
    "NeuronModel",
    "Connector",
    "OneToOne",
    "AllToAll",
    "FromList",
    "FixedProbability",
    "Distribution",
    "STDP",
    "Population",
    "PopRef",
    "Projection",
    "Network",
    "ModelSpec",
    "read_model",
    "load_model",
    "load_network",
    "save_network",
    "load",
]
