"""The torch backend's compiled network: parameters, state and one pure step.

Following Norse's conventions, :func:`network_step` is a function of
``(t, source spikes, state, parameters)`` returning ``(spikes, new state)``;
:class:`TorchNetwork` is a thin ``nn.Module`` that holds the parameters as buffers.

All neurons form one vector (sources form another), ordered by neuron model so that each
model's neurons are one contiguous *segment*; a step is one kernel call per model plus one
matrix product per (delay, receptor) group, whatever the number of populations. A leading
batch dimension ``B`` runs independent instances.
Why not Norse's own LIF cell: it integrates with forward Euler and fires on ``v > th``;
the hardware semantics here need exact integration, ``v >= th`` and a refractory counter.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from neurohop.kernels import NeuronKernel
from neurohop.kernels.stdp import STDPConstants, STDPState, stdp_step

__all__ = ["Segment", "StaticGroup", "PlasticBlock", "NetworkParams", "NetworkState", "network_step", "TorchNetwork"]


class Segment(NamedTuple):
    """The neurons of one model: a contiguous range of the neuron vector."""

    start: int
    stop: int
    kernel: NeuronKernel
    constants: Any  #: the kernel's constants as tensors


class StaticGroup(NamedTuple):
    """All fixed synapses with one delay and one receptor, as a ``[n_all, n_neurons]`` matrix."""

    delay: int
    inhibitory: bool
    weight: torch.Tensor  #: dense or sparse (CSR, transposed: [n_neurons, n_all])
    sparse: bool


class PlasticBlock(NamedTuple):
    """A plastic projection: a dense block of synapses between two contiguous ranges."""

    pre_start: int  #: into the all-spikes vector (sources then neurons)
    pre_stop: int
    post_start: int  #: into the neuron vector
    post_stop: int
    delay: int
    inhibitory: bool
    mask: torch.Tensor | None  #: [pre, post] bool, None when every pair is a synapse
    constants: STDPConstants


class NetworkParams(NamedTuple):
    segments: tuple[Segment, ...]
    static: tuple[StaticGroup, ...]
    plastic: tuple[PlasticBlock, ...]
    n_slots: int  #: ring-buffer length = max delay + 1


class NetworkState(NamedTuple):
    neurons: tuple[Any, ...]  #: one kernel state per segment, arrays [B, segment size]
    buf_e: tuple[torch.Tensor, ...]  #: ring buffer of arriving excitatory weight sums, n_slots x [B, n_neurons]
    buf_i: tuple[torch.Tensor, ...]
    plastic: tuple[STDPState, ...]
    post_history: tuple[tuple[torch.Tensor, ...], ...]  #: per plastic block, post spikes of the last d steps


def _add_to_slot(buf: tuple[torch.Tensor, ...], slot: int, value: torch.Tensor, start: int | None = None, stop: int | None = None) -> tuple[torch.Tensor, ...]:
    if start is None:
        new = buf[slot] + value
    else:
        new = buf[slot].clone()
        new[:, start:stop] += value
    return buf[:slot] + (new,) + buf[slot + 1 :]


def network_step(t: int, sources: torch.Tensor, state: NetworkState, p: NetworkParams) -> tuple[torch.Tensor, NetworkState]:
    """Advance the whole network by one step.

    Parameters
    ----------
    t : int
        Index of this step.
    sources : Tensor [B, n_sources]
        Source spikes emitted at ``t`` (0/1 in the state's dtype).
    state : NetworkState
    p : NetworkParams

    Returns
    -------
    spikes : bool Tensor [B, n_neurons]
    state : NetworkState
    """
    slot = t % p.n_slots
    in_e, in_i = state.buf_e[slot], state.buf_i[slot]
    zero = torch.zeros_like(in_e)
    buf_e = state.buf_e[:slot] + (zero,) + state.buf_e[slot + 1 :]
    buf_i = state.buf_i[:slot] + (zero,) + state.buf_i[slot + 1 :]

    parts, neurons = [], []
    for seg, seg_state in zip(p.segments, state.neurons):
        spk, seg_state = seg.kernel.step(seg_state, in_e[:, seg.start : seg.stop], in_i[:, seg.start : seg.stop], seg.constants, torch.where)
        parts.append(spk)
        neurons.append(seg_state)
    spikes = torch.cat(parts, dim=1) if len(parts) != 1 else parts[0]
    emitted = torch.cat([sources, spikes.to(sources.dtype)], dim=1)

    for group in p.static:
        if group.sparse:
            arriving = torch.sparse.mm(group.weight, emitted.T).T
        else:
            arriving = emitted @ group.weight
        target = (t + group.delay) % p.n_slots
        if group.inhibitory:
            buf_i = _add_to_slot(buf_i, target, arriving)
        else:
            buf_e = _add_to_slot(buf_e, target, arriving)

    plastic = []
    history = []
    for block, syn, hist in zip(p.plastic, state.plastic, state.post_history):
        pre = emitted[:, block.pre_start : block.pre_stop]
        syn = stdp_step(syn, t, pre > 0, hist[0], block.constants, torch.where, block.mask)
        arriving = torch.bmm(pre.unsqueeze(1), syn.w).squeeze(1)
        target = (t + block.delay) % p.n_slots
        if block.inhibitory:
            buf_i = _add_to_slot(buf_i, target, arriving, block.post_start, block.post_stop)
        else:
            buf_e = _add_to_slot(buf_e, target, arriving, block.post_start, block.post_stop)
        plastic.append(syn)
        history.append(hist[1:] + (spikes[:, block.post_start : block.post_stop],))

    return spikes, NetworkState(tuple(neurons), buf_e, buf_i, tuple(plastic), tuple(history))


class TorchNetwork(torch.nn.Module):
    """Thin module around :func:`network_step`: holds the parameters, returns the state."""

    def __init__(self, params: NetworkParams) -> None:
        super().__init__()
        self.params = params

    def forward(self, t: int, sources: torch.Tensor, state: NetworkState) -> tuple[torch.Tensor, NetworkState]:
        return network_step(t, sources, state, self.params)
