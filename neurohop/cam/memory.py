"""The CA3 spike-based content-addressable memory, operated through a simulation backend.

>>> mem = ContentAddressableMemory(5, 10, backend="torch")          # doctest: +SKIP
>>> mem.learn(0, [1, 1, 0, 0, 0, 0, 0, 0, 1, 1])                   # doctest: +SKIP
>>> mem.recall_by_cue(0).recalled_content                            # doctest: +SKIP
(1, 1, 0, 0, 0, 0, 0, 0, 1, 1)

Every operation is decoded from the spikes of the output population in the operation's
answer window (``protocol:`` in ``models/ca3_cam.yaml``); nothing is remembered outside
the simulated synapses. Operations are placed at the earliest legal step unless ``at`` is
given. When an answer ends after the point where the next operation may start, the
simulation looks ahead and rolls back (the answer cannot depend on later input, since
every delay is at least one step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from neurohop.backends.base import RunResult, Simulation
from neurohop.cam.protocol import OPERATIONS, Protocol
from neurohop.errors import BuildError, InputError
from neurohop.model.io import ModelSpec, read_model
from neurohop.model.network import Network

__all__ = ["Operation", "OperationResult", "ContentAddressableMemory", "bits_to_vector"]


def bits_to_vector(bits: Iterable[int], width: int) -> tuple[int, ...]:
    """Binary vector of ``width`` with ones at ``bits``."""
    vec = [0] * width
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 0 <= b < width:
            raise InputError(f"content bits: expected indices in 0..{width - 1} (got {b!r})")
        vec[int(b)] = 1
    return tuple(vec)


@dataclass(frozen=True)
class Operation:
    """One operation: ``kind`` in :data:`~neurohop.cam.protocol.OPERATIONS`.

    ``cue`` is a memory index (learn, recall_by_cue); ``content`` a binary vector (learn:
    the content, recall_by_content: the fragment). ``at`` is the start step, or ``None``
    for the earliest legal one.
    """

    kind: str
    cue: int | None = None
    content: tuple[int, ...] | None = None
    at: int | None = None


@dataclass
class OperationResult:
    """What an operation did, decoded from the output spikes of its answer window.

    Attributes
    ----------
    operation : Operation
        The request, with ``at`` filled in.
    recalled_cues : tuple of int
        Cue neurons that fired on the output (learn: the echo; recall_by_content: every
        memory sharing a bit with the fragment).
    recalled_content : tuple of int
        Binary vector of content bits that fired on the output (learn: the echo and any
        forgotten bits flashing; recall_by_cue: the memory's content).
    forgotten : tuple of int
        Learn only: indices of bits on the output that are not in the new content (bits
        the cue held before and is now forgetting).
    spikes : RunResult
        Every recorded spike from the operation's start to the end of its window.
    """

    operation: Operation
    recalled_cues: tuple[int, ...]
    recalled_content: tuple[int, ...]
    forgotten: tuple[int, ...] = ()
    spikes: RunResult | None = field(default=None, repr=False)

    @property
    def content_bits(self) -> tuple[int, ...]:
        """Indices of the recalled content bits."""
        return tuple(i for i, b in enumerate(self.recalled_content) if b)

    def describe(self) -> str:
        """One line for tables: what was asked and what came back."""
        op = self.operation
        bits = lambda vec: "{" + ",".join(str(i) for i, b in enumerate(vec) if b) + "}"  # noqa: E731
        if op.kind == "learn":
            asked = f"learn cue {op.cue} = {bits(op.content)}"
            got = f"echo cue {list(self.recalled_cues)}, content {bits(self.recalled_content)}"
            if self.forgotten:
                got += f", forgetting {{{','.join(map(str, self.forgotten))}}}"
        elif op.kind == "recall_by_cue":
            asked = f"recall by cue {op.cue}"
            got = f"content {bits(self.recalled_content)}"
        else:
            asked = f"recall by content {bits(op.content)}"
            got = f"cues {list(self.recalled_cues)}"
        return f"{asked:<34} -> {got}"


class ContentAddressableMemory:
    """The CA3 memory of Casanueva-Morato et al. (2024) on a neurohop backend.

    Parameters
    ----------
    cue_size : int
        Number of memories C (one-hot cue neurons).
    content_size : int
        Content width K in bits.
    backend : str
        Any registered backend: ``"torch"``, ``"torch_event"``, ``"brian2"``,
        ``"fixed:<target>"``. The memory needs only :meth:`~neurohop.backends.base.Simulation.run`
        and snapshot/restore, which every backend provides.
    device : str
        Where the backend runs (``"cpu"``, ``"cuda"``...); each backend accepts the devices
        of its capabilities (:attr:`~neurohop.backends.base.Capabilities.devices`).
    model : str or path
        The model file (default: the project's ``models/ca3_cam.yaml``).
    extra_spacing : int
        Steps added to the protocol's minimum spacing after every operation (default 0:
        operations at the minimum legal spacing). Consecutive learns at the minimum spacing
        interfere through the content -> cue synapses; ``benchmarks/bench_cam.py`` measures
        recall quality against the spacing.
    **options
        Passed to the backend (``dtype``, ``target``, ...).
    """

    def __init__(
        self, cue_size: int, content_size: int, backend: str = "torch", device: str = "cpu", model: str = "ca3_cam", extra_spacing: int = 0, **options: Any
    ) -> None:
        if isinstance(extra_spacing, bool) or not isinstance(extra_spacing, (int, np.integer)) or extra_spacing < 0:
            raise InputError(f"ContentAddressableMemory: extra_spacing: expected an integer >= 0 (got {extra_spacing!r})")
        self.extra_spacing = int(extra_spacing)
        for name, value in (("cue_size", cue_size), ("content_size", content_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"ContentAddressableMemory: {name}: expected an integer >= 1 (got {value!r})")
        self.cue_size, self.content_size = int(cue_size), int(content_size)
        self.spec: ModelSpec = read_model(model)
        self.protocol = Protocol.from_spec(self.spec)
        self.params = {"C": self.cue_size, "K": self.content_size}
        self.network: Network = self.spec.build(**self.params)
        import neurohop

        self.backend = backend
        try:
            self.sim: Simulation = neurohop.build(self.network, backend=backend, dt=self.protocol.timestep_ms, device=device, **options)
        except BuildError as exc:
            raise BuildError(f"ContentAddressableMemory: {exc}") from None
        if not self.sim.capabilities.snapshot:  # answers that end late are looked ahead and rolled back
            raise BuildError(f"ContentAddressableMemory: backend {backend!r} lacks the capability 'snapshot' (needed to look ahead)")
        self.ports = {name: self.protocol.port(name, self.params) for name in self.protocol.ports}
        self._earliest = 0
        self._records: list[RunResult] = []
        self.results: list[OperationResult] = []

    # ------------------------------------------------------------------ operations
    def learn(self, cue: int, content: Sequence[int], at: int | None = None) -> OperationResult:
        """Store ``content`` (binary vector of K) under ``cue``; re-learning a cue forgets its old content."""
        return self.execute(Operation("learn", cue, self._content(content, "content"), at))

    def recall_by_cue(self, cue: int, at: int | None = None) -> OperationResult:
        """Recall the content stored under ``cue``."""
        return self.execute(Operation("recall_by_cue", cue, None, at))

    def recall_by_content(self, fragment: Sequence[int], at: int | None = None) -> OperationResult:
        """Return every cue whose memory shares a set bit with ``fragment`` (binary vector of K)."""
        return self.execute(Operation("recall_by_content", None, self._content(fragment, "fragment"), at))

    def execute(self, op: Operation) -> OperationResult:
        """Run one operation (validated before anything is simulated)."""
        op = self._validate(op)
        timing = self.protocol.timing[op.kind]
        at = op.at
        steps = at + timing.spacing_steps - self.sim.t
        inputs = {}
        width = self.network.population(self.ports["input_cue"].population).size
        spikes = np.zeros((steps, width), dtype=bool)
        rows = slice(at - self.sim.t, at - self.sim.t + timing.hold_steps)
        if op.cue is not None:
            start, _ = self.ports["input_cue"].resolve(width)
            spikes[rows, start + op.cue] = True
        if op.content is not None:
            start, _ = self.ports["input_content"].resolve(width)
            cols = start + np.flatnonzero(op.content)
            spikes[rows, cols] = True
        inputs[self.ports["input_cue"].population] = spikes
        committed = self.sim.run(steps, inputs)
        self._records.append(committed)
        parts = [committed]
        extra = at + timing.window[1] + 1 - self.sim.t
        if extra > 0:
            snap = self.sim.snapshot()
            parts.append(self.sim.run(extra))
            self.sim.restore(snap)
        self._earliest = at + timing.spacing_steps + self.extra_spacing
        record = RunResult.concatenate(parts)
        result = self._decode(op, record)
        self.results.append(result)
        return result

    def run_schedule(self, operations: Iterable[Operation], until: int | None = None) -> list[OperationResult]:
        """Run operations in order (each at its ``at`` or the earliest legal step); then idle until ``until``."""
        ops = [self._validate_static(op) for op in operations]
        out = [self.execute(op) for op in ops]
        if until is not None and until > self.sim.t:
            self._records.append(self.sim.run(until - self.sim.t))
        return out

    def record(self) -> RunResult:
        """All spikes recorded so far (committed steps only)."""
        if not self._records:
            return RunResult(0, 0, self.protocol.timestep_ms)
        return RunResult.concatenate(self._records)

    @property
    def next_step(self) -> int:
        """The earliest step at which the next operation may start."""
        return self._earliest

    # ------------------------------------------------------------------ helpers
    def _content(self, vector: Sequence[int], what: str) -> tuple[int, ...]:
        if isinstance(vector, (str, bytes)) or not hasattr(vector, "__len__"):
            raise InputError(f"{what}: expected a binary vector of {self.content_size} values (got {vector!r})")
        arr = np.asarray(vector)
        if arr.ndim != 1 or arr.size != self.content_size:
            raise InputError(f"{what}: expected a binary vector of width {self.content_size} (got shape {list(arr.shape)})")
        if arr.dtype == bool:
            arr = arr.astype(int)
        if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
            bad = [v for v in arr.tolist() if v not in (0, 1)][:1]
            raise InputError(f"{what}: expected only 0 and 1 (got {bad[0]!r})" if bad else f"{what}: expected numbers 0 and 1")
        return tuple(int(v) for v in arr)

    def _validate_static(self, op: Operation) -> Operation:
        if not isinstance(op, Operation):
            raise InputError(f"operation: expected an Operation (got {type(op).__name__})")
        if op.kind not in OPERATIONS:
            raise InputError(f"operation: unknown kind {op.kind!r}; expected one of {list(OPERATIONS)}")
        if op.kind in ("learn", "recall_by_cue"):
            if isinstance(op.cue, bool) or not isinstance(op.cue, (int, np.integer)) or not 0 <= op.cue < self.cue_size:
                raise InputError(f"{op.kind}: cue: expected an index in 0..{self.cue_size - 1} (got {op.cue!r})")
            op = Operation(op.kind, int(op.cue), op.content, op.at)
        if op.kind in ("learn", "recall_by_content"):
            content = self._content(op.content, "content" if op.kind == "learn" else "fragment")
            if op.kind == "recall_by_content" and not any(content):
                raise InputError("recall_by_content: fragment: expected at least one set bit (got an empty fragment)")
            op = Operation(op.kind, op.cue, content, op.at)
        if op.at is not None and (isinstance(op.at, bool) or not isinstance(op.at, (int, np.integer)) or op.at < 0):
            raise InputError(f"{op.kind}: at: expected a step >= 0 (got {op.at!r})")
        return op

    def _validate(self, op: Operation) -> Operation:
        op = self._validate_static(op)
        at = self._earliest if op.at is None else int(op.at)
        if at < self._earliest:
            raise InputError(f"{op.kind}: at: the earliest step allowed after the previous operation is {self._earliest} (got {at})")
        return Operation(op.kind, op.cue, op.content, at)

    def _decode(self, op: Operation, record: RunResult) -> OperationResult:
        lo, hi = op.at + self.protocol.timing[op.kind].window[0], op.at + self.protocol.timing[op.kind].window[1]
        out = self.ports["output_cue"].population
        size = self.network.population(out).size
        window = record.spikes[out][lo - record.t_start : hi - record.t_start + 1]
        c0, c1 = self.ports["output_cue"].resolve(size)
        k0, k1 = self.ports["output_content"].resolve(size)
        cues = tuple(int(i) for i in np.flatnonzero(window[:, c0:c1].any(axis=0)))
        content = tuple(int(b) for b in window[:, k0:k1].any(axis=0))
        forgotten: tuple[int, ...] = ()
        if op.kind == "learn":
            forgotten = tuple(i for i, b in enumerate(content) if b and not op.content[i])
        trimmed = RunResult(record.t_start, hi + 1 - record.t_start, record.dt, {k: v[: hi + 1 - record.t_start] for k, v in record.spikes.items()})
        trimmed.t_start = op.at
        trimmed.spikes = {k: v[op.at - record.t_start :] for k, v in trimmed.spikes.items()}
        trimmed.steps = hi + 1 - op.at
        return OperationResult(op, cues, content, forgotten, trimmed)
