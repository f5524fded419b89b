"""The quantisation report: every parameter's float value, integer value and error, and warnings.

Warnings are *loud*: they are listed first in the text form, printed by ``neurohop export``
on stderr, and kept in the bundle (``quantisation.json``). Kinds:

* ``weights_to_zero`` -- nonzero weights that round to integer 0 (they vanish on the chip);
* ``saturation_risk`` -- a word (ring buffer, current, voltage, trace) can overflow or
  saturate for some input;
* ``out_of_range`` -- a parameter outside the target's range was clamped;
* ``precision_loss`` -- a rounded quantity changes what the model computes (an STDP
  pairing that potentiates over a sixteenth less than the float rule, or stops short of
  ``w_max`` where the float rule reaches it);
* ``semantics`` -- the target computes something the float model does not (a dropped
  refractory period, a different reset or threshold comparison).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["ParameterEntry", "ReportWarning", "QuantisationReport"]


def _f(x: Any) -> Any:
    """JSON-safe float (inf and nan as strings)."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "inf" if x > 0 else "-inf" if x < 0 else "nan"


@dataclass
class ParameterEntry:
    """One quantised parameter (scalar, or summary statistics of an array).

    Attributes
    ----------
    where : str
        ``"population NAME"`` or ``"projection NAME"``.
    name : str
        Parameter name (the float model's, e.g. ``tau_m`` or ``weight``).
    value : float
        Float value (for arrays: the largest magnitude).
    integer : int
        Integer value on the target (for arrays: of the largest magnitude).
    represented : float
        What the integer means in the float model's units.
    rel_error : float
        ``|represented - value| / |value|`` (for arrays: the largest over nonzero entries).
    unit : str
    note : str
        How it was encoded (format, effective time constant, ...).
    count : int
        Number of values summarised (1 for scalars).
    zeroed : int
        Nonzero values that became 0.
    """

    where: str
    name: str
    value: float
    integer: int
    represented: float
    rel_error: float
    unit: str = ""
    note: str = ""
    count: int = 1
    zeroed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "represented", "rel_error"):
            d[k] = _f(d[k])
        d["integer"] = int(d["integer"])
        return d


@dataclass
class ReportWarning:
    """A loud warning of the report (``kind`` in the module docstring)."""

    kind: str
    where: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class QuantisationReport:
    """All quantisation decisions of one export."""

    target: str
    entries: list[ParameterEntry] = field(default_factory=list)
    warnings: list[ReportWarning] = field(default_factory=list)
    decisions: dict[str, Any] = field(default_factory=dict)

    def scalar(self, where: str, name: str, value: float, integer: int, represented: float, unit: str = "", note: str = "") -> None:
        """Record a scalar parameter."""
        rel = abs(represented - value) / abs(value) if value not in (0, 0.0) and math.isfinite(value) else (0.0 if represented == value else abs(represented - value))
        self.entries.append(ParameterEntry(where, name, float(value), int(integer), float(represented), float(rel), unit, note))

    def array(self, where: str, name: str, values: np.ndarray, integers: np.ndarray, represented: np.ndarray, unit: str = "", note: str = "") -> None:
        """Record an array parameter (weights): worst relative error and weights lost to 0."""
        values = np.asarray(values, dtype=np.float64).ravel()
        integers = np.asarray(integers).ravel()
        represented = np.asarray(represented, dtype=np.float64).ravel()
        if values.size == 0:
            self.entries.append(ParameterEntry(where, name, 0.0, 0, 0.0, 0.0, unit, note, 0, 0))
            return
        nz = values != 0
        rel = np.abs(represented[nz] - values[nz]) / np.abs(values[nz]) if nz.any() else np.zeros(0)
        k = int(np.argmax(np.abs(values)))
        zeroed = int(np.count_nonzero(nz & (integers == 0)))
        self.entries.append(
            ParameterEntry(where, name, float(values[k]), int(integers[k]), float(represented[k]), float(rel.max(initial=0.0)), unit, note, int(values.size), zeroed)
        )
        if zeroed:
            self.warn("weights_to_zero", where, f"{zeroed} of {int(nz.sum())} nonzero {name} values round to 0 on {self.target} ({note})")

    def per_neuron(self, where: str, name: str, values: np.ndarray, integers: np.ndarray, represented: np.ndarray, unit: str = "", note: str = "") -> None:
        """Record a parameter whose neurons differ: one entry with the value of largest
        magnitude, the worst relative error, and the range of the integers in the note."""
        values = np.asarray(values, dtype=np.float64).ravel()
        integers = np.asarray(integers).ravel()
        represented = np.asarray(represented, dtype=np.float64).ravel()
        finite = np.isfinite(values)
        nz = finite & (values != 0)
        rel = np.abs(represented[nz] - values[nz]) / np.abs(values[nz]) if nz.any() else np.zeros(0)
        k = int(np.argmax(np.where(finite, np.abs(values), -1.0)))
        lo, hi = int(integers.min()), int(integers.max())
        spread = f"per neuron: {lo}..{hi}, {np.unique(integers).size} distinct"
        self.entries.append(
            ParameterEntry(where, name, float(values[k]), int(integers[k]), float(represented[k]), float(rel.max(initial=0.0)), unit,
                           f"{note}; {spread}" if note else spread, int(values.size), 0)
        )

    def warn(self, kind: str, where: str, message: str) -> None:
        """Add a loud warning."""
        self.warnings.append(ReportWarning(kind, where, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "neurohop-quantisation/1",
            "target": self.target,
            "warnings": [w.to_dict() for w in self.warnings],
            "decisions": self.decisions,
            "parameters": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "QuantisationReport":
        def num(x: Any) -> float:
            return float(x)  # also parses the strings "inf", "-inf", "nan" written by to_dict

        rep = cls(str(doc.get("target", "")))
        rep.decisions = dict(doc.get("decisions", {}))
        rep.warnings = [ReportWarning(**w) for w in doc.get("warnings", [])]
        for e in doc.get("parameters", []):
            e = dict(e)
            for k in ("value", "represented", "rel_error"):
                e[k] = num(e[k])
            rep.entries.append(ParameterEntry(**e))
        return rep

    def format_text(self, limit: int | None = None) -> str:
        """Human-readable report: warnings first (loud), then the parameter table."""
        lines = [f"Quantisation report for target {self.target}"]
        if self.warnings:
            lines.append(f"!!! {len(self.warnings)} WARNING(S):")
            for w in self.warnings:
                lines.append(f"!!! [{w.kind}] {w.where}: {w.message}")
        else:
            lines.append("no warnings")
        lines.append("")
        lines.append(f"{'where':<34} {'parameter':<14} {'float':>14} {'integer':>12} {'represented':>14} {'rel.err':>9}  note")
        entries = self.entries if limit is None else self.entries[:limit]
        for e in entries:
            extra = f" [{e.count} values, {e.zeroed} to 0]" if e.count != 1 else ""
            lines.append(
                f"{e.where:<34} {e.name:<14} {e.value:>14.6g} {e.integer:>12d} {e.represented:>14.6g} {e.rel_error:>9.2e}  {e.unit} {e.note}{extra}".rstrip()
            )
        if limit is not None and len(self.entries) > limit:
            lines.append(f"... {len(self.entries) - limit} more entries in quantisation.json")
        return "\n".join(lines)
