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
* every other static projection (``FromList``, per-synapse delays) is delivered row by row
  from compressed rows by pre neuron (:mod:`~neurohop.backends.torch.delivery`);
* plasticity touches only the rows of the pre neurons that spiked and the columns of the
  post neurons seen at this step.

Plastic weights are *shared*: learning runs one instance (``batch=None``); a batched run
(:meth:`EventSimulation.run_frozen`) recalls B independent inputs against the same, frozen
weights. Spike trains and weights equal the clock-driven backend's (tested in
``tests/attractor``). Plastic projections need an all-to-all connector; others raise
:class:`~neurohop.errors.BuildError`. :meth:`EventSimulation.run_frozen` continues a recall
across calls when given the same :class:`FrozenState`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_inputs, check_seed, neuron_order
from neurohop.backends.torch.compiled import FusedRunner, compile_segments, resolve_compiled
from neurohop.backends.torch.common import block_state, clone_state, itemsize, kernel_states, plastic_kernel, plastic_rules, resolve_device, resolve_dtype
from neurohop.backends.torch.activity import Activity, FrozenState, join_instances, take_instances
from neurohop.backends.torch.delivery import Pending, deliver, event_delivery, min_delay, rows_sum, spike_indices
from neurohop.backends.torch.network import constants_on, device_tensor, layout_neurons, neurons_step, segment_of
from neurohop.backends.torch.stream import Recorder, chunk_steps, run_bytes, source_chunks, source_schedule
from neurohop.errors import BuildError, InputError
from neurohop.model.network import Network, Population
from neurohop.model.synapses import AllToAll, OneToOne

__all__ = ["EventSimulation", "FrozenState", "build_torch_event"]

log = logging.getLogger("neurohop.torch")

#: On a CPU, batched runs go in tiles of about this many neuron states (a few MB of float64).
CPU_TILE_ELEMENTS = 1 << 17

SUPPORTED = "plastic: all_to_all / all_to_all_without_self; static: every connector"


