"""PyTorch backend (CPU or CUDA, batched). See :func:`build_torch`."""

from neurohop.backends.torch.network import NetworkParams, NetworkState, TorchNetwork, network_step
from neurohop.backends.torch.simulation import TorchSimulation, build_torch

__all__ = ["build_torch", "TorchSimulation", "TorchNetwork", "network_step", "NetworkParams", "NetworkState"]
