"""Replay a hardware recording of the CA3 memory and compare every spike.

A recording (format: ``neurohop/resources/recordings/README.md``) holds the cue size C,
content size K, duration T, the input spike trains and the spikes of every population.
:func:`replay` builds the memory for that C and K, feeds the recorded inputs to a backend
and counts, per population, recorded spikes the simulation misses and spikes it adds.
Everything is read from the file; nothing about a particular experiment is assumed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from neurohop.backends.base import RunResult, spike_array
from neurohop.cam.protocol import Protocol
from neurohop.errors import NeurohopError, RecordingError
from neurohop.files import check_keys, check_memory, is_finite_number, read_json, suggest
from neurohop.model.io import ModelSpec, parse_ref, read_model

__all__ = ["Recording", "resolve_recording_path", "load_recording", "replay"]


@dataclass(frozen=True)
class Recording:
    """A validated recording: sizes, duration (steps), inputs and recorded spike trains."""

    path: str
    cue_size: int
    content_size: int
    steps: int
    timestep_ms: float
    cue_input: tuple[tuple[int, ...], ...]
    content_input: tuple[tuple[int, ...], ...]
    recorded: Mapping[str, tuple[tuple[int, ...], ...]]

    @property
    def spike_count(self) -> int:
        return sum(len(train) for trains in self.recorded.values() for train in trains)


#: Top-level fields of a recording file (see ``neurohop/resources/recordings/README.md``).
RECORDING_FIELDS = ("source", "columns_in_source", "description", "notes", "cue_size", "content_size", "sim_time_ms", "timestep_ms", "input", "recorded")
#: Bytes per neuron and step assumed when checking that a replay fits in memory (input and
#: recorded spike rasters, the simulation's own records).
STEP_BYTES = 8


def _trains(path: str, where: str, value: Any, count: int, steps: int) -> tuple[tuple[int, ...], ...]:
    """Spike-time lists: ``count`` lists of distinct integer times in ``0 .. steps-1`` ms."""
    if not isinstance(value, list) or len(value) != count:
        got = f"{len(value)} lists" if isinstance(value, list) else type(value).__name__
        raise RecordingError(f"{path}: {where}: expected {count} spike-time lists (got {got})")
    out = []
    for i, train in enumerate(value):
        if not isinstance(train, list):
            raise RecordingError(f"{path}: {where}[{i}]: expected a list of integer times (got {type(train).__name__})")
        times: list[int] = []
        for t in train:
            ok = (
                is_finite_number(t)
                and 0 <= t < steps
                and float(t).is_integer()
            )
            if not ok:
                raise RecordingError(f"{path}: {where}[{i}]: expected integer times in 0..{steps - 1} ms (got {t!r})")
            times.append(int(t))
        ordered = sorted(times)
        for a, b in zip(ordered, ordered[1:]):
            if a == b:
                raise RecordingError(
                    f"{path}: {where}[{i}]: spike time {a} ms listed twice (expected at most one spike per neuron and timestep)"
                )
        out.append(tuple(ordered))
    return tuple(out)


def resolve_recording_path(path: str | os.PathLike[str]) -> str:
    """A path, or the bare name of a recording on the search path (``"spinnaker_ca3_functional"``).

    A bare name (no folder, with or without ``.json``) that is not a file in the current folder
    is looked up in the ``recordings/`` folders of ``NEUROHOP_PATH``, then among the recordings
    that ship with neurohop (:mod:`neurohop.resources`); anything else is returned unchanged.
    """
    from neurohop import resources

    text = str(path)
    if os.path.exists(text) or Path(text).name != text:
        return text
    found = resources.find("recordings", text, suffixes=(".json",))
    return text if found is None else str(found)


def load_recording(path: str | os.PathLike[str], spec: ModelSpec | None = None) -> Recording:
    """Read and validate a recording (a path, or a packaged recording's bare name); errors name the file and the field.

    Refused with :class:`~neurohop.errors.RecordingError`: malformed or too deeply nested JSON,
    NaN/Infinity, unknown fields (closest known one suggested), sizes that are not positive
    integers or would not fit in memory, a timestep other than the model's, spike times that are
    negative, fractional, past ``sim_time_ms`` or listed twice, and lists of the wrong count.
    """
    p = resolve_recording_path(path)
    if not os.path.exists(p) and Path(p).name == p:
        from neurohop import resources

        known = resources.names("recordings", ".json")
        raise RecordingError(f"{p}: recording not found (not a file; packaged recordings: {known}; more folders: the {resources.ENV_VAR} environment variable)")
    doc = read_json(p, error=RecordingError)
    if not isinstance(doc, dict):
        raise RecordingError(f"{p}: expected a JSON object at the top level (got {type(doc).__name__})")
    check_keys(doc, RECORDING_FIELDS, f"{p}: ", error=RecordingError)
    for key in ("cue_size", "content_size", "sim_time_ms"):
        value = doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecordingError(f"{p}: {key}: expected an integer >= 1 (got {value!r})")
    dt = doc.get("timestep_ms", 1.0)
    if not is_finite_number(dt) or dt <= 0:
        raise RecordingError(f"{p}: timestep_ms: expected a positive number (got {dt!r})")
    spec = spec or read_model("ca3_cam")
    protocol = Protocol.from_spec(spec)
    if float(dt) != protocol.timestep_ms:
        raise RecordingError(f"{p}: timestep_ms: expected {protocol.timestep_ms} (the model's timestep) (got {dt})")
    C, K, T = doc["cue_size"], doc["content_size"], int(round(doc["sim_time_ms"] / float(dt)))
    inputs = doc.get("input")
    if not isinstance(inputs, dict) or "cue" not in inputs or "content" not in inputs:
        raise RecordingError(f"{p}: input: expected an object with 'cue' and 'content'")
    check_keys(inputs, ("cue", "content"), f"{p}: input", error=RecordingError)
    recorded = doc.get("recorded")
    if not isinstance(recorded, dict):
        raise RecordingError(f"{p}: recorded: expected an object of population -> spike-time lists")
    mapping = spec.section("recording_map")
    params = {"C": C, "K": K}
    try:
        net_sizes = spec.build(**params).sizes
    except NeurohopError as exc:
        raise RecordingError(f"{p}: cue_size, content_size: the model cannot be built for C={C}, K={K}: {exc}") from None
    try:
        check_memory(float(T) * sum(net_sizes.values()) * STEP_BYTES, f"replaying {T} steps of {sum(net_sizes.values())} neurons", f"{p}: sim_time_ms")
    except NeurohopError as exc:
        raise RecordingError(str(exc)) from None
    out: dict[str, tuple[tuple[int, ...], ...]] = {}
    for name, trains in recorded.items():
        if name not in mapping:
            raise RecordingError(f"{p}: recorded.{name}: unknown population{suggest(name, mapping)} (known: {sorted(mapping)})")
        ref = parse_ref(spec.path, f"recording_map.{name}", mapping[name], params)
        a, b = ref.resolve(net_sizes[ref.population])
        out[name] = _trains(p, f"recorded.{name}", trains, b - a, T)
    if not out:
        raise RecordingError(f"{p}: recorded: no populations to compare")
    return Recording(
        p, C, K, T, float(dt),
        _trains(p, "input.cue", inputs["cue"], C, T),
        _trains(p, "input.content", inputs["content"], K, T),
        out,
    )


def replay(path: str | os.PathLike[str], backend: str = "torch", model: str = "ca3_cam", max_listed: int = 20, progress: Callable[[int], Any] | None = None, **options: Any) -> dict[str, Any]:
    """Replay a recording on ``backend`` and compare spikes population by population.

    ``progress``, when given, is called with the number of steps just simulated; the run then
    goes in about ten chunks (runs continue where the previous one stopped, so the spikes are
    the same).

    Returns
    -------
    dict
        ``mismatches`` (recorded spikes missing plus extra spikes, all populations),
        ``missing``, ``extra``, ``compared_spikes`` (recorded spikes), ``simulated_spikes``,
        ``backend``, ``recording``, ``cue_size``, ``content_size``, ``steps``,
        ``per_population`` ({name: {recorded, missing, extra}}), ``first_mismatches``
        (up to ``max_listed`` of ``[population, neuron, time_ms, "missing"|"extra"]``),
        ``wall_time_s`` (build and run) and ``options``.
    """
    import neurohop

    spec = read_model(model)
    rec = load_recording(path, spec)
    protocol = Protocol.from_spec(spec)
    params = {"C": rec.cue_size, "K": rec.content_size}
    net = spec.build(**params)
    sizes = net.sizes
    cue_ref, cont_ref = protocol.port("input_cue", params), protocol.port("input_content", params)
    if cue_ref.population != cont_ref.population:
        raise RecordingError(f"{spec.path}: protocol: input_cue and input_content must be slices of one source population")
    src = np.zeros((rec.steps, sizes[cue_ref.population]), dtype=bool)
    for ref, trains in ((cue_ref, rec.cue_input), (cont_ref, rec.content_input)):
        a, b = ref.resolve(sizes[ref.population])
        src[:, a:b] |= spike_array(trains, rec.steps, b - a)
    start = time.perf_counter()
    sim = neurohop.build(net, backend=backend, dt=rec.timestep_ms, **options)
    if progress is None:
        result = sim.run(rec.steps, {cue_ref.population: src})
    else:
        chunk = max(1, -(-rec.steps // 10))
        parts = []
        for a in range(0, rec.steps, chunk):
            b = min(a + chunk, rec.steps)
            parts.append(sim.run(b - a, {cue_ref.population: src[a:b]}))
            progress(b - a)
        result = RunResult.concatenate(parts) if parts else sim.run(0, {cue_ref.population: src})
    wall = time.perf_counter() - start
    mapping = spec.section("recording_map")
    per_pop: dict[str, dict[str, int]] = {}
    listed: list[list[Any]] = []
    missing_total = extra_total = simulated_total = 0
    for name, trains in rec.recorded.items():
        ref = parse_ref(spec.path, f"recording_map.{name}", mapping[name], params)
        a, b = ref.resolve(sizes[ref.population])
        if ref.population not in result.spikes:
            raise RecordingError(f"{spec.path}: population {ref.population!r} is not recorded by the model; cannot compare {name}")
        got = result.spikes[ref.population][:, a:b]
        want = spike_array(trains, rec.steps, b - a)
        miss = np.argwhere(want & ~got)
        extra = np.argwhere(got & ~want)
        per_pop[name] = {"recorded": int(want.sum()), "simulated": int(got.sum()), "missing": len(miss), "extra": len(extra)}
        missing_total += len(miss)
        extra_total += len(extra)
        simulated_total += int(got.sum())
        for kind, rows in (("missing", miss), ("extra", extra)):
            for t, i in rows:
                if len(listed) < max_listed:
                    listed.append([name, int(i), float(t * rec.timestep_ms), kind])
    return {
        "recording": rec.path,
        "backend": backend,
        "options": {k: str(v) for k, v in options.items()},
        "cue_size": rec.cue_size,
        "content_size": rec.content_size,
        "steps": rec.steps,
        "compared_spikes": rec.spike_count,
        "simulated_spikes": simulated_total,
        "missing": missing_total,
        "extra": extra_total,
        "mismatches": missing_total + extra_total,
        "per_population": per_pop,
        "first_mismatches": listed,
        "wall_time_s": round(wall, 4),
    }
