"""The operation protocol of the CA3 memory, read from the ``protocol:`` section of its model file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from neurohop.errors import ModelFileError
from neurohop.model.io import ModelSpec, parse_ref
from neurohop.model.network import PopRef

__all__ = ["OperationTiming", "Protocol", "OPERATIONS"]

#: Operation kinds of the memory.
OPERATIONS: tuple[str, ...] = ("learn", "recall_by_cue", "recall_by_content")


@dataclass(frozen=True)
class OperationTiming:
    """Timing of one operation kind, in timesteps after the operation starts.

    Attributes
    ----------
    hold_steps : int
        Steps during which the input neurons spike (one spike per step).
    spacing_steps : int
        Minimum distance to the next operation.
    window : tuple of int
        Inclusive [first, last] steps in which the output answers.
    """

    hold_steps: int
    spacing_steps: int
    window: tuple[int, int]


@dataclass(frozen=True)
class Protocol:
    """How the memory is operated (every number from the model file)."""

    timestep_ms: float
    ports: Mapping[str, str]  #: input_cue, input_content, output_cue, output_content -> "pop[a:b]"
    timing: Mapping[str, OperationTiming]
    internal_populations: tuple[str, ...]
    source: str  #: the model file

    def port(self, name: str, params: Mapping[str, Any]) -> PopRef:
        """Resolve a port (e.g. ``"output_cue"``) for parameter values ``params`` (C, K)."""
        return parse_ref(self.source, f"protocol.{name}", self.ports[name], params)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "Protocol":
        sec = spec.section("protocol")
        where = f"{spec.path}: protocol"

        def need(mapping: Mapping[str, Any], key: str, kind: type, ctx: str) -> Any:
            if key not in mapping:
                raise ModelFileError(f"{ctx}: missing field {key!r}")
            value = mapping[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ModelFileError(f"{ctx}.{key}: expected an integer >= 0 (got {value!r})")
            if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ModelFileError(f"{ctx}.{key}: expected a positive number (got {value!r})")
            if kind is str and not isinstance(value, str):
                raise ModelFileError(f"{ctx}.{key}: expected a name (got {value!r})")
            return value

        timing = {}
        for op in OPERATIONS:
            entry = sec.get(op)
            if not isinstance(entry, Mapping):
                raise ModelFileError(f"{where}.{op}: expected a mapping with hold_steps, spacing_steps, window")
            window = entry.get("window")
            if not (isinstance(window, list) and len(window) == 2 and all(isinstance(x, int) and x >= 0 for x in window) and window[0] <= window[1]):
                raise ModelFileError(f"{where}.{op}.window: expected [first, last] steps with 0 <= first <= last (got {window!r})")
            hold = need(entry, "hold_steps", int, f"{where}.{op}")
            spacing = need(entry, "spacing_steps", int, f"{where}.{op}")
            if hold < 1 or spacing < hold:
                raise ModelFileError(f"{where}.{op}: expected 1 <= hold_steps <= spacing_steps (got {hold}, {spacing})")
            if window[1] > spacing:
                # outputs after the next operation's start could depend on its input
                raise ModelFileError(f"{where}.{op}.window: the answer must end by spacing_steps={spacing} (got {window!r})")
            timing[op] = OperationTiming(hold, spacing, (window[0], window[1]))
        internal = sec.get("internal_populations", [])
        if not isinstance(internal, list) or not all(isinstance(x, str) for x in internal):
            raise ModelFileError(f"{where}.internal_populations: expected a list of population names")
        ports = {name: need(sec, name, str, where) for name in ("input_cue", "input_content", "output_cue", "output_content")}
        return cls(float(need(sec, "timestep_ms", float, where)), ports, timing, tuple(internal), str(spec.path))
