"""The torch backend's compiled network: parameters, state and one pure step.

Following Norse's conventions, :func:`network_step` is a function of
``(t, source spikes, state, parameters)`` returning ``(spikes, new state)``;
:class:`TorchNetwork` is a thin ``nn.Module`` that holds the parameters as buffers.

All neurons form one vector (sources form another), ordered by neuron model so that each
model's neurons are one contiguous *segment*; a step is one kernel call per model, one
event-driven delivery of every static synapse whose pre neuron spiked
(:mod:`~neurohop.backends.torch.delivery`), one matrix product per dense (delay, receptor)
group, and one block per plastic projection, whatever the number of populations. A leading
batch dimension ``B`` runs independent instances; they share the static connectivity.
Why not Norse's own LIF cell: it integrates with forward Euler and fires on ``v > th``;
the hardware semantics here need exact integration, ``v >= th`` and a refractory counter.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.kernels import NEURON_KERNELS, NeuronKernel, population_constants, population_initial
from neurohop.backends.torch.delivery import EventDelivery, Pending, deliver, spike_indices
from neurohop.kernels.registry import PlasticityKernel
from neurohop.model.network import Network, Population

__all__ = ["Segment", "NeuronLayout", "layout_neurons", "segment_of", "neurons_step", "device_tensor", "constants_on", "StaticGroup", "PlasticBlock", "NetworkParams", "NetworkState", "network_step", "TorchNetwork"]


class Segment(NamedTuple):
    """The neurons of one model: a contiguous range of the neuron vector."""

    start: int
    stop: int
    kernel: NeuronKernel
    constants: Any  #: the kernel's constants as tensors
    host_constants: Any = None  #: the same as NumPy arrays sharing their memory (CPU tensors only)
    compiled: Any = None  #: the kernel's step compiled for NumPy arrays (:func:`~neurohop.backends.torch.compiled.kernel_update`), or None


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
        on_device = type(consts)(*[tensor(a) for a in consts])
        host = type(consts)(*[a.numpy() for a in on_device]) if all(a.device.type == "cpu" for a in on_device) else None
        segments.append(Segment(start, n_nrn, kernel, on_device, host))
        initial.append(population_initial(kernel, pops))
    return NeuronLayout(src_offset, nrn_offset, tuple(segments), initial, n_src, n_nrn)


def segment_of(segments: Sequence[Segment], offset: int, size: int) -> tuple[int, slice]:
    """Which segment holds the neurons ``[offset, offset + size)`` and where inside it."""
    for k, seg in enumerate(segments):
        if seg.start <= offset < seg.stop:
            return k, slice(offset - seg.start, offset - seg.start + size)
    raise ValueError(f"no segment holds neuron {offset}")  # unreachable for built networks


def constants_on(c: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """A plasticity rule's constants (a NamedTuple) with every array field on ``device``
    (floats in ``dtype``); numbers stay Python numbers."""
    return type(c)(*[device_tensor(np.asarray(v), device, dtype) if isinstance(v, np.ndarray) else v for v in c])



class StaticGroup(NamedTuple):
    """Fixed synapses with one delay and one receptor as a dense ``[n_all, n_neurons]`` matrix
    (used where the matrix is small and dense enough that a product beats gathering rows)."""

    delay: int
    inhibitory: bool
    weight: torch.Tensor  #: [n_all, n_neurons]


class PlasticBlock(NamedTuple):
    """A plastic projection: a dense block of synapses between two contiguous ranges."""

    pre_start: int  #: into the all-spikes vector (sources then neurons)
    pre_stop: int
    post_start: int  #: into the neuron vector
    post_stop: int
    delay: int
    inhibitory: bool
    mask: torch.Tensor | None  #: [pre, post] bool, None when every pair is a synapse
    constants: Any  #: the rule kernel's constants, arrays on the device
    kernel: PlasticityKernel  #: the rule (from :data:`~neurohop.kernels.registry.PLASTICITY_KERNELS`)


class NetworkParams(NamedTuple):
    segments: tuple[Segment, ...]
    static: tuple[StaticGroup, ...]  #: dense groups
    plastic: tuple[PlasticBlock, ...]
    n_slots: int  #: ring-buffer length = max delay + 1
    delivery: EventDelivery | None = None  #: every other static synapse, row by pre neuron
    n_sources: int = 0


class NetworkState(NamedTuple):
    neurons: tuple[Any, ...]  #: one kernel state per segment, arrays [B, segment size]
    buf: torch.Tensor  #: ring buffer of arriving weight sums [n_slots, B, 2 (excitatory, inhibitory), n_neurons]
    plastic: tuple[Any, ...]  #: each plastic block's rule state
    post_history: tuple[tuple[torch.Tensor, ...], ...]  #: per plastic block, post spikes of the last d steps


def neurons_step(segments: Sequence[Segment], states: Sequence[Any], in_e: torch.Tensor, in_i: torch.Tensor) -> tuple[torch.Tensor, tuple[Any, ...]]:
    """One kernel step of every segment: spikes ``bool [B, n_neurons]`` and the new states.

    On a CPU the kernels run on NumPy arrays that share the tensors' memory: the kernels
    write one element-wise operation per line, NumPy rounds each IEEE operation as torch
    does (the results are bit-identical) and its per-call overhead on arrays of a few
    thousand neurons is about half of torch's. A segment with a ``compiled`` step runs it
    instead (generated from the same kernel, bit-identical; :mod:`~neurohop.backends.torch.compiled`).
    """
    host = in_e.device.type == "cpu" and all(seg.host_constants is not None for seg in segments)
    parts, neurons = [], []
    if host:
        e, i = in_e.numpy(), in_i.numpy()
        for seg, st in zip(segments, states):
            st = type(st)(*[x.numpy() for x in st])
            if seg.compiled is not None:
                spk, st = seg.compiled(st, e[:, seg.start : seg.stop], i[:, seg.start : seg.stop], seg.host_constants)
            else:
                spk, st = seg.kernel.step(st, e[:, seg.start : seg.stop], i[:, seg.start : seg.stop], seg.host_constants, np.where)
            parts.append(torch.from_numpy(spk))
            neurons.append(type(st)(*[torch.from_numpy(np.asarray(x)) for x in st]))
    else:
        for seg, st in zip(segments, states):
            spk, st = seg.kernel.step(st, in_e[:, seg.start : seg.stop], in_i[:, seg.start : seg.stop], seg.constants, torch.where)
            parts.append(spk)
            neurons.append(st)
    if not parts:  # a network of spike sources only
        parts.append(torch.zeros(in_e.shape[0], 0, dtype=torch.bool, device=in_e.device))
    return (torch.cat(parts, dim=1) if len(parts) != 1 else parts[0]), tuple(neurons)


def network_step(
    t: int, sources: torch.Tensor, state: NetworkState, p: NetworkParams, source_idx: tuple[Any, Any] | None = None, pending: Pending | None = None
) -> tuple[torch.Tensor, NetworkState]:
    """Advance the whole network by one step.

    The ring buffer ``state.buf`` is updated **in place** (the slot read at ``t`` is emptied
    and the spikes of this step are added into later slots), so that a step copies no
    buffer; the returned state holds the same buffer tensor. Callers that need the state
    before the step keep a copy (:func:`~neurohop.backends.torch.common.clone_state`).

    Parameters
    ----------
    t : int
        Index of this step.
    sources : Tensor [B, n_sources]
        Source spikes emitted at ``t`` (0/1 in the state's dtype, or bool).
    state : NetworkState
    p : NetworkParams
    source_idx : (batch, index) or None
        The true entries of ``sources`` if the caller has them already (NumPy arrays on a
        CPU, see :func:`~neurohop.backends.torch.delivery.spike_indices`).
    pending : Pending or None
        If given, the rows of this step's spikes are kept there instead of delivered; the
        caller flushes it once it is ``full`` (at most the smallest row delay of steps
        later) and at the end of a run.

    Returns
    -------
    spikes : bool Tensor [B, n_neurons]
    state : NetworkState
    """
    buf = state.buf
    slot = t % p.n_slots
    in_e, in_i = buf[slot, :, 0], buf[slot, :, 1]
    spikes, neurons = neurons_step(p.segments, state.neurons, in_e, in_i)
    buf[slot].zero_()  # every delay is >= 1 and < n_slots: nothing below lands in this slot

    if p.delivery is not None:
        host = buf.device.type == "cpu"
        sb, si = source_idx if source_idx is not None else spike_indices(sources, 0, host)
        nb, ni = spike_indices(spikes, p.n_sources, host)
        cat = np.concatenate if host else torch.cat
        if buf.shape[1] > 1:  # instance-major order: each instance's spikes in the all-vector order
            b, i = cat([sb, nb]), cat([si, ni])
            order = np.argsort(b, kind="stable") if host else torch.sort(b, stable=True).indices
            b, i = b[order], i[order]
        else:
            b, i = sb, cat([si, ni])
        if pending is None:
            deliver(buf, p.delivery, t, b, i)
        else:
            pending.add(t, b, i)

    if p.static or p.plastic:
        emitted = torch.cat([sources.to(buf.dtype), spikes.to(buf.dtype)], dim=1)
    for group in p.static:
        buf[(t + group.delay) % p.n_slots, :, int(group.inhibitory)] += emitted @ group.weight

    plastic = []
    history = []
    for block, syn, hist in zip(p.plastic, state.plastic, state.post_history):
        pre = emitted[:, block.pre_start : block.pre_stop]
        syn = block.kernel.step(syn, t, pre > 0, hist[0], block.constants, torch.where, block.mask)
        arriving = torch.bmm(pre.unsqueeze(1), getattr(syn, block.kernel.weight)).squeeze(1)
        buf[(t + block.delay) % p.n_slots, :, int(block.inhibitory), block.post_start : block.post_stop] += arriving
        plastic.append(syn)
        history.append(hist[1:] + (spikes[:, block.post_start : block.post_stop],))

    return spikes, NetworkState(tuple(neurons), buf, tuple(plastic), tuple(history))


class TorchNetwork(torch.nn.Module):
    """Thin module around :func:`network_step`: holds the parameters, returns the state."""

    def __init__(self, params: NetworkParams) -> None:
        super().__init__()
        self.params = params

    def forward(
        self, t: int, sources: torch.Tensor, state: NetworkState, source_idx: tuple[Any, Any] | None = None, pending: Pending | None = None
    ) -> tuple[torch.Tensor, NetworkState]:
        return network_step(t, sources, state, self.params, source_idx, pending)
