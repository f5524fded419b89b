"""The CA3 attractor memory: sparse k-of-N patterns stored and completed by spikes.

>>> mem = AttractorMemory(256, 8)                                   # doctest: +SKIP
>>> mem.store(random_patterns(np.random.default_rng(0), 100, 256, 8))  # doctest: +SKIP
>>> result = mem.recall(cues)                                       # doctest: +SKIP
>>> result.sets[0], result.mean_missing, result.mean_false           # doctest: +SKIP

The network and every number of its operation come from the model file
``ca3_attractor`` (packaged as ``neurohop/resources/models/ca3_attractor.yaml``)
(see the comments there for why they make a Willshaw net). Storage feeds each pattern
through the mossy-fibre route and lets the plasticity rule of the recurrent collaterals
write it; nothing computes a weight outside the simulation. Recall switches plasticity off
(``protocol.recall.plasticity: off``), fires the cue through the perforant path and reads
the cells that fire in the recall window.

Backends: any backend that runs STDP, through one path that asks only for capabilities
(:class:`~neurohop.backends.base.Capabilities`): storage runs the simulation (learning
switched on where the backend has the switch), the weights come from
``weight_matrix``, recall from ``run_frozen``. ``"torch_event"`` (default,
:mod:`neurohop.backends.torch.event`) recalls B cues at once against the shared weights;
the others run a frozen copy (batched where the backend batches, else one cue after the
other). The float backends give the same spikes; ``fixed:spinnaker1`` runs the
quantised network bit-accurately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurohop.cam.attractor.patterns import as_cues, as_patterns, make_cues, random_patterns
from neurohop.errors import BuildError, CapacityError, InputError, ModelFileError
from neurohop.model.io import ModelSpec, read_model
from neurohop.model.network import Network, Projection

__all__ = ["AttractorMemory", "AttractorProtocol", "RecallResult", "random_patterns", "make_cues", "as_patterns", "available_memory"]



@dataclass(frozen=True)
class AttractorProtocol:
    """How the attractor network is operated (the ``protocol:`` section of its model file).

    Steps count from the step at which input spikes are given; ``window`` is inclusive.
    """

    timestep_ms: float
    cells: str
    storage_input: str
    cue_input: str
    recurrent: str
    store_spacing: int
    recall_steps: int
    window: tuple[int, int]
    recall_spacing: int

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "AttractorProtocol":
        section = spec.section("protocol")
        try:
            window = tuple(int(v) for v in section["recall"]["window"])
            proto = cls(
                float(section["timestep_ms"]),
                str(section["cells"]),
                str(section["storage_input"]),
                str(section["cue_input"]),
                str(section["recurrent"]),
                int(section["store"]["spacing_steps"]),
                int(section["recall"]["steps"]),
                (window[0], window[1]),
                int(section["recall"]["spacing_steps"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{spec.path}: protocol: expected timestep_ms, cells, storage_input, cue_input, recurrent, store.spacing_steps, recall.steps/window/spacing_steps ({exc!r})") from None
        if not 0 <= proto.window[0] <= proto.window[1] < proto.recall_steps <= proto.recall_spacing:
            raise ModelFileError(f"{spec.path}: protocol.recall: expected 0 <= window[0] <= window[1] < steps <= spacing_steps (got window {list(proto.window)}, steps {proto.recall_steps}, spacing {proto.recall_spacing})")
        if proto.store_spacing < 1:
            raise ModelFileError(f"{spec.path}: protocol.store.spacing_steps: expected an integer >= 1 (got {proto.store_spacing})")
        return proto


@dataclass
class RecallResult:
    """What :meth:`AttractorMemory.recall` read from the spikes.

    Attributes
    ----------
    recalled : bool ndarray [B, N]
        The cells that fired in the recall window, per cue.
    targets : bool ndarray [B, N]
        The stored pattern each cue is judged against.
    missing, false : int ndarray [B]
        Pattern cells that did not fire / non-pattern cells that fired.
    overlap : float ndarray [B]
        ``|recalled & target| / sqrt(|recalled| |target|)`` (0 when nothing fired).
    """

    recalled: np.ndarray
    targets: np.ndarray
    missing: np.ndarray
    false: np.ndarray
    overlap: np.ndarray

    @classmethod
    def judge(cls, recalled: np.ndarray, targets: np.ndarray) -> "RecallResult":
        hit = (recalled & targets).sum(1)
        missing = (targets & ~recalled).sum(1)
        false = (recalled & ~targets).sum(1)
        denom = np.sqrt(recalled.sum(1).astype(np.float64) * targets.sum(1))
        overlap = np.divide(hit, denom, out=np.zeros(len(hit)), where=denom > 0)
        return cls(recalled, targets, missing, false, overlap)

    @property
    def sets(self) -> list[tuple[int, ...]]:
        """The recalled cells of each cue as sorted index tuples."""
        return [tuple(np.flatnonzero(row).tolist()) for row in self.recalled]

    @property
    def errors(self) -> np.ndarray:
        """``missing + false`` per cue."""
        return self.missing + self.false

    @property
    def mean_missing(self) -> float:
        return float(self.missing.mean()) if len(self.missing) else 0.0

    @property
    def mean_false(self) -> float:
        return float(self.false.mean()) if len(self.false) else 0.0

    @property
    def mean_overlap(self) -> float:
        return float(self.overlap.mean()) if len(self.overlap) else 0.0

    @property
    def mean_error(self) -> float:
        return self.mean_missing + self.mean_false


def available_memory(device: Any = "cpu") -> int:
    """Bytes of memory free on ``device`` (CUDA: free device memory; CPU: available RAM)."""
    dev = str(device)
    if dev.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(dev))[0])
    from neurohop.files import available_memory as host_memory

    avail = host_memory()
    return (1 << 62) if avail is None else avail  # unknown (non-POSIX): no limit


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


class AttractorMemory:
    """A CA3 auto-associative memory of k-of-N patterns, simulated with spikes.

    Parameters
    ----------
    n : int
        Number of CA3 cells N (>= 2).
    k : int
        Active cells per pattern (1 <= k < N).
    model : str
        Model file: a path, or a name on ``NEUROHOP_PATH`` or packaged (default ``ca3_attractor``).
    backend : str
        Any registered backend that runs plastic projections (see
        :func:`neurohop.backends.capabilities`): ``"torch_event"`` (default: event-driven,
        shared weights, batched recall), ``"torch"`` (clock-driven), ``"brian2"``,
        ``"fixed:spinnaker1"``...
    batch : int
        Most cues recalled in one :meth:`~neurohop.backends.base.Simulation.run_frozen` call
        (default 1024).
    false_tolerance : int or None
        Model parameter ``F_TOL``: cue bits tolerated as false (recall threshold c = active
        cue cells - F_TOL). ``None`` keeps the model file's default.
    max_memory_bytes : int or None
        Memory budget for the checks of :meth:`store`; default: what the device has free.
    **options
        Backend options (see :func:`neurohop.backends.options`), e.g. ``device`` and
        ``dtype`` (``"float64"``, exact, or ``"float32"``) for the torch backends or
        ``target`` for Brian2. The backend refuses an option it does not declare.
    """

    def __init__(
        self,
        n: int,
        k: int,
        *,
        model: str = "ca3_attractor",
        backend: str = "torch_event",
        batch: int = 1024,
        false_tolerance: int | None = None,
        max_memory_bytes: int | None = None,
        **options: Any,
    ) -> None:
        from neurohop import backends

        for name, value in (("n", n), ("k", k), ("batch", batch)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InputError(f"AttractorMemory: {name}: expected an integer (got {value!r})")
        if n < 2:
            raise InputError(f"AttractorMemory: n: expected at least 2 cells (got {n})")
        if not 1 <= k < n:
            raise InputError(f"AttractorMemory: k: expected 1 <= k < n={n} active cells per pattern (got {k})")
        if batch < 1:
            raise InputError(f"AttractorMemory: batch: expected an integer >= 1 (got {batch})")
        try:
            cls = backends.simulation_class(backend)
            caps = backends.capabilities(backend)
        except BuildError as exc:
            raise BuildError(f"AttractorMemory: {exc}") from None
        if "stdp" not in caps.plasticity:
            raise BuildError(f"AttractorMemory: backend {backend!r} does not run STDP, which writes the memory; backends that do: torch_event, torch, brian2, fixed:spinnaker1")
        cls.check_options(backend, options)
        self.n, self.k = int(n), int(k)
        self.backend, self.batch, self.options = backend, int(batch), dict(options)
        self.device = str(options.get("device", "cpu"))
        self.dtype = str(options.get("dtype", "float64"))
        cls.check_device(self.device, backend)  # a clear BuildError for an unusable device, before sizing it
        self.spec = read_model(model)
        self.protocol = AttractorProtocol.from_spec(self.spec)
        params: dict[str, Any] = {"N": self.n}
        if false_tolerance is not None:
            params["F_TOL"] = false_tolerance
        self._simulation_class = cls
        self.max_memory_bytes = available_memory(self.device) if max_memory_bytes is None else int(max_memory_bytes)
        need = self._static_bytes()
        if need > self.max_memory_bytes:
            raise CapacityError(
                f"AttractorMemory: n={self.n}: the network needs about {_gib(need)} on {backend} {self.device}"
                + f" but {_gib(self.max_memory_bytes)} are available; use a smaller n or another device"
            )
        self.network: Network = self.spec.build(**params)
        self.false_tolerance = int(self.spec.parameters(**params).get("F_TOL", 0))
        p = self.protocol
        for name in (p.cells, p.storage_input, p.cue_input):
            if self.network.population(name).size != self.n:
                raise ModelFileError(f"{self.spec.path}: protocol: population {name!r} must have N={self.n} cells (got {self.network.population(name).size})")
        self._rc: Projection = self.network.projection(p.recurrent)
        if self._rc.plasticity is None:
            raise ModelFileError(f"{self.spec.path}: protocol.recurrent: projection {p.recurrent!r} must be plastic")
        self._sim = backends.build(self.network, backend=backend, dt=p.timestep_ms, **options)
        self._patterns = np.zeros((0, self.k), dtype=np.int64)

    # ------------------------------------------------------------------ sizes
    def _static_bytes(self) -> int:
        """Rough memory of the compiled network (for the checks; the model has ~4N cells)."""
        n2 = self.n * self.n
        describe = 40 * n2  # expanding the all-to-all projections while validating the description
        # n2 plastic recurrent synapses; a clock-driven backend holds the static groups as
        # dense [4N, 2N] matrices
        return describe + self._simulation_class.estimate_bytes(n2, 8 * n2, self.options)

    @property
    def stored(self) -> int:
        """Number of patterns stored so far."""
        return int(self._patterns.shape[0])

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns as sorted index rows ``[M, k]`` (a copy)."""
        return self._patterns.copy()

    @property
    def synapses(self) -> int:
        """Number of recurrent synapses."""
        return self.network.count_synapses(plastic_only=True)

    # ------------------------------------------------------------------ storage
    def store(self, patterns: Any, chunk: int = 256) -> None:
        """Store patterns (``[M, N]`` binary or index lists, k active cells each), in order.

        Each pattern drives its cells through the storage route; the plasticity rule writes
        the recurrent weights. Raises :class:`InputError` for malformed patterns and
        :class:`CapacityError` when they do not fit in memory.
        """
        rows = as_patterns(patterns, self.n, self.k, "store")
        need = self._static_bytes() + (self.stored + rows.shape[0]) * self.k * 8 + min(chunk, max(1, rows.shape[0])) * self.protocol.store_spacing * self.n * 2
        if need > self.max_memory_bytes:
            raise CapacityError(
                f"store: {rows.shape[0]} more patterns (k={self.k}, N={self.n}) need about {_gib(need)} with the {self.stored} stored, "
                f"but {_gib(self.max_memory_bytes)} are available on {self.device}"
            )
        S = self.protocol.store_spacing
        if self._sim.capabilities.learning_switch:
            self._sim.set_learning(True)  # backends without the switch always learn
        for start in range(0, rows.shape[0], chunk):
            part = rows[start : start + chunk]
            spikes = np.zeros((part.shape[0] * S, self.n), dtype=bool)
            spikes[np.repeat(np.arange(part.shape[0]) * S, self.k), part.ravel()] = True
            self._sim.run(spikes.shape[0], {self.protocol.storage_input: spikes})
            self._patterns = np.concatenate([self._patterns, part])

    def weights(self) -> np.ndarray:
        """The recurrent weight matrix ``[N, N]`` (nA, pre x post; the diagonal is 0)."""
        return self._sim.weight_matrix(self.protocol.recurrent)

    def snapshot(self) -> tuple[Any, np.ndarray]:
        """Capture the memory (simulation state and stored-pattern list)."""
        return self._sim.snapshot(), self._patterns.copy()

    def restore(self, snapshot: tuple[Any, np.ndarray]) -> None:
        """Return to a state captured by :meth:`snapshot`."""
        self._sim.restore(snapshot[0])
        self._patterns = snapshot[1].copy()

    # ------------------------------------------------------------------ recall
    def _best_targets(self, cues: np.ndarray) -> np.ndarray:
        if self.stored == 0:
            raise InputError("recall: targets: nothing is stored yet; pass targets= to judge the recall")
        best = np.zeros(len(cues), dtype=np.int64)
        score = np.full(len(cues), -1, dtype=np.int64)
        for start in range(0, self.stored, 4096):
            part = self._patterns[start : start + 4096]
            hits = cues[:, part].sum(-1)  # [B, chunk]
            arg = hits.argmax(1)
            val = hits[np.arange(len(cues)), arg]
            better = val > score
            best[better] = arg[better] + start
            score[better] = val[better]
        targets = np.zeros(cues.shape, dtype=bool)
        np.put_along_axis(targets, self._patterns[best], True, axis=1)
        return targets

    def recall(self, cues: Any, targets: Any = None) -> RecallResult:
        """Complete each cue and judge the result.

        Parameters
        ----------
        cues : array [B, N] or list of index lists
            The cue cells (any subset, possibly with false bits).
        targets : array [B, N] or list of index lists, optional
            The pattern each cue should recall; default: the stored pattern sharing the
            most cells with the cue.

        Returns
        -------
        RecallResult
        """
        cue = as_cues(cues, self.n)
        if targets is None:
            tgt = self._best_targets(cue)
        else:
            tgt = as_cues(targets, self.n)
            if tgt.shape != cue.shape:
                raise InputError(f"recall: targets: expected one target per cue, shape {list(cue.shape)} (got {list(tgt.shape)})")
        if cue.shape[0] == 0:
            return RecallResult.judge(cue, tgt)
        recalled = np.concatenate([self._recall_chunk(cue[s : s + self.batch]) for s in range(0, cue.shape[0], self.batch)])
        return RecallResult.judge(recalled, tgt)

    def _recall_chunk(self, cue: np.ndarray) -> np.ndarray:
        """Each cue fired at step 0 of a quiet network with the learned, frozen weights."""
        p = self.protocol
        B = cue.shape[0]
        w0, w1 = p.window
        spikes = np.zeros((p.recall_steps, B, self.n), dtype=bool)
        spikes[0] = cue
        res = self._sim.run_frozen(p.recall_steps, {p.cue_input: spikes}, batch=B, record=[p.cells])
        return res.spikes[p.cells][w0 : w1 + 1].any(0)
