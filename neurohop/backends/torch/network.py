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

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.kernels import NEURON_KERNELS, NeuronKernel, population_constants, population_initial
from neurohop.kernels.stdp import STDPConstants, STDPState, stdp_step
from neurohop.model.network import Network, Population

__all__ = ["Segment", "NeuronLayout", "layout_neurons", "segment_of", "device_tensor", "stdp_tensors", "StaticGroup", "PlasticBlock", "NetworkParams", "NetworkState", "network_step", "TorchNetwork"]


class Segment(NamedTuple):
    """The neurons of one model: a contiguous range of the neuron vector."""

    start: int
    stop: int
    kernel: NeuronKernel
    constants: Any  #: the kernel's constants as tensors


class NeuronLayout(NamedTuple):
    """Where every population lives in the source and neuron vectors, and the model segments."""

    src_offset: dict[str, int]  #: first index of each source population in the source vector
    nrn_offset: dict[str, int]  #: first index of each neuron population in the neuron vector
    segments: tuple[Segment, ...]
    initial: list[Any]  #: each segment's initial state (NumPy arrays)
    n_sources: int
    n_neurons: int


def device_tensor(array: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A NumPy array on ``device``: integers as int64, booleans as bool, floats as ``dtype``."""
    kind = torch.int64 if np.issubdtype(array.dtype, np.integer) else torch.bool if array.dtype == bool else dtype
    return torch.as_tensor(array, device=device, dtype=kind)


def layout_neurons(net: Network, by_model: Sequence[Sequence[Population]], dt: float, tensor: Callable[[np.ndarray], torch.Tensor]) -> NeuronLayout:
    """Sources in declaration order, then neurons grouped by model (``by_model``, from
    :func:`~neurohop.backends.base.neuron_order`), each model one segment with its constants."""
    src_offset: dict[str, int] = {}
    n_src = 0
    for pop in net.sources:
        src_offset[pop.name] = n_src
        n_src += pop.size
    nrn_offset: dict[str, int] = {}
    n_nrn = 0
    segments, initial = [], []
    for pops in by_model:
        kernel = NEURON_KERNELS[type(pops[0].model)]
        start = n_nrn
        for pop in pops:
            nrn_offset[pop.name] = n_nrn
            n_nrn += pop.size
        consts = population_constants(kernel, pops, dt)
        segments.append(Segment(start, n_nrn, kernel, type(consts)(*[tensor(a) for a in consts])))
        initial.append(population_initial(kernel, pops))
    return NeuronLayout(src_offset, nrn_offset, tuple(segments), initial, n_src, n_nrn)


def segment_of(segments: Sequence[Segment], offset: int, size: int) -> tuple[int, slice]:
    """Which segment holds the neurons ``[offset, offset + size)`` and where inside it."""
    for k, seg in enumerate(segments):
        if seg.start <= offset < seg.stop:
            return k, slice(offset - seg.start, offset - seg.start + size)
    raise ValueError(f"no segment holds neuron {offset}")  # unreachable for built networks


def stdp_tensors(c: STDPConstants, device: torch.device, dtype: torch.dtype) -> STDPConstants:
    """STDP constants with their look-up tables on ``device``."""
    return STDPConstants(c.a_plus, c.a_minus, c.w_min, c.w_max, torch.as_tensor(c.table_plus, device=device, dtype=dtype), torch.as_tensor(c.table_minus, device=device, dtype=dtype))


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
    if not parts:  # a network of spike sources only
        parts.append(torch.zeros(in_e.shape[0], 0, dtype=torch.bool, device=in_e.device))
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