class _Op(NamedTuple):
    """One projection compiled for event-driven delivery."""

    kind: str  #: "one_to_one", "uniform", "matrix" or "plastic"
    pre: slice  #: into the all-spikes vector (sources, then neurons)
    post: slice  #: into the neuron vector
    delay: int
    inhibitory: bool
    weight: Any  #: one_to_one: [n] tensor; uniform: float; matrix: [pre, post] tensor; plastic: index
    no_self: bool  #: all_to_all without self connections (local diagonal excluded)


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
    compiled : "auto", True or False
        The numba-compiled CPU path (:mod:`~neurohop.backends.torch.compiled`): a network
        whose projections are all delivered row by row runs a chunk of steps per compiled
        call; the others a compiled neuron update per step.
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
        Option("compiled", "'auto', True or False", "auto", "numba-compiled CPU path generated from the kernels, bit-identical (needs the 'fast' extra); 'auto': where numba is installed and the device is the CPU"),
        SEED_OPTION,
    )
    CAPABILITIES = Capabilities(
        learning_switch=True, weight_matrix=True, batched_frozen_recall=True, plasticity=plastic_rules(),
        plastic_connectors=("all_to_all", "all_to_all_without_self"), per_synapse_delays=True,
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
        self, net: Network, dt: float = 1.0, device: Any = "cpu", batch: int | None = None, dtype: Any = "float64", learning: bool = True, seed: int | None = None,
        compiled: Any = "auto",
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
        self.compiled = resolve_compiled(compiled, self.device, "torch_event")
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
        self._plastic_consts: list[Any] = []
        self._plastic_kernels: list[Any] = []
        self._plastic_no_self: list[bool] = []
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []
        max_delay = 1
        for proj in net.projections:
            a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
            b0, b1 = proj.post.resolve(sizes[proj.post.population])
            pre = slice(all_start(proj.pre.population) + a0, all_start(proj.pre.population) + a1)
            post = slice(self._nrn_offset[proj.post.population] + b0, self._nrn_offset[proj.post.population] + b1)
            conn = proj.connector
            if proj.plasticity is None and (not np.isscalar(proj.delay) or not isinstance(conn, (OneToOne, AllToAll))):
                spre, spost, w, d = proj.synapses(sizes)  # delivered row by row (compressed rows by pre neuron)
                rows.append((spre + all_start(proj.pre.population), spost + self._nrn_offset[proj.post.population], w, d, int(proj.sign < 0)))
                max_delay = max(max_delay, int(d.max(initial=1)))
                continue
            delay = int(proj.delay)
            max_delay = max(max_delay, delay)
            inhibitory = proj.sign < 0
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
                    kernel = plastic_kernel(proj.plasticity, f"torch_event: projection {proj.name!r}")
                    self._plastic_kernels.append(kernel)
                    self._plastic_consts.append(constants_on(kernel.constants(proj.plasticity, self.dt), self.device, self.dtype))
                    self._plastic_no_self.append(no_self)
                    ops.append(_Op("plastic", pre, post, delay, inhibitory, len(self._plastic_names), False))
                    self._plastic_names.append(proj.name)
                    self._plastic_init.append(torch.as_tensor(dense, device=self.device, dtype=self.dtype))
            else:
                raise BuildError(f"torch_event: projection {proj.name!r}: connector {conn.kind!r} is not supported with plasticity; supported: {SUPPORTED}")
        self.ops = tuple(ops)
        self.rows = event_delivery(n_src + self.n_neurons, self.n_neurons, rows, self.device, self.dtype) if rows else None
        self.n_slots = max_delay + 1
        #: a whole chunk per compiled call where every projection is delivered row by row
        self._fused = FusedRunner(self.segments, self._initial, self.rows, n_src, self.n_neurons, self.dtype) if self.compiled and not self.ops else None
        if self.compiled and self._fused is None:
            self.segments = compile_segments(self.segments, self._initial, self.dtype)
        self._schedule = source_schedule(net, self._src_offset)
        self.reset()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return device_tensor(array, self.device, self.dtype)

    # ------------------------------------------------------------------ state
    def _fresh_activity(self, B: int) -> Activity:
        neurons = tuple(type(init)(*[self._tensor(a).expand(B, -1).clone() for a in init]) for init in self._initial)
        return Activity(neurons, torch.zeros(self.n_slots, B, 2, self.n_neurons, device=self.device, dtype=self.dtype))

    def reset(self) -> None:
        """Return to step 0: initial neuron state, initial weights, no trace, nothing in flight."""
        self._activity = self._fresh_activity(1)
        plastic, history = [], []
        for op, w0 in zip([o for o in self.ops if o.kind == "plastic"], self._plastic_init):
            plastic.append(block_state(self._plastic_kernels[len(plastic)], w0.clone()))
            Q = w0.shape[1]
            history.append(deque(torch.zeros(Q, device=self.device, dtype=torch.bool) for _ in range(op.delay)))
        self._plastic = plastic
        self._history = history
        self.t = 0

    def set_learning(self, on: bool) -> None:
        """Switch plasticity on or off for the following :meth:`run` calls (weights are kept)."""
        self.learning = bool(on)

    def snapshot(self) -> tuple[int, Activity, list[Any], list[list[torch.Tensor]]]:
        return self.t, clone_state(self._activity), [clone_state(s) for s in self._plastic], [[h.clone() for h in hist] for hist in self._history]

    def restore(self, snapshot: tuple[int, Activity, list[Any], list[list[torch.Tensor]]]) -> None:
        t, activity, plastic, history = snapshot
        self.t = t
        self._activity = clone_state(activity)
        self._plastic = [clone_state(s) for s in plastic]
        self._history = [deque(h.clone() for h in hist) for hist in history]

    def weight_tensor(self, projection: str) -> torch.Tensor:
        """The current ``[pre, post]`` weight matrix (nA) of a plastic projection, on the device (not a copy)."""
        if projection not in self._plastic_names:
            raise InputError(f"torch_event: weight_matrix: {projection!r} is not a plastic projection; plastic: {self._plastic_names}")
        k = self._plastic_names.index(projection)
        return getattr(self._plastic[k], self._plastic_kernels[k].weight)

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
    def _step(self, t: int, src: torch.Tensor, src_idx: tuple[Any, Any], act: Activity, learn: bool, track: bool, pending: Pending | None = None) -> tuple[torch.Tensor, Activity]:
        slot = t % self.n_slots
        buf = act.buf
        in_e, in_i = buf[slot, :, 0], buf[slot, :, 1]  # views; emptied once the neurons read them
        spikes, neurons = neurons_step(self.segments, act.neurons, in_e, in_i)
        buf[slot].zero_()  # every delay is >= 1 and < n_slots: nothing below lands in this slot
        if self.rows is not None:
            host = self.device.type == "cpu"
            nb, ni = spike_indices(spikes, self.n_sources, host)
            cat = np.concatenate if host else torch.cat
            b, i = cat([src_idx[0], nb]), cat([src_idx[1], ni])
            if buf.shape[1] > 1:  # instance-major order: each instance's spikes in the all-vector order
                order = np.argsort(b, kind="stable") if host else torch.sort(b, stable=True).indices
                b, i = b[order], i[order]
            if pending is None:
                deliver(buf, self.rows, t, b, i)
            else:
                pending.add(t, b, i)
        if not self.ops:
            return spikes, Activity(tuple(neurons), buf)
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
                        self._plastic[k] = self._plastic_kernels[k].event_step(self._plastic[k], t, pre_idx, post_idx, pre_b, seen, self._plastic_consts[k], torch.where, None)
                        if self._plastic_no_self[k]:
                            w = getattr(self._plastic[k], self._plastic_kernels[k].weight)
                            for idx in (pre_idx, post_idx):
                                idx = idx[idx < min(w.shape)]
                                w[idx, idx] = 0.0
                    self._history[k].append(spikes[0, op.post].clone())
                arriving = rows_sum(pre, getattr(self._plastic[k], self._plastic_kernels[k].weight))
            elif op.kind == "matrix":
                arriving = rows_sum(pre, op.weight)
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
            buf[(t + op.delay) % self.n_slots, :, int(op.inhibitory), op.post] += arriving
        return spikes, Activity(tuple(neurons), buf)

    def _names(self, record: Sequence[str] | None) -> list[str]:
        names = [p.name for p in self.net.populations if p.record] if record is None else list(record)
        for name in names:
            self.net.population(name)
        return names

    def _recorder(self, steps: int, B: int, record: Sequence[str] | None) -> Recorder:
        spikes, states = [], []
        for name in self._names(record):
            pop = self.net.population(name)
            spikes.append((name, "source" if pop.is_source else "neuron", self._src_offset[name] if pop.is_source else self._nrn_offset[name], pop.size))
            if not pop.is_source:
                k, cols = self._segment_of(pop)
                states += [(name, var, k, cols) for var in pop.record if var != "spikes"]
        return Recorder(steps, B, spikes, states, np.float64 if self.dtype == torch.float64 else np.float32)

    def _advance(self, t0: int, steps: int, checked: Mapping[str, np.ndarray], act: Activity, learn: bool, track: bool, rec: Recorder) -> Activity:
        """Run ``steps`` steps from ``t0`` in chunks (see :mod:`~neurohop.backends.torch.stream`)."""
        B = act.buf.shape[1]
        chunk = chunk_steps(steps, B, self.n_sources, self.n_neurons)
        if self._fused is not None:
            neurons = self._fused.start(act.neurons)
            for part in source_chunks(t0, steps, B, checked, self._src_offset, self.net.sizes, self._schedule, self.n_sources, chunk):
                self._fused.advance(t0 + part.k0, part, neurons, act.buf, rec)
            return Activity(self._fused.finish(neurons), act.buf)
        pending = Pending(min_delay(self.rows), self.device.type == "cpu") if self.rows is not None else None
        for part in source_chunks(t0, steps, B, checked, self._src_offset, self.net.sizes, self._schedule, self.n_sources, chunk):
            c = part.raster.shape[0]
            for k in range(c):
                src, idx = part.step(k, self.device)
                spikes, act = self._step(t0 + part.k0 + k, src, idx, act, learn, track, pending)
                if pending is not None and pending.full:
                    pending.flush(act.buf, self.rows)
                rec.step(spikes, act.neurons)
            rec.flush(part, c)
        if pending is not None:
            pending.flush(act.buf, self.rows)
        return act

    @torch.no_grad()
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None, record: Sequence[str] | None = None) -> RunResult:
        """Advance ``steps`` steps (learning if :attr:`learning`); ``record`` limits the recorded populations."""
        steps = self._check_steps(steps)
        checked = check_inputs(self.net, inputs, steps, None)
        rec = self._recorder(steps, 1, record)
        self._activity = self._advance(self.t, steps, checked, self._activity, self.learning, True, rec)
        result = rec.result(self.t, steps, self.dt, False)
        self.t += steps
        return result

    def estimate_run_bytes(self, steps: int, batch: int = 1, record: Sequence[str] | None = None) -> int:
        """Estimated peak memory (bytes) of a run of ``steps`` steps of ``batch`` instances
        (:meth:`run_frozen`) beyond the compiled network: recordings, inputs and one chunk."""
        rec = self._recorder(0, 1, record)
        spikes = sum(size for *_, size in rec.spike_specs)
        states = sum(c.stop - c.start for *_, c in rec.state_specs)
        return run_bytes(steps, batch, spikes, states, self.n_sources, self.n_neurons, self.n_sources, self.dtype.itemsize)

    def frozen_state(self, batch: int) -> FrozenState:
        """A quiet start for ``batch`` instances (initial neuron states, nothing in flight, step 0),
        to pass to successive :meth:`run_frozen` calls."""
        return FrozenState(self._fresh_activity(self._check_batch(batch)), 0)

    @staticmethod
    def _check_batch(batch: Any) -> int:
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise InputError(f"run_frozen: batch: expected an integer >= 1 (got {batch!r})")
        return int(batch)

    @torch.no_grad()
    def run_frozen(self, steps: int, inputs: Mapping[str, Any] | None, batch: int, record: Sequence[str] | None = None, state: FrozenState | None = None) -> RunResult:
        """Run ``batch`` independent instances against the current, frozen weights.

        Without ``state`` the instances start quiet (initial neuron states, nothing in
        flight, step 0). With a :class:`FrozenState` (from :meth:`frozen_state`) they start
        where that state stands, and the state is advanced: successive calls with the same
        state give the spikes of one long call. Plasticity is off; the simulation's own
        state (time, neurons, weights) is left unchanged. Results have a batch dimension:
        ``[steps, batch, n]``.
        """
        steps = self._check_steps(steps)
        B = self._check_batch(batch)
        if state is not None and (not isinstance(state, FrozenState) or state.batch != B):
            raise InputError(f"run_frozen: state: expected a FrozenState of batch {B} from frozen_state({B}) (got {state!r})")
        checked = check_inputs(self.net, inputs, steps, B)
        log.info("torch_event: frozen recall of %d steps x %d instances: about %.1f MB beyond the network", steps, B, self.estimate_run_bytes(steps, B, record) / 2**20)
        fs = state if state is not None else FrozenState(self._fresh_activity(B), 0)
        # on a CPU, instances run in tiles whose state stays in cache (element-wise neuron
        # updates are memory-bound); the instances are independent, so results are the same
        tile = B if self.device.type != "cpu" else max(1, min(B, CPU_TILE_ELEMENTS // max(1, self.n_neurons)))
        rec = self._recorder(steps, B, record)
        if tile >= B:
            fs.activity = self._advance(fs.t, steps, checked, fs.activity, False, False, rec)
        else:
            parts = []
            for b0 in range(0, B, tile):
                b1 = min(B, b0 + tile)
                act = take_instances(fs.activity, b0, b1)
                sub = self._recorder(steps, b1 - b0, record)
                act = self._advance(fs.t, steps, {k: v[:, b0:b1] if v.shape[1] > 1 else v for k, v in checked.items()}, act, False, False, sub)
                parts.append((act, sub))
                for name, arr in sub.spikes.items():
                    rec.spikes[name][:, b0:b1] = arr
                for key, arr in sub.states.items():
                    rec.states[key][:, b0:b1] = arr
            fs.activity = join_instances([a for a, _ in parts])
        result = rec.result(self.t, steps, self.dt, True)
        fs.t += steps
        return result


def build_torch_event(net: Network, **options: Any) -> EventSimulation:
    """Compile ``net`` for the event-driven torch backend; ``options`` are
    :attr:`EventSimulation.OPTIONS` (see :class:`EventSimulation`)."""
    return EventSimulation.build(net, None, **options)  # type: ignore[return-value]
