"""Runs in chunks with bounded memory: source spikes built per chunk, recordings written
straight into their final arrays.

A run of ``steps`` steps is cut into chunks of at most :func:`chunk_steps` steps. For each
chunk the source raster (``bool [chunk, B, n_sources]``) is built from the run-time inputs
and the sources' fixed times (:class:`~neurohop.backends.torch.delivery.SourceSchedule`),
and the spikes of every step are gathered once per chunk. Recorded spikes are booleans
(one byte per neuron and step), recorded states the simulation's dtype; nothing else grows
with the run length.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.backends.base import RunResult
from neurohop.backends.torch.delivery import SourceSchedule
from neurohop.model.network import Network

__all__ = ["CHUNK_ELEMENTS", "chunk_steps", "source_schedule", "SourceChunk", "source_chunks", "Recorder", "run_bytes"]

#: A chunk's source raster holds about this many booleans (and at most ``MAX_CHUNK`` steps).
CHUNK_ELEMENTS = 1 << 22
MAX_CHUNK = 1000


def chunk_steps(steps: int, B: int, n_sources: int, n_neurons: int) -> int:
    """Steps per chunk for ``B`` instances."""
    per_step = max(1, B * (n_sources + n_neurons))
    return max(1, min(steps, MAX_CHUNK, CHUNK_ELEMENTS // per_step))


def source_schedule(net: Network, offsets: Mapping[str, int]) -> SourceSchedule:
    """The fixed times of every source population of ``net``."""
    return SourceSchedule([(offsets[p.name], p.model.times) for p in net.sources if p.model.times])


class SourceChunk(NamedTuple):
    """The source spikes of the steps ``[k0, k0 + raster.shape[0])`` of a run."""

    k0: int
    raster: np.ndarray  #: bool [steps, B, n_sources]
    bounds: np.ndarray  #: spikes of step k are entries bounds[k]:bounds[k + 1] of batch/index
    batch: np.ndarray  #: instance of each spike (int64)
    index: np.ndarray  #: source index of each spike (int64)

    def step(self, k: int, device: torch.device) -> tuple[torch.Tensor, tuple[Any, Any]]:
        """Step ``k`` of the chunk: the raster row as a tensor and the spikes' (batch, index)."""
        a, b = self.bounds[k], self.bounds[k + 1]
        row = torch.from_numpy(self.raster[k])
        if device.type == "cpu":
            return row, (self.batch[a:b], self.index[a:b])
        return row.to(device), (torch.as_tensor(self.batch[a:b], device=device), torch.as_tensor(self.index[a:b], device=device))


def source_chunks(
    t0: int, steps: int, B: int, checked: Mapping[str, np.ndarray], offsets: Mapping[str, int], sizes: Mapping[str, int],
    schedule: SourceSchedule, n_sources: int, chunk: int,
) -> Iterator[SourceChunk]:
    """The run's source spikes chunk by chunk: run-time ``checked`` inputs (``[steps, B or 1, n]``)
    or'ed with the fixed times (steps counted from ``t0``)."""
    for k0 in range(0, steps, chunk):
        c = min(chunk, steps - k0)
        raster = np.zeros((c, B, n_sources), dtype=bool)
        raster |= schedule.window(t0 + k0, c, n_sources)[:, None, :]
        for name, arr in checked.items():
            o = offsets[name]
            raster[:, :, o : o + sizes[name]] |= arr[k0 : k0 + c]
        flat = np.flatnonzero(raster)  # row-major, as np.nonzero, and several times faster on 3-D
        kb, i = np.divmod(flat, n_sources) if n_sources else (flat, flat)
        k, b = np.divmod(kb, B)
        bounds = np.searchsorted(k, np.arange(c + 1))
        yield SourceChunk(k0, raster, bounds, b, i)


