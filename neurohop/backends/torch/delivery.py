"""Event-driven delivery of static synapses and streamed source spikes for the torch backends.

Static synapses are kept as rows by pre neuron (compressed sparse rows over the
all-spikes vector: sources first, then neurons). At each step only the rows of the neurons
and sources that spiked are gathered, and their weights are added into the delay ring
buffer, so the cost follows ``spikes x fan-out`` rather than the number of synapses.

The ring buffer is one tensor ``[n_slots, B, 2, n_neurons]`` (receptor 0 excitatory, 1
inhibitory) updated in place. The weights of one step are added in a fixed order: instance,
then pre neuron in the all-spikes order (sources, then neurons, ascending), then synapse in
the order the description lists them; each addition goes straight into the slot it targets
(``index_add_``, sequential on a CPU). On a CUDA device ``index_add_`` uses atomic additions,
so float sums may differ in the last bit from run to run there.

Batched instances share the rows (one copy of the connectivity). The order of additions
depends on the spikes only, never on the other instances or on the activity, so a batched
run gives each instance the spikes of its own run. A dense matrix product (the ``"dense"``
delivery) sums in the order of its BLAS; where weights sum exactly (the tests' grid weights,
the CA3 memory) both give bit-identical states, and otherwise the input sums may differ in
the last bit (tested equal in spikes and to 1e-9 mV in potentials on random networks).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

__all__ = ["rows_sum", "EventDelivery", "event_delivery", "deliver", "Pending", "min_delay", "spike_indices", "SourceSchedule"]


def rows_sum(pre: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``pre @ w`` for binary ``pre [B, P]``, summing only the rows of the spiking neurons."""
    B = pre.shape[0]
    if B == 1:
        idx = pre[0].nonzero().flatten()
        if idx.numel() == 0:
            return torch.zeros(1, w.shape[1], device=w.device, dtype=w.dtype)
        return w.index_select(0, idx).sum(0, keepdim=True)
    nz = pre.nonzero()
    if nz.shape[0] == 0:
        return torch.zeros(B, w.shape[1], device=w.device, dtype=w.dtype)
    if nz.shape[0] * 4 > pre.numel():  # dense activity: a plain product is cheaper
        return pre @ w
    sp = torch.sparse_coo_tensor(nz.T, torch.ones(nz.shape[0], device=w.device, dtype=w.dtype), (B, pre.shape[1]), check_invariants=False)
    return torch.sparse.mm(sp, w)


class EventDelivery(NamedTuple):
    """Static synapses as rows by pre neuron (see the module docstring)."""

    indptr: np.ndarray  #: [n_all + 1] int64, row ``i`` is ``indptr[i]:indptr[i + 1]``
    target: np.ndarray  #: [nnz] int64, ``receptor * n_neurons + post``
    delay: np.ndarray | None  #: [nnz] int64 delays in steps, None when every synapse has ``one_delay``
    one_delay: int
    weight: np.ndarray  #: [nnz] magnitudes, nA, in the simulation dtype (the receptor gives the sign)
    t_indptr: torch.Tensor  #: the same arrays on the device (for devices other than the CPU)
    t_target: torch.Tensor
    t_delay: torch.Tensor | None
    t_weight: torch.Tensor

    @property
    def nnz(self) -> int:
        return int(self.target.size)


def event_delivery(n_all: int, n_neurons: int, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]], device: torch.device, dtype: torch.dtype) -> EventDelivery:
    """Rows by pre neuron of the synapses ``parts``: ``(pre, post, weight, delay, receptor)``
    with ``pre`` into the all-spikes vector, ``post`` into the neuron vector, receptor 0/1.
    Synapses of one pre neuron keep the order of ``parts`` and of each part."""
    pre = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    target = np.concatenate([p[1] + p[4] * n_neurons for p in parts]) if parts else np.zeros(0, np.int64)
    weight = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    delay = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(pre, kind="stable")
    pre, target, weight, delay = pre[order], target[order].astype(np.int64), weight[order], delay[order].astype(np.int64)
    indptr = np.zeros(n_all + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n_all), out=indptr[1:])
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    weight = weight.astype(np_dtype)
    one = int(delay[0]) if delay.size else 1
    per = None if delay.size == 0 or np.all(delay == one) else delay
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return EventDelivery(indptr, target, per, one, weight, t(indptr), t(target), None if per is None else t(per), t(weight))


