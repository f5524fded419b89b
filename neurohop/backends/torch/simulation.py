"""Compile a :class:`~neurohop.model.network.Network` for PyTorch and run it.

>>> sim = build_torch(net, dt=1.0, device="cpu", batch=64)          # doctest: +SKIP
>>> result = sim.run(100, inputs={"input": spikes})                # doctest: +SKIP

``dtype`` is ``torch.float64`` by default: spike trains then equal Brian2's (and the
SpiNNaker recordings) exactly. ``torch.float32`` is faster; its agreement is measured by
``benchmarks/bench_cam.py`` and documented in the README.

Static synapses are delivered event by event (``delivery="auto"`` or ``"event"``, see
:mod:`~neurohop.backends.torch.delivery`) or by dense products (``"dense"``); runs go in
chunks (:mod:`~neurohop.backends.torch.stream`), and :meth:`TorchSimulation.estimate_run_bytes`
gives a run's memory before it starts (batched runs also log it on ``neurohop.torch``).
With ``compiled`` (numba installed, CPU) a network whose synapses are all rows runs a whole
chunk per compiled call, and the others a compiled neuron update per step, bit-identical to
the uncompiled path (:mod:`~neurohop.backends.torch.compiled`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

import logging

from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_inputs, check_seed, neuron_order
from neurohop.backends.torch.compiled import FusedRunner, compile_segments, resolve_compiled
from neurohop.backends.torch.common import block_state, clone_state, itemsize, kernel_states, plastic_kernel, plastic_rules, resolve_device, resolve_dtype
from neurohop.backends.torch.delivery import Pending, event_delivery, min_delay
from neurohop.backends.torch.network import NetworkParams, NetworkState, PlasticBlock, StaticGroup, TorchNetwork, constants_on, device_tensor, layout_neurons, segment_of
from neurohop.backends.torch.stream import Recorder, chunk_steps, run_bytes, source_chunks, source_schedule
from neurohop.errors import BuildError, InputError
from neurohop.model.network import Network, Population

__all__ = ["TorchSimulation", "build_torch", "DELIVERY"]

log = logging.getLogger("neurohop.torch")

#: ``delivery`` option values: how static synapses reach the ring buffer.
DELIVERY = ("auto", "event", "dense")
#: With ``delivery="auto"``, a (delay, receptor) group is a dense matrix product when its
#: matrix has at most this many entries (a product of a small matrix costs about one
#: gather), and rows gathered by spike otherwise.
DENSE_MAX_ENTRIES = 1 << 16


class TorchSimulation(Simulation):
    """A network compiled to torch tensors (see :func:`build_torch`)."""

    backend = "torch"
    OPTIONS = (
        Option("dt", "float > 0", 1.0, "timestep, ms"),
        Option("device", "str or torch.device", "cpu", "'cpu', 'cuda', 'cuda:1'..."),
        Option("batch", "int >= 1 or None", None, "independent instances run side by side; None: one, no batch dimension in results"),
        Option("dtype", "str or torch.dtype", "float64", "'float64' (exact agreement with Brian2 and the recordings) or 'float32'"),
        Option("delivery", "str", "auto", "static synapses: 'event' (rows of the spiking neurons), 'dense' (matrix products) or 'auto' (dense for small groups)"),
        Option("compiled", "'auto', True or False", "auto", "numba-compiled CPU path generated from the kernels, bit-identical (needs the 'fast' extra); 'auto': where numba is installed and the device is the CPU"),
        SEED_OPTION,
    )
    CAPABILITIES = Capabilities(
        batch=True, plasticity=plastic_rules(), neuron_models=tuple(kernel_states()), states=kernel_states(),
        devices=("cpu", "cuda"), dtypes=("float64", "float32"),
    )

    @classmethod
    def check_device(cls, device: Any, backend: str | None = None) -> None:
        resolve_device(device, backend or cls.backend)

    @classmethod
    def estimate_bytes(cls, plastic_synapses: int, dense_entries: int, options: Mapping[str, Any]) -> int:
        """Dense static matrices, and each plastic block with one copy per instance plus a frozen copy."""
        size = itemsize(options.get("dtype", "float64"))
        return size * (dense_entries + 2 * plastic_synapses * max(1, int(options.get("batch") or 1)))

    def __init__(
        self, net: Network, dt: float = 1.0, device: Any = "cpu", batch: int | None = None, dtype: Any = "float64", seed: int | None = None, delivery: str = "auto",
        compiled: Any = "auto",
    ) -> None:
        super().__init__(net, dt, batch)
        self.seed = check_seed(self.backend, seed)
        if delivery not in DELIVERY:
            raise BuildError(f"torch: delivery: expected one of {list(DELIVERY)} (got {delivery!r})")
        self.delivery = delivery
        try:
            by_model = neuron_order(net)
        except BuildError as exc:
            raise BuildError(f"torch: {exc}") from None
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.compiled = resolve_compiled(compiled, self.device, "torch")
        self._B = 1 if batch is None else self.batch
        sizes = net.sizes
        # index spaces: sources first in the "all" vector, then neurons
        layout = layout_neurons(net, by_model, self.dt, self._tensor)
        self._src_offset, self._nrn_offset = layout.src_offset, layout.nrn_offset
        self._initial = layout.initial
        n_src, n_nrn = self.n_sources, self.n_neurons = layout.n_sources, layout.n_neurons
        n_all = n_src + n_nrn

        def all_index(name: str) -> int:
            return self._src_offset[name] if name in self._src_offset else n_src + self._nrn_offset[name]

        static: dict[tuple[int, bool], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        plastic: list[PlasticBlock] = []
        self._plastic_index: dict[str, int] = {}
        self._plastic_init: list[np.ndarray] = []
        max_delay = 1
        for proj in net.projections:
            pre, post, w, d = proj.synapses(sizes)
            max_delay = max(max_delay, int(d.max(initial=1)))
            gpre = pre + all_index(proj.pre.population)
            gpost = post + self._nrn_offset[proj.post.population]
            inhibitory = proj.sign < 0
            if proj.plasticity is None:
                for delay in np.unique(d):
                    sel = d == delay
                    static.setdefault((int(delay), inhibitory), []).append((gpre[sel], gpost[sel], w[sel]))
                continue
            a0, a1 = proj.pre.resolve(sizes[proj.pre.population])
            b0, b1 = proj.post.resolve(sizes[proj.post.population])
            lpre, lpost = pre - a0, post - b0
            dense = np.zeros((a1 - a0, b1 - b0))
            np.add.at(dense, (lpre, lpost), w)
            mask = np.zeros((a1 - a0, b1 - b0), dtype=bool)
            mask[lpre, lpost] = True
            kernel = plastic_kernel(proj.plasticity, f"torch: projection {proj.name!r}")
            c_t = constants_on(kernel.constants(proj.plasticity, self.dt), self.device, self.dtype)
            base = all_index(proj.pre.population)
            self._plastic_index[proj.name] = len(plastic)
            self._plastic_init.append(dense)
            plastic.append(
                PlasticBlock(
                    base + a0, base + a1, self._nrn_offset[proj.post.population] + b0, self._nrn_offset[proj.post.population] + b1,
                    int(proj.delay), inhibitory, None if mask.all() else torch.as_tensor(mask, device=self.device), c_t, kernel,
                )
            )
        groups, event_parts = [], []
        for (delay, inhibitory), parts in sorted(static.items()):
            rows = np.concatenate([p[0] for p in parts])
            cols = np.concatenate([p[1] for p in parts])
            vals = np.concatenate([p[2] for p in parts])
            if delivery == "dense" or (delivery == "auto" and n_all * n_nrn <= DENSE_MAX_ENTRIES):
                dense = np.zeros((n_all, n_nrn))
                np.add.at(dense, (rows, cols), vals)
                groups.append(StaticGroup(delay, inhibitory, torch.as_tensor(dense, device=self.device, dtype=self.dtype)))
            else:
                event_parts.append((rows, cols, vals, np.full(rows.size, delay, dtype=np.int64), int(inhibitory)))
        events = event_delivery(n_all, n_nrn, event_parts, self.device, self.dtype) if event_parts else None
        segments = layout.segments
        #: a whole chunk per compiled call where every synapse is a row (no dense group, no plastic block)
        self._fused = FusedRunner(segments, layout.initial, events, n_src, n_nrn, self.dtype) if self.compiled and not groups and not plastic else None
        if self.compiled and self._fused is None:
            segments = compile_segments(segments, layout.initial, self.dtype)
        self.params = NetworkParams(segments, tuple(groups), tuple(plastic), max_delay + 1, events, n_src)
        self._schedule = source_schedule(net, self._src_offset)
        self.module = TorchNetwork(self.params)
        self.reset()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A NumPy array on the device: integers as int64, floats in the simulation dtype."""
        return device_tensor(array, self.device, self.dtype)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Return to step 0 with the initial state (initial weights, empty buffers)."""
        B, N, dev, dt = self._B, self.n_neurons, self.device, self.dtype
        zeros = lambda *shape: torch.zeros(*shape, device=dev, dtype=dt)  # noqa: E731
        neurons = tuple(type(init)(*[self._tensor(a).expand(B, -1).clone() for a in init]) for init in self._initial)
        plastic, history = [], []
        for block, init in zip(self.params.plastic, self._plastic_init):
            P, Q = init.shape
            w = torch.as_tensor(init, device=dev, dtype=dt).expand(B, P, Q).clone()
            plastic.append(block_state(block.kernel, w))
            history.append(tuple(torch.zeros(B, Q, device=dev, dtype=torch.bool) for _ in range(block.delay)))
        self._state = NetworkState(neurons, zeros(self.params.n_slots, B, 2, N), tuple(plastic), tuple(history))
        self.t = 0

    def snapshot(self) -> tuple[int, NetworkState]:
        return self.t, clone_state(self._state)

    def restore(self, snapshot: tuple[int, NetworkState]) -> None:
        t, state = snapshot
        self.t = t
        self._state = clone_state(state)  # the snapshot stays reusable

    def _segment_of(self, pop: Population) -> tuple[int, slice]:
        return segment_of(self.params.segments, self._nrn_offset[pop.name], pop.size)

    def state(self, population: str) -> dict[str, np.ndarray]:
        pop = self._lif_population(population)
        k, s = self._segment_of(pop)
        seg_state = self._state.neurons[k]
        return {name: self._out(getattr(seg_state, name)[:, s]) for name in self.params.segments[k].kernel.recordable}

    def weights(self, projection: str) -> np.ndarray:
        proj = self.net.projection(projection)
        pre, post, w, _ = proj.local_synapses(self.net.sizes)
        if proj.plasticity is None:
            return w
        k = self._plastic_index[projection]
        dense = getattr(self._state.plastic[k], self.params.plastic[k].kernel.weight)
        return self._out(dense[:, pre, post])

    def _out(self, tensor: torch.Tensor) -> np.ndarray:
        arr = tensor.detach().cpu().numpy()
        return arr[0] if self.batch is None else arr

    def _lif_population(self, name: str) -> Population:
        pop = self.net.population(name)
        if pop.is_source:
            raise InputError(f"state: {name!r} is a spike source and has no state")
        return pop

    # ------------------------------------------------------------------ running
    def _recorded(self) -> tuple[list[tuple[str, str, int, int]], list[tuple[str, str, int, slice]]]:
        spikes = [(p.name, "source" if p.is_source else "neuron", self._src_offset[p.name] if p.is_source else self._nrn_offset[p.name], p.size) for p in self.net.populations if "spikes" in p.record]
        states = [(p.name, v, *self._segment_of(p)) for p in self.net.neurons for v in p.record if v != "spikes"]
        return spikes, states

    def estimate_run_bytes(self, steps: int, inputs: Mapping[str, Any] | None = None) -> int:
        """Estimated peak memory (bytes) that :meth:`run` of ``steps`` steps adds to the
        compiled network: recorded spikes (one byte each), recorded states, run-time
        inputs and one chunk of working arrays (see :mod:`~neurohop.backends.torch.stream`)."""
        spikes, states = self._recorded()
        n_in = sum(self.net.population(k).size for k in (inputs or {}))
        return run_bytes(steps, self._B, sum(s[3] for s in spikes), sum(c.stop - c.start for *_, c in states), self.n_sources, self.n_neurons, n_in, self.dtype.itemsize)

    @torch.no_grad()
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        """Advance ``steps`` steps; ``inputs`` maps source populations to spikes ``[steps, n]``
        (or ``[steps, batch, n]``). The run goes in chunks (bounded working memory) and
        continues exactly from where the previous call stopped."""
        steps = self._check_steps(steps)
        checked = check_inputs(self.net, inputs, steps, self.batch)
        spec_spikes, spec_states = self._recorded()
        if self.batch is not None:
            log.info("torch: run of %d steps x %d instances: about %.1f MB beyond the network", steps, self._B, self.estimate_run_bytes(steps, inputs) / 2**20)
        rec = Recorder(steps, self._B, spec_spikes, spec_states, np.float64 if self.dtype == torch.float64 else np.float32)
        chunk = chunk_steps(steps, self._B, self.n_sources, self.n_neurons)
        sizes = self.net.sizes
        state = self._state
        if self._fused is not None:
            neurons = self._fused.start(state.neurons)
            for part in source_chunks(self.t, steps, self._B, checked, self._src_offset, sizes, self._schedule, self.n_sources, chunk):
                self._fused.advance(self.t + part.k0, part, neurons, state.buf, rec)
            self._state = state._replace(neurons=self._fused.finish(neurons))
            result = rec.result(self.t, steps, self.dt, self.batch is not None)
            self.t += steps
            return result
        rows = self.params.delivery
        # the rows of up to min-delay steps of spikes are gathered together (see Pending)
        pending = Pending(min_delay(rows), self.device.type == "cpu") if rows is not None else None
        for part in source_chunks(self.t, steps, self._B, checked, self._src_offset, sizes, self._schedule, self.n_sources, chunk):
            c = part.raster.shape[0]
            for k in range(c):
                src, idx = part.step(k, self.device)
                spikes, state = self.module(self.t + part.k0 + k, src, state, idx, pending)
                if pending is not None and pending.full:
                    pending.flush(state.buf, rows)
                rec.step(spikes, state.neurons)
            rec.flush(part, c)
        if pending is not None:
            pending.flush(state.buf, rows)
        self._state = state
        result = rec.result(self.t, steps, self.dt, self.batch is not None)
        self.t += steps
        return result


def build_torch(net: Network, **options: Any) -> TorchSimulation:
    """Compile ``net`` for PyTorch; ``options`` are :attr:`TorchSimulation.OPTIONS`
    (``dt`` ms, ``device``, ``batch``, ``dtype``, ``delivery``, ``compiled``, ``seed``)."""
    return TorchSimulation.build(net, None, **options)  # type: ignore[return-value]
