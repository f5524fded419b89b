"""Compile a :class:`~neurohop.model.network.Network` for PyTorch and run it.

>>> sim = build_torch(net, dt=1.0, device="cpu", batch=64)          # doctest: +SKIP
>>> result = sim.run(100, inputs={"input": spikes})                # doctest: +SKIP

``dtype`` is ``torch.float64`` by default: spike trains then equal Brian2's (and the
SpiNNaker recordings) exactly. ``torch.float32`` is faster; its agreement is measured by
``benchmarks/bench_cam.py`` and documented in the README.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_inputs, check_seed, neuron_order
from neurohop.backends.torch.common import clone_state, itemsize, kernel_states, resolve_device, resolve_dtype
from neurohop.backends.torch.network import NetworkParams, NetworkState, PlasticBlock, StaticGroup, TorchNetwork, device_tensor, layout_neurons, segment_of, stdp_tensors
from neurohop.errors import BuildError, InputError
from neurohop.kernels.stdp import NEVER, STDPState, stdp_constants
from neurohop.model.network import Network, Population

__all__ = ["TorchSimulation", "build_torch"]

_SPARSE_MIN_ENTRIES = 1 << 22  # dense matrices below this many entries are always dense
_SPARSE_MAX_DENSITY = 0.05


def source_raster(sim: Simulation, steps: int, inputs: Mapping[str, Any] | None, batch: int | None, offsets: Mapping[str, int], n_sources: int) -> np.ndarray:
    """All source spikes of a run, ``bool [steps, B, n_sources]``: the checked run-time
    ``inputs`` (``B = 1`` when ``batch`` is None) or'ed with each source's fixed times."""
    checked = check_inputs(sim.net, inputs, steps, batch)
    src = np.zeros((steps, 1 if batch is None else batch, n_sources), dtype=bool)
    for pop in sim.net.sources:
        cols = slice(offsets[pop.name], offsets[pop.name] + pop.size)
        if pop.name in checked:
            src[:, :, cols] |= checked[pop.name]
        fixed = sim._fixed_source_spikes(pop.name, steps)
        if fixed is not None:
            src[:, :, cols] |= fixed[:, None, :]
    return src


class TorchSimulation(Simulation):
    """A network compiled to torch tensors (see :func:`build_torch`)."""

    backend = "torch"
    OPTIONS = (
        Option("dt", "float > 0", 1.0, "timestep, ms"),
        Option("device", "str or torch.device", "cpu", "'cpu', 'cuda', 'cuda:1'..."),
        Option("batch", "int >= 1 or None", None, "independent instances run side by side; None: one, no batch dimension in results"),
        Option("dtype", "str or torch.dtype", "float64", "'float64' (exact agreement with Brian2 and the recordings) or 'float32'"),
        SEED_OPTION,
    )
    CAPABILITIES = Capabilities(
        batch=True, plasticity=("stdp",), neuron_models=tuple(kernel_states()), states=kernel_states(),
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

    def __init__(self, net: Network, dt: float = 1.0, device: Any = "cpu", batch: int | None = None, dtype: Any = "float64", seed: int | None = None) -> None:
        super().__init__(net, dt, batch)
        self.seed = check_seed(self.backend, seed)
        try:
            by_model = neuron_order(net)
        except BuildError as exc:
            raise BuildError(f"torch: {exc}") from None
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
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
            c = stdp_constants(proj.plasticity, self.dt)
            c_t = stdp_tensors(c, self.device, self.dtype)
            base = all_index(proj.pre.population)
            self._plastic_index[proj.name] = len(plastic)
            self._plastic_init.append(dense)
            plastic.append(
                PlasticBlock(
                    base + a0, base + a1, self._nrn_offset[proj.post.population] + b0, self._nrn_offset[proj.post.population] + b1,
                    int(proj.delay), inhibitory, None if mask.all() else torch.as_tensor(mask, device=self.device), c_t,
                )
            )
        groups = []
        for (delay, inhibitory), parts in sorted(static.items()):
            rows = np.concatenate([p[0] for p in parts])
            cols = np.concatenate([p[1] for p in parts])
            vals = np.concatenate([p[2] for p in parts])
            entries = n_all * n_nrn
            sparse = entries >= _SPARSE_MIN_ENTRIES and rows.size < _SPARSE_MAX_DENSITY * entries
            if sparse:
                mat = torch.sparse_coo_tensor(np.stack([cols, rows]), vals, (n_nrn, n_all), dtype=self.dtype).coalesce().to_sparse_csr().to(self.device)
            else:
                dense = np.zeros((n_all, n_nrn))
                np.add.at(dense, (rows, cols), vals)
                mat = torch.as_tensor(dense, device=self.device, dtype=self.dtype)
            groups.append(StaticGroup(delay, inhibitory, mat, sparse))
        self.params = NetworkParams(layout.segments, tuple(groups), tuple(plastic), max_delay + 1)
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
            never = lambda n: torch.full((B, n), NEVER, device=dev, dtype=torch.int64)  # noqa: E731
            plastic.append(STDPState(w, zeros(B, P), never(P), zeros(B, Q), never(Q)))
            history.append(tuple(torch.zeros(B, Q, device=dev, dtype=torch.bool) for _ in range(block.delay)))
        n = self.params.n_slots
        self._state = NetworkState(neurons, tuple(zeros(B, N) for _ in range(n)), tuple(zeros(B, N) for _ in range(n)), tuple(plastic), tuple(history))
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
        dense = self._state.plastic[self._plastic_index[projection]].w
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
    def _source_tensor(self, steps: int, inputs: Mapping[str, Any] | None) -> torch.Tensor:
        src = source_raster(self, steps, inputs, self.batch, self._src_offset, self.n_sources)
        return torch.as_tensor(src, device=self.device).to(self.dtype)

    @torch.no_grad()
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        steps = self._check_steps(steps)
        src = self._source_tensor(steps, inputs)
        recorded = [p for p in self.net.populations if p.record]
        watched = [(p, *self._segment_of(p)) for p in self.net.neurons if any(v != "spikes" for v in p.record)]
        spikes_rec: list[torch.Tensor] = []
        states_rec: dict[str, list[torch.Tensor]] = {}
        state = self._state
        for k in range(steps):
            spikes, state = self.module(self.t + k, src[k], state)
            spikes_rec.append(spikes)
            for pop, seg, cols in watched:
                for var in pop.record:
                    if var != "spikes":
                        states_rec.setdefault(f"{pop.name}\0{var}", []).append(getattr(state.neurons[seg], var)[:, cols])
        self._state = state
        result = RunResult(self.t, steps, self.dt)
        nrn = torch.stack(spikes_rec).cpu().numpy() if steps else np.zeros((0, self._B, self.n_neurons), dtype=bool)
        src_np = src.cpu().numpy() > 0
        for pop in recorded:
            if "spikes" in pop.record:
                if pop.is_source:
                    o = self._src_offset[pop.name]
                    arr = src_np[:, :, o : o + pop.size]
                else:
                    o = self._nrn_offset[pop.name]
                    arr = nrn[:, :, o : o + pop.size]
                result.spikes[pop.name] = arr[:, 0, :] if self.batch is None else arr
        for key, values in states_rec.items():
            name, var = key.split("\0")
            arr = torch.stack(values).cpu().numpy()
            result.states.setdefault(name, {})[var] = arr[:, 0, :] if self.batch is None else arr
        self.t += steps
        return result


def build_torch(net: Network, **options: Any) -> TorchSimulation:
    """Compile ``net`` for PyTorch; ``options`` are :attr:`TorchSimulation.OPTIONS`
    (``dt`` ms, ``device``, ``batch``, ``dtype``, ``seed``)."""
    return TorchSimulation.build(net, None, **options)  # type: ignore[return-value]