def deliver(buf: torch.Tensor, d: EventDelivery, t: Any, batch_idx: Any, pre_idx: Any) -> None:
    """Add the rows of the spikes ``(batch_idx[k], pre_idx[k])`` emitted at step ``t`` (one
    step, or one per spike) into the ring buffer ``buf [n_slots, B, 2, n_neurons]`` in place
    (see the module docstring).

    On a CPU the indices are NumPy arrays and the gather runs in NumPy (small arrays, little
    overhead per call); elsewhere they are tensors on the buffer's device.
    """
    n_slots, B = buf.shape[0], buf.shape[1]
    slot_size = buf[0].numel()
    inst = buf.shape[2] * buf.shape[3]
    flat = buf.view(-1)
    if isinstance(pre_idx, np.ndarray):
        starts = d.indptr[pre_idx]
        counts = d.indptr[pre_idx + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return
        ends = np.cumsum(counts)
        pos = np.repeat(starts - ends + counts, counts) + np.arange(total)
        tgt = d.target[pos]
        if B > 1:
            tgt = tgt + np.repeat(batch_idx * inst, counts)
        if not np.isscalar(t):
            t = np.repeat(t, counts)
        if d.delay is None:
            tgt = tgt + ((t + d.one_delay) % n_slots) * slot_size
        else:
            tgt = tgt + ((t + d.delay[pos]) % n_slots) * slot_size
        flat.index_add_(0, torch.from_numpy(tgt), torch.from_numpy(d.weight[pos]))
        return
    starts = d.t_indptr[pre_idx]
    counts = d.t_indptr[pre_idx + 1] - starts
    ends = counts.cumsum(0)
    total = int(ends[-1]) if ends.numel() else 0
    if total == 0:
        return
    pos = torch.repeat_interleave(starts - ends + counts, counts, output_size=total) + torch.arange(total, device=buf.device)
    tgt = d.t_target[pos]
    if B > 1:
        tgt = tgt + torch.repeat_interleave(batch_idx * inst, counts, output_size=total)
    if isinstance(t, torch.Tensor):
        t = torch.repeat_interleave(t, counts, output_size=total)
    if d.t_delay is None:
        tgt = tgt + ((t + d.one_delay) % n_slots) * slot_size
    else:
        tgt = tgt + ((t + d.t_delay[pos]) % n_slots) * slot_size
    flat.index_add_(0, tgt, d.t_weight[pos])


class Pending:
    """Spikes whose rows are delivered later, together (at most ``window`` steps of them).

    A spike emitted at step ``t`` reaches the ring buffer at ``t + d`` with ``d`` at least
    the smallest delay of the rows, so the spikes of ``window <= min delay`` consecutive
    steps can be gathered in one :func:`deliver` after the last of those steps (before the
    next step reads the buffer).
    """

    def __init__(self, window: int, host: bool) -> None:
        self.window = max(1, int(window))
        self.host = host
        self.parts: list[tuple[int, Any, Any]] = []
        self.steps = 0

    def add(self, t: int, batch_idx: Any, pre_idx: Any) -> None:
        """Keep the spikes of step ``t`` (the steps come one after the other)."""
        self.steps += 1
        if len(pre_idx):
            self.parts.append((t, batch_idx, pre_idx))

    @property
    def full(self) -> bool:
        """Whether ``window`` steps are kept (flush before the next step)."""
        return self.steps >= self.window

    def flush(self, buf: torch.Tensor, d: EventDelivery) -> None:
        """Deliver everything kept, in the order one delivery per step would add it."""
        self.steps = 0
        if not self.parts:
            return
        if len(self.parts) == 1:
            t, b, i = self.parts[0]
        elif self.host:
            t = np.concatenate([np.full(len(i), t, dtype=np.int64) for t, _, i in self.parts])
            b = np.concatenate([b for _, b, _ in self.parts])
            i = np.concatenate([i for _, _, i in self.parts])
        else:
            t = torch.cat([torch.full((len(i),), t, dtype=torch.int64, device=i.device) for t, _, i in self.parts])
            b = torch.cat([b for _, b, _ in self.parts])
            i = torch.cat([i for _, _, i in self.parts])
        self.parts.clear()
        deliver(buf, d, t, b, i)


def min_delay(d: EventDelivery) -> int:
    """The smallest delay (steps) of the rows."""
    return d.one_delay if d.delay is None else int(d.delay.min(initial=d.one_delay))


def spike_indices(spikes: torch.Tensor, offset: int, host: bool) -> tuple[Any, Any]:
    """``(batch, index + offset)`` of the true entries of ``spikes [B, n]``, in row-major
    order, as NumPy arrays when ``host`` else tensors."""
    nz = spikes.nonzero()
    if host:
        nz = nz.numpy()
        return nz[:, 0], nz[:, 1] + offset
    return nz[:, 0], nz[:, 1] + offset


class SourceSchedule:
    """The fixed spike times of the source populations, sorted by step, cut into windows
    without building a raster of the whole run.

    Parameters
    ----------
    times : sequence of (offset, tuple of tuples)
        Each source population's first index in the source vector and its ``times``.
    """

    def __init__(self, times: Sequence[tuple[int, Sequence[Sequence[int]]]]) -> None:
        steps, chans = [], []
        for offset, trains in times:
            for i, train in enumerate(trains):
                if len(train):
                    steps.append(np.asarray(train, dtype=np.int64))
                    chans.append(np.full(len(train), offset + i, dtype=np.int64))
        step = np.concatenate(steps) if steps else np.zeros(0, np.int64)
        chan = np.concatenate(chans) if chans else np.zeros(0, np.int64)
        order = np.lexsort((chan, step))
        self.step, self.channel = step[order], chan[order]

    def window(self, t0: int, steps: int, n_sources: int) -> np.ndarray:
        """Fixed source spikes of steps ``[t0, t0 + steps)`` as ``bool [steps, n_sources]``."""
        out = np.zeros((steps, n_sources), dtype=bool)
        a, b = np.searchsorted(self.step, [t0, t0 + steps])
        out[self.step[a:b] - t0, self.channel[a:b]] = True
        return out