class Recorder:
    """Recorded spikes and states of a run, written chunk by chunk into preallocated arrays.

    Parameters
    ----------
    steps, B : int
    spikes : sequence of (name, "source" or "neuron", offset, size)
    states : sequence of (name, variable, segment, columns)
    dtype : NumPy dtype of the states
    """

    def __init__(self, steps: int, B: int, spikes: Sequence[tuple[str, str, int, int]], states: Sequence[tuple[str, str, int, slice]], dtype: Any) -> None:
        self.spike_specs = list(spikes)
        self.state_specs = list(states)
        self.spikes = {name: np.zeros((steps, B, size), dtype=bool) for name, _, _, size in self.spike_specs}
        self.states = {(name, var): np.zeros((steps, B, cols.stop - cols.start), dtype=dtype) for name, var, _, cols in self.state_specs}
        self._spk: list[torch.Tensor] = []
        self._st: dict[tuple[str, str], list[torch.Tensor]] = {key: [] for key in self.states}
        self._k0 = 0

    @property
    def wants_neuron_spikes(self) -> bool:
        return any(kind == "neuron" for _, kind, _, _ in self.spike_specs)

    def step(self, spikes: torch.Tensor, neurons: Sequence[Any]) -> None:
        """Keep one step's neuron spikes and recorded states (until :meth:`flush`)."""
        if self.wants_neuron_spikes:
            self._spk.append(spikes)
        for name, var, seg, cols in self.state_specs:
            self._st[(name, var)].append(getattr(neurons[seg], var)[:, cols])

    def flush(self, chunk: SourceChunk | None, steps: int) -> None:
        """Write the kept steps (``steps`` of them, starting where the last flush ended)."""
        k0, k1 = self._k0, self._k0 + steps
        nrn = torch.stack(self._spk).cpu().numpy() if self._spk else None
        for name, kind, o, size in self.spike_specs:
            if kind == "source":
                self.spikes[name][k0:k1] = chunk.raster[:, :, o : o + size]
            elif nrn is not None:
                self.spikes[name][k0:k1] = nrn[:, :, o : o + size]
        for key, values in self._st.items():
            if values:
                self.states[key][k0:k1] = torch.stack(values).cpu().numpy()
            values.clear()
        self._spk.clear()
        self._k0 = k1

    def neuron_spikes_view(self, steps: int, n_neurons: int) -> np.ndarray | None:
        """The next ``steps`` rows of a recording that holds every neuron in order (to be
        filled in place, then passed to :meth:`write`), or None."""
        for name, kind, o, size in self.spike_specs:
            if kind == "neuron" and o == 0 and size == n_neurons:
                return self.spikes[name][self._k0 : self._k0 + steps]
        return None

    def write(self, chunk: SourceChunk, steps: int, neuron_spikes: np.ndarray, states: Mapping[tuple[int, str], np.ndarray]) -> None:
        """Write a whole chunk at once: the neuron spikes ``bool [steps, B, n_neurons]`` (possibly
        :meth:`neuron_spikes_view`, already in place) and the states
        ``{(segment, variable): [steps, B, segment size]}`` it recorded."""
        k0, k1 = self._k0, self._k0 + steps
        for name, kind, o, size in self.spike_specs:
            dest = self.spikes[name][k0:k1]
            if kind == "source":
                dest[...] = chunk.raster[:, :, o : o + size]
            elif not np.shares_memory(dest, neuron_spikes):
                dest[...] = neuron_spikes[:, :, o : o + size]
        for name, var, seg, cols in self.state_specs:
            self.states[(name, var)][k0:k1] = states[(seg, var)][:, :, cols]
        self._k0 = k1

    def result(self, t: int, steps: int, dt: float, batched: bool) -> RunResult:
        """The recordings as a :class:`~neurohop.backends.base.RunResult` (without the batch
        dimension unless ``batched``)."""
        result = RunResult(t, steps, dt)
        for name, arr in self.spikes.items():
            result.spikes[name] = arr if batched else arr[:, 0, :]
        for (name, var), arr in self.states.items():
            result.states.setdefault(name, {})[var] = arr if batched else arr[:, 0, :]
        return result


def run_bytes(steps: int, B: int, recorded_spikes: int, recorded_states: int, n_sources: int, n_neurons: int, inputs: int, itemsize: int) -> int:
    """Estimated peak memory (bytes) of a run beyond the compiled network: the results
    (booleans for spikes, ``itemsize`` per state value), the run-time inputs, and one chunk
    of source raster and kept steps."""
    chunk = chunk_steps(steps, B, n_sources, n_neurons)
    results = steps * B * (recorded_spikes + itemsize * recorded_states)
    per_chunk = chunk * B * (n_sources + n_neurons + itemsize * recorded_states) * 2
    return results + steps * B * inputs + per_chunk
