"""An event-driven torch simulation for large recurrent memories (backend ``"torch_event"``).

The clock-driven :class:`~neurohop.backends.torch.simulation.TorchSimulation` keeps every
synapse group as a dense matrix over all neurons and one plastic weight matrix per batch
instance, which is exact and general but costs O(n^2) per step and B copies of the weights.
This backend runs the same discrete-time semantics (the kernels of :mod:`neurohop.kernels`:
neuron steps through :data:`~neurohop.kernels.NEURON_KERNELS`, plasticity through
:func:`~neurohop.kernels.stdp.stdp_event_step`) with costs that follow the spikes:

* one-to-one projections are element-wise products;
* all-to-all projections with one weight are a spike count times the weight;
* all-to-all projections with a weight matrix (static or plastic) deliver the rows of the
  neurons that spiked (a sparse-dense product over a batch);
* plasticity touches only the rows of the pre neurons that spiked and the columns of the
  post neurons seen at this step.

Plastic weights are *shared*: learning runs one instance (``batch=None``); a batched run
(:meth:`EventSimulation.run_frozen`) recalls B independent inputs against the same, frozen
weights. Spike trains and weights equal the clock-driven backend's (tested in
``tests/attractor``). Other connectors raise :class:`~neurohop.errors.BuildError`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_seed, neuron_order
from neurohop.backends.torch.common import clone_state, itemsize, kernel_states, resolve_device, resolve_dtype
from neurohop.backends.torch.network import device_tensor, layout_neurons, segment_of, stdp_tensors
from neurohop.backends.torch.simulation import source_raster
from neurohop.errors import BuildError, InputError
from neurohop.kernels.stdp import NEVER, STDPConstants, STDPState, stdp_constants, stdp_event_step
from neurohop.model.network import Network, Population
from neurohop.model.synapses import AllToAll, OneToOne

__all__ = ["EventSimulation", "build_torch_event"]

#: On a CPU, batched runs go in tiles of about this many neuron states (a few MB of float64).
CPU_TILE_ELEMENTS = 1 << 17

SUPPORTED = "one_to_one, all_to_all / all_to_all_without_self (one weight, a weight matrix, or plastic)"


class _Op(NamedTuple):
    """One projection compiled for event-driven delivery."""

    kind: str  #: "one_to_one", "uniform", "matrix" or "plastic"
    pre: slice  #: into the all-spikes vector (sources, then neurons)
    post: slice  #: into the neuron vector
    delay: int
    inhibitory: bool
    weight: Any  #: one_to_one: [n] tensor; uniform: float; matrix: [pre, post] tensor; plastic: index
    no_self: bool  #: all_to_all without self connections (local diagonal excluded)


class _Activity(NamedTuple):
    """Everything but the plastic synapses: neuron states and in-flight spike sums."""

    neurons: tuple[Any, ...]
    buf_e: torch.Tensor  #: [n_slots, B, n_neurons]
    buf_i: torch.Tensor


def _rows_sum(pre: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
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


class EventSimulation(Simulation):
    """A network compiled for event-driven delivery and plasticity (see the module docstring).

    Parameters
    ----------
    net : Network
    dt : float
        Timestep, ms.
    device : str or torch.device
    batch : None
        Learning runs one instance; use :meth:`run_frozen` for batched runs.
    dtype : str or torch.dtype
        ``"float64"`` (default, exact agreement with the other backends) or ``"float32"``.
    learning : bool
        Whether plastic projections learn during :meth:`run` (see :meth:`set_learning`).
    seed : int or None
        See :data:`~neurohop.backends.base.SEED_OPTION` (this backend draws no random numbers).
    """

    backend = "torch_event"
    OPTIONS = (
        Option("dt", "float > 0", 1.0, "timestep, ms"),
        Option("device", "str or torch.device", "cpu", "'cpu', 'cuda', 'cuda:1'..."),
        Option("batch", "None", None, "only None: learning runs one instance; recall a batch with run_frozen(..., batch=B)"),
        Option("dtype", "str or torch.dtype", "float64", "'float64' (exact agreement with the other backends) or 'float32'"),
        Option("learning", "bool", True, "whether plastic projections learn during run (see set_learning)"),
        SEED_OPTION,
    )
    CAPABILITIES = Capabilities(
        learning_switch=True, weight_matrix=True, batched_frozen_recall=True, plasticity=("stdp",),
        connectors=("one_to_one", "all_to_all", "all_to_all_without_self"), plastic_connectors=("all_to_all", "all_to_all_without_self"), per_synapse_delays=False,
        neuron_models=tuple(kernel_states()), states=kernel_states(), devices=("cpu", "cuda"), dtypes=("float64", "float32"),
    )

    @classmethod
    def check_device(cls, device: Any, backend: str | None = None) -> None:
        resolve_device(device, backend or cls.backend)

    @classmethod
    def estimate_bytes(cls, plastic_synapses: int, dense_entries: int, options: Mapping[str, Any]) -> int:
        """One shared copy of the plastic weights; static all-to-all weights are not expanded."""
        return itemsize(options.get("dtype", "float64"), cls.backend) * plastic_synapses

    def __init__(
        self, net: Network, dt: float = 1.0, device: Any = "cpu", batch: int | None = None, dtype: Any = "float64", learning: bool = True, seed: int | None = None
    ) -> None:
        super().__init__(net, dt, batch)
        self.seed = check_seed(self.backend, seed)
        if batch is not None:
            raise BuildError("torch_event: batch: the shared plastic weights run as one instance (batch=None); recall a batch with run_frozen(..., batch=B)")
        try:
            by_model = neuron_order(net)
        except BuildError as exc:
            raise BuildError(f"torch_event: {exc}") from None
        self.device = resolve_device(device, "torch_event")
        self.dtype = resolve_dtype(dtype, "torch_event")
        self.learning = bool(learning)
        sizes = net.sizes
        layout = layout_neurons(net, by_model, self.dt, self._tensor)
        self._src_offset, self._nrn_offset = layout.src_offset, layout.nrn_offset
        self.segments, self._initial = layout.segments, layout.initial
        n_src = self.n_sources = layout.n_sources
        self.n_neurons = layout.n_neurons

        def all_start(name: str) -> int:
            return self._src_offset[name] if name in self._src_offset else n_src + self._nrn_offset[name]

        ops: list[_Op] = []
        self._plastic_names: list[str] = []
        self._plastic_init: list[torch.Tensor] = []
        self._plastic_consts: list[STDPConstants] = []
        self._plastic_no_self: list[bool] = []
        max_delay = 1
        for proj in net.projections:
            a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
            b0, b1 = proj.post.resolve(sizes[proj.post.population])
            pre = slice(all_start(proj.pre.population) + a0, all_start(proj.pre.population) + a1)
            post = slice(self._nrn_offset[proj.post.population] + b0, self._nrn_offset[proj.post.population] + b1)
            if not np.isscalar(proj.delay):
                raise BuildError(f"torch_event: projection {proj.name!r}: per-synapse delays are not supported; supported: one delay per projection")
            delay = int(proj.delay)
            max_delay = max(max_delay, delay)
            inhibitory = proj.sign < 0
            conn = proj.connector
            if isinstance(conn, OneToOne) and proj.plasticity is None:
                _, _, w, _ = proj.synapses(sizes)
                ops.append(_Op("one_to_one", pre, post, delay, inhibitory, self._tensor(w), False))
            elif isinstance(conn, AllToAll) and proj.plasticity is None and np.isscalar(proj.weight):
                ops.append(_Op("uniform", pre, post, delay, inhibitory, float(proj.weight), not conn.allow_self_connections))
            elif isinstance(conn, AllToAll):
                dense = np.zeros((a1 - a0, b1 - b0))
                if np.isscalar(proj.weight):
                    dense[:] = float(proj.weight)
                elif proj.weight.shape == dense.shape:
                    dense[:] = proj.weight
                else:  # one weight per synapse, in the connector's order
                    lpre, lpost, w, _ = proj.local_synapses(sizes)
                    dense[lpre, lpost] = w
                no_self = not conn.allow_self_connections
                if no_self:
                    m = min(dense.shape)
                    dense[np.arange(m), np.arange(m)] = 0.0
                if proj.plasticity is None:
                    ops.append(_Op("matrix", pre, post, delay, inhibitory, torch.as_tensor(dense, device=self.device, dtype=self.dtype), False))
                else:
                    c = stdp_constants(proj.plasticity, self.dt)
                    self._plastic_consts.append(stdp_tensors(c, self.device, self.dtype))
                    self._plastic_no_self.append(no_self)
                    ops.append(_Op("plastic", pre, post, delay, inhibitory, len(self._plastic_names), False))
                    self._plastic_names.append(proj.name)
                    self._plastic_init.append(torch.as_tensor(dense, device=self.device, dtype=self.dtype))
            else:
                raise BuildError(f"torch_event: projection {proj.name!r}: connector {conn.kind!r} is not supported; supported: {SUPPORTED}")
        self.ops = tuple(ops)
        self.n_slots = max_delay + 1
        self.reset()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return device_tensor(array, self.device, self.dtype)

    # ------------------------------------------------------------------ state
    def _fresh_activity(self, B: int) -> _Activity:
        neurons = tuple(type(init)(*[self._tensor(a).expand(B, -1).clone() for a in init]) for init in self._initial)
        buf = torch.zeros(self.n_slots, B, self.n_neurons, device=self.device, dtype=self.dtype)
        return _Activity(neurons, buf, buf.clone())

    def reset(self) -> None:
        """Return to step 0: initial neuron state, initial weights, no trace, nothing in flight."""
        self._activity = self._fresh_activity(1)
        plastic, history = [], []
        for op, w0 in zip([o for o in self.ops if o.kind == "plastic"], self._plastic_init):
            P, Q = w0.shape
            never = lambda n: torch.full((n,), NEVER, device=self.device, dtype=torch.int64)  # noqa: E731
            zeros = lambda n: torch.zeros(n, device=self.device, dtype=self.dtype)  # noqa: E731
            plastic.append(STDPState(w0.clone(), zeros(P), never(P), zeros(Q), never(Q)))
            history.append(deque(torch.zeros(Q, device=self.device, dtype=torch.bool) for _ in range(op.delay)))
        self._plastic = plastic
        self._history = history
        self.t = 0

    def set_learning(self, on: bool) -> None:
        """Switch plasticity on or off for the following :meth:`run` calls (weights are kept)."""
        self.learning = bool(on)

    def snapshot(self) -> tuple[int, _Activity, list[STDPState], list[list[torch.Tensor]]]:
        return self.t, clone_state(self._activity), [clone_state(s) for s in self._plastic], [[h.clone() for h in hist] for hist in self._history]

    def restore(self, snapshot: tuple[int, _Activity, list[STDPState], list[list[torch.Tensor]]]) -> None:
        t, activity, plastic, history = snapshot
        self.t = t
        self._activity = clone_state(activity)
        self._plastic = [clone_state(s) for s in plastic]
        self._history = [deque(h.clone() for h in hist) for hist in history]

    def weight_tensor(self, projection: str) -> torch.Tensor:
        """The current ``[pre, post]`` weight matrix (nA) of a plastic projection, on the device (not a copy)."""
        if projection not in self._plastic_names:
            raise InputError(f"torch_event: weight_matrix: {projection!r} is not a plastic projection; plastic: {self._plastic_names}")
        return self._plastic[self._plastic_names.index(projection)].w

    def weight_matrix(self, projection: str) -> np.ndarray:
        """The current ``[pre, post]`` weight matrix (nA) of a plastic projection (a NumPy copy)."""
        return self.weight_tensor(projection).cpu().numpy().copy()

    def weights(self, projection: str) -> np.ndarray:
        proj = self.net.projection(projection)
        pre, post, w, _ = proj.local_synapses(self.net.sizes)
        if proj.plasticity is None:
            return w
        dense = self.weight_tensor(projection)
        return dense[torch.as_tensor(pre, device=self.device), torch.as_tensor(post, device=self.device)].cpu().numpy()

    def _segment_of(self, pop: Population) -> tuple[int, slice]:
        return segment_of(self.segments, self._nrn_offset[pop.name], pop.size)

    def state(self, population: str) -> dict[str, np.ndarray]:
        pop = self.net.population(population)
        if pop.is_source:
            raise InputError(f"state: {population!r} is a spike source and has no state")
        k, s = self._segment_of(pop)
        seg_state = self._activity.neurons[k]
        return {name: getattr(seg_state, name)[0, s].cpu().numpy() for name in self.segments[k].kernel.recordable}

    # ------------------------------------------------------------------ running
    def _sources(self, steps: int, inputs: Mapping[str, Any] | None, batch: int | None) -> torch.Tensor:
        return torch.as_tensor(source_raster(self, steps, inputs, batch, self._src_offset, self.n_sources), device=self.device)

    def _step(self, t: int, src: torch.Tensor, act: _Activity, learn: bool, track: bool) -> tuple[torch.Tensor, _Activity]:
        slot = t % self.n_slots
        in_e, in_i = act.buf_e[slot], act.buf_i[slot]  # views; emptied once the neurons read them
        parts, neurons = [], []
        for seg, seg_state in zip(self.segments, act.neurons):
            spk, seg_state = seg.kernel.step(seg_state, in_e[:, seg.start : seg.stop], in_i[:, seg.start : seg.stop], seg.constants, torch.where)
            parts.append(spk)
            neurons.append(seg_state)
        in_e.zero_()  # every delay is >= 1 and < n_slots: nothing below lands in this slot
        in_i.zero_()
        spikes = torch.cat(parts, dim=1) if len(parts) != 1 else parts[0]
        emitted = torch.cat([src.to(self.dtype), spikes.to(self.dtype)], dim=1)
        for op in self.ops:
            pre = emitted[:, op.pre]
            if op.kind == "plastic":
                k = op.weight
                if track:  # the post spikes the rule will see d steps later
                    seen = self._history[k].popleft()
                    if learn:
                        pre_b = pre[0] > 0
                        pre_idx, post_idx = pre_b.nonzero().flatten(), seen.nonzero().flatten()
                        # without self-connections the mask is the diagonal: rather than gather
                        # mask columns, update unmasked and put the (always 0) diagonal back
                        self._plastic[k] = stdp_event_step(self._plastic[k], t, pre_idx, post_idx, pre_b, seen, self._plastic_consts[k], torch.where, None)
                        if self._plastic_no_self[k]:
                            w = self._plastic[k].w
                            for idx in (pre_idx, post_idx):
                                idx = idx[idx < min(w.shape)]
                                w[idx, idx] = 0.0
                    self._history[k].append(spikes[0, op.post].clone())
                arriving = _rows_sum(pre, self._plastic[k].w)
            elif op.kind == "matrix":
                arriving = _rows_sum(pre, op.weight)
            elif op.kind == "one_to_one":
                arriving = pre * op.weight
            else:
                count = pre.sum(1, keepdim=True)
                n_post = op.post.stop - op.post.start
                if op.no_self:
                    m = min(n_post, pre.shape[1])
                    votes = count.expand(-1, n_post).clone()
                    votes[:, :m] -= pre[:, :m]
                    arriving = votes * op.weight
                else:
                    arriving = (count * op.weight).expand(-1, n_post)
            target = (t + op.delay) % self.n_slots
            buf = act.buf_i if op.inhibitory else act.buf_e
            buf[target, :, op.post] += arriving
        return spikes, _Activity(tuple(neurons), act.buf_e, act.buf_i)

    def _stacked(self, spikes_rec: list[torch.Tensor], B: int) -> torch.Tensor:
        """The per-step spike vectors as one ``[steps, B, n_neurons]`` tensor."""
        return torch.stack(spikes_rec) if spikes_rec else torch.zeros(0, B, self.n_neurons, dtype=torch.bool, device=self.device)

    def _names(self, record: Sequence[str] | None) -> list[str]:
        names = [p.name for p in self.net.populations if p.record] if record is None else list(record)
        for name in names:
            self.net.population(name)
        return names

    def _watched(self, names: Sequence[str]) -> list[tuple[str, str, int, slice]]:
        """(population, variable, segment, columns) of every recorded state variable."""
        out = []
        for name in names:
            pop = self.net.population(name)
            if pop.is_source:
                continue
            k, cols = self._segment_of(pop)
            out += [(name, var, k, cols) for var in pop.record if var != "spikes"]
        return out

    @staticmethod
    def _take_states(rec: dict[tuple[str, str], list[torch.Tensor]], act: _Activity, watched: Sequence[tuple[str, str, int, slice]]) -> None:
        for name, var, k, cols in watched:
            rec.setdefault((name, var), []).append(getattr(act.neurons[k], var)[:, cols])

    def _record(self, spikes: torch.Tensor, src: torch.Tensor, steps: int, record: Sequence[str] | None, batched: bool, states: Mapping[tuple[str, str], torch.Tensor] | None = None) -> RunResult:
        result = RunResult(self.t, steps, self.dt)
        names = self._names(record)
        for (name, var), arr in (states or {}).items():
            values = arr.cpu().numpy()
            result.states.setdefault(name, {})[var] = values if batched else values[:, 0, :]
        nrn = spikes.cpu().numpy()
        src_np = src.cpu().numpy()
        for name in names:
            pop = self.net.population(name)
            if pop.is_source:
                o = self._src_offset[name]
                arr = src_np[:, :, o : o + pop.size]
            else:
                o = self._nrn_offset[name]
                arr = nrn[:, :, o : o + pop.size]
            result.spikes[name] = arr if batched else arr[:, 0, :]
        return result

    @torch.no_grad()
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None, record: Sequence[str] | None = None) -> RunResult:
        """Advance ``steps`` steps (learning if :attr:`learning`); ``record`` limits the recorded populations."""
        steps = self._check_steps(steps)
        src = self._sources(steps, inputs, None)
        watched = self._watched(self._names(record))
        act, rec, states = self._activity, [], {}
        for k in range(steps):
            spikes, act = self._step(self.t + k, src[k], act, self.learning, True)
            rec.append(spikes)
            self._take_states(states, act, watched)
        self._activity = act
        result = self._record(self._stacked(rec, 1), src, steps, record, False, self._stacked_states(states, watched, 1, steps))
        self.t += steps
        return result

    @torch.no_grad()
    def run_frozen(self, steps: int, inputs: Mapping[str, Any] | None, batch: int, record: Sequence[str] | None = None) -> RunResult:
        """Run ``batch`` independent instances from a quiet start against the current, frozen weights.

        Neuron states start from their initial values with nothing in flight; plasticity is
        off; the simulation's own state (time, neurons, weights) is left unchanged. Results
        have a batch dimension: ``[steps, batch, n]``.
        """
        steps = self._check_steps(steps)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise InputError(f"run_frozen: batch: expected an integer >= 1 (got {batch!r})")
        B = int(batch)
        src = self._sources(steps, inputs, B)
        # on a CPU, instances run in tiles whose state stays in cache (element-wise neuron
        # updates are memory-bound); the instances are independent, so results are the same
        tile = B if self.device.type != "cpu" else max(1, min(B, CPU_TILE_ELEMENTS // max(1, self.n_neurons)))
        watched = self._watched(self._names(record))
        rec_tiles, state_tiles = [], []
        for b0 in range(0, B, tile):
            part = src[:, b0 : b0 + tile]
            act, rec, states = self._fresh_activity(part.shape[1]), [], {}
            for k in range(steps):
                spikes, act = self._step(self.t + k, part[k], act, False, False)
                rec.append(spikes)
                self._take_states(states, act, watched)
            rec_tiles.append(self._stacked(rec, part.shape[1]))
            state_tiles.append(self._stacked_states(states, watched, part.shape[1], steps))
        joined = {key: torch.cat([t[key] for t in state_tiles], dim=1) for key in state_tiles[0]} if state_tiles else {}
        return self._record(torch.cat(rec_tiles, dim=1), src, steps, record, True, joined)

    def _stacked_states(self, states: dict[tuple[str, str], list[torch.Tensor]], watched: Sequence[tuple[str, str, int, slice]], B: int, steps: int) -> dict[tuple[str, str], torch.Tensor]:
        """Each recorded variable as one ``[steps, B, n]`` tensor (empty runs included)."""
        out = {}
        for name, var, _, cols in watched:
            values = states.get((name, var), [])
            n = cols.stop - cols.start
            out[(name, var)] = torch.stack(values) if values else torch.zeros(0, B, n, device=self.device, dtype=self.dtype)
        return out


def build_torch_event(net: Network, **options: Any) -> EventSimulation:
    """Compile ``net`` for the event-driven torch backend; ``options`` are
    :attr:`EventSimulation.OPTIONS` (see :class:`EventSimulation`)."""
    return EventSimulation.build(net, None, **options)  # type: ignore[return-value]
