"""Hardware targets as data: the target files (packaged in ``neurohop/resources/hardware/``,
more on ``NEUROHOP_PATH``, or any path) and their reader.

A target file (``format: neurohop-target/1``) states a chip's number formats
(``numbers:``), its arithmetic rules (``rules:``), its resource limits (``limits:``), the
exporter's quantisation policy (``quantisation:``) and, under ``choices:``, which of these
values are modelling choices rather than facts (with the reason). ``arithmetic:`` names
the target's integer arithmetic (``spinnaker1``, ``loihi``, ``xylo``), a plugin found
through :data:`ARITHMETIC_MODULES` (:mod:`neurohop.export.plugin`); a new chip with known
arithmetic is a new file only.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from neurohop.errors import ModelFileError
from neurohop.files import check_keys, read_yaml_document, suggest

__all__ = ["Target", "load_target", "available_targets", "ARITHMETIC_MODULES"]

#: Folder of the project's target files.


#: Integer-arithmetic modules by the ``arithmetic:`` name used in target files; each defines
#: one :class:`~neurohop.export.plugin.TargetArithmetic` as ``ARITHMETIC``.
ARITHMETIC_MODULES: dict[str, str] = {
    "spinnaker1": "neurohop.export.spinnaker1",
    "loihi": "neurohop.export.loihi",
    "xylo": "neurohop.export.xylo",
}

_SECTIONS = ("numbers", "rules", "limits", "quantisation", "choices")
_TOP_KEYS = ("format", "name", "title", "description", "arithmetic", "timestep_ms", "neuron_models", "plasticity_rules") + _SECTIONS


#: Widest word a target may declare (``numbers.*_bits``): the integer simulators use int64.
MAX_WORD_BITS = 64
#: Longest timestep a target may declare (ms).
MAX_TIMESTEP_MS = 1e6


def _check_finite_values(path: Path, where: str, value: Any) -> None:
    """Refuse NaN and infinities anywhere in a target file (every number of a chip is finite)."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        at, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise ModelFileError(f"{path}: {at}: expected a finite number (got {node!r})")
        if isinstance(node, dict):
            stack.extend((f"{at}.{k}" if at else str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{at}[{i}]", v) for i, v in enumerate(node))
_REQUIRED_LIMITS = ("neurons_per_core", "source_neurons_per_core", "cores_per_chip", "max_chips", "max_fan_in", "max_delay_steps")


@dataclass(frozen=True)
class Target:
    """A parsed target file.

    Attributes
    ----------
    name : str
        Short name (``spinnaker1``).
    title : str
        One-line description.
    arithmetic : str
        Key of :data:`ARITHMETIC_MODULES`.
    timestep_ms : float or None
        The chip's fixed timestep (ms), or None when any ``dt`` is allowed.
    neuron_models, plasticity_rules : tuple of str
        Model kinds (``lif``, ``cuba_lif``) and rules (``stdp``) the target runs.
    numbers, rules, limits, quantisation : mapping
        The file's sections.
    choices : mapping of str -> str
        Dotted field -> why that value is a modelling choice.
    path : Path
        The file.
    """

    name: str
    title: str
    arithmetic: str
    timestep_ms: float | None
    neuron_models: tuple[str, ...]
    plasticity_rules: tuple[str, ...]
    numbers: Mapping[str, Any] = field(default_factory=dict)
    rules: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, Any] = field(default_factory=dict)
    quantisation: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, str] = field(default_factory=dict)
    path: Path = Path()

    def _get(self, section: str, key: str) -> Any:
        values = getattr(self, section)
        if key not in values:
            raise ModelFileError(f"{self.path}: {section}.{key}: missing (the {self.arithmetic} arithmetic needs it)")
        return values[key]

    def number(self, key: str) -> int:
        """An integer from ``numbers:`` (error naming file and field if missing or not an integer)."""
        value = self._get("numbers", key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelFileError(f"{self.path}: numbers.{key}: expected an integer (got {value!r})")
        return value

    def limit(self, key: str) -> int | None:
        """A limit from ``limits:`` (an integer, or None for no limit)."""
        value = self._get("limits", key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ModelFileError(f"{self.path}: limits.{key}: expected an integer >= 0 or null (got {value!r})")
        return value

    def rule(self, key: str) -> Any:
        return self._get("rules", key)

    def policy(self, key: str) -> Any:
        return self._get("quantisation", key)

    def summary(self) -> dict[str, Any]:
        """JSON-able description (for manifests and reports)."""
        return {
            "name": self.name,
            "title": self.title,
            "arithmetic": self.arithmetic,
            "timestep_ms": self.timestep_ms,
            "file": str(self.path),
            "numbers": dict(self.numbers),
            "rules": dict(self.rules),
            "limits": dict(self.limits),
            "quantisation": dict(self.quantisation),
            "modelling_choices": dict(self.choices),
        }


def available_targets() -> list[str]:
    """Names of the target files on the search path (``NEUROHOP_PATH``, then the packaged ones)."""
    from neurohop import resources

    return resources.names("hardware")


def _resolve(name: str | os.PathLike[str]) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if p.exists():
            return p
        raise ModelFileError(f"{p}: target file not found")
    from neurohop import resources

    candidate = resources.find("hardware", str(name))
    if candidate is not None:
        return candidate
    raise ModelFileError(f"target {str(name)!r}: unknown; available: {available_targets()} (or give a path to a .yaml target file)")


#: Parsed targets by (resolved file, digest of its bytes): a build reads its target file
#: (a few KiB) but parses it once; a changed file is parsed again.
_CACHE: dict[tuple[str, str], Target] = {}
_CACHE_SIZE = 32
#: Files larger than this (bytes) are not cached (the reader refuses oversized files itself).
_CACHE_MAX_BYTES = 1 << 20


def _cache_key(path: Path) -> tuple[str, str] | None:
    try:
        if path.stat().st_size > _CACHE_MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return str(path.resolve()), hashlib.blake2b(data, digest_size=16).hexdigest()
def check_target_values(where: str, numbers: Mapping[str, Any], limits: Mapping[str, Any]) -> None:
    """Check the ``numbers:`` and ``limits:`` of a target (a file's, or a bundle manifest's copy).

    ``where`` prefixes the field names in errors (``"FILE: "``).
    """
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelFileError(f"{where}numbers.{key}: expected an integer (got {value!r})")
        lowest = 0 if "frac" in key else 1  # a word has bits; a fraction may have none
        if key.endswith("_bits") and not lowest <= value <= MAX_WORD_BITS:
            raise ModelFileError(f"{where}numbers.{key}: expected a bit count in {lowest}..{MAX_WORD_BITS} (got {value!r})")
    for key, value in limits.items():
        # a switch (true/false), no limit (null) or a count; counts of capacity are >= 1
        if value is None or isinstance(value, bool):
            continue
        lowest = 1 if any(word in key for word in ("per_core", "per_chip", "max_chips")) and not key.startswith("bytes_") else 0
        if not isinstance(value, int) or value < lowest:
            raise ModelFileError(f"{where}limits.{key}: expected an integer >= {lowest}, true/false or null (got {value!r})")


def load_target(name: str | os.PathLike[str]) -> Target:
    """Read a target by name (``"loihi"``) or path; errors name the file and the field.

    A file parsed before whose bytes have not changed since is not parsed again; every call
    returns its own copy, so changing one cannot change another.
    """
    path = _resolve(name)
    key = _cache_key(path)
    cached = _CACHE.get(key) if key is not None else None
    if cached is not None and cached.arithmetic in ARITHMETIC_MODULES:
        return copy.deepcopy(cached)
    target = _parse_target(path)
    if key is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = copy.deepcopy(target)
    return target


def _check_against_arithmetic(path: Path, arithmetic: str, sections: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse what the arithmetic would ignore: rules other than the ones it computes, and
    fields of ``numbers:``, ``limits:`` and ``quantisation:`` that it does not read (its
    packaged target file names them all).

    ``rules:`` describe the simulator; they do not configure it. A target file that states
    another threshold comparison or rounding would be simulated with the arithmetic's own,
    silently, so it is refused, naming the rule, the arithmetic's value and the file's. A
    misspelt limit (``sources_use_coress``) would be ignored the same way.
    """
    from neurohop import resources
    from neurohop.export.plugin import arithmetic_of

    plugin = arithmetic_of(arithmetic)
    if plugin.reference_target is None:
        return
    reference_path = resources.packaged_dir("hardware") / f"{plugin.reference_target}.yaml"
    if path.resolve() == reference_path.resolve():
        return
    known = load_target(reference_path)
    for section in ("numbers", "limits", "quantisation"):
        check_keys(sections[section], getattr(known, section), f"{path}: {section}", error=ModelFileError)
    rules, reference = sections["rules"], known.rules
    check_keys(rules, reference, f"{path}: rules", error=ModelFileError)
    for key, expected in reference.items():
        if key not in rules:
            raise ModelFileError(f"{path}: rules.{key}: missing (the {arithmetic} arithmetic computes {_short(expected)})")
        got, allowed = rules[key], plugin.rule_choices.get(key)
        if allowed is not None:
            if got not in allowed:
                raise ModelFileError(f"{path}: rules.{key}: expected one of {list(allowed)} (got {_short(got)})")
        elif got != expected:
            raise ModelFileError(
                f"{path}: rules.{key}: the {arithmetic} arithmetic computes {_short(expected)} (got {_short(got)}); "
                "rules state what the simulator does and cannot change it (a new rule needs a new arithmetic)"
            )


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_target(path: Path) -> Target:
    """Read and check one target file."""
    from neurohop.model.neurons import NEURON_MODELS
    from neurohop.model.synapses import PLASTICITY_RULES

    doc = read_yaml_document(path, format="neurohop-target/1", required=("name", "arithmetic", "neuron_models"), error=ModelFileError)
    check_keys(doc, _TOP_KEYS, f"{path}: ", error=ModelFileError)
    _check_finite_values(path, "", doc)
    for key in ("name", "title"):
        if key in doc and (not isinstance(doc[key], str) or not doc[key].strip()):
            raise ModelFileError(f"{path}: {key}: expected a non-empty text (got {doc[key]!r})")
    if not isinstance(doc["arithmetic"], str) or doc["arithmetic"] not in ARITHMETIC_MODULES:
        raise ModelFileError(f"{path}: arithmetic: expected one of {sorted(ARITHMETIC_MODULES)}{suggest(str(doc['arithmetic']), ARITHMETIC_MODULES)} (got {doc['arithmetic']!r})")
    step = doc.get("timestep_ms")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= MAX_TIMESTEP_MS):
        raise ModelFileError(f"{path}: timestep_ms: expected a number of ms in (0, {MAX_TIMESTEP_MS:g}] or null (got {step!r})")
    lists = {}
    for key in ("neuron_models", "plasticity_rules"):
        value = doc.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ModelFileError(f"{path}: {key}: expected a list of names (got {value!r})")
        known = [k for k in NEURON_MODELS if k != "spike_source"] if key == "neuron_models" else list(PLASTICITY_RULES)
        for i, v in enumerate(value):
            if v not in known:
                raise ModelFileError(f"{path}: {key}[{i}]: unknown name {v!r}{suggest(v, known)} (expected one of {sorted(known)})")
        lists[key] = tuple(value)
    sections = {}
    for key in _SECTIONS:
        value = doc.get(key) or {}
        if not isinstance(value, dict):
            raise ModelFileError(f"{path}: {key}: expected a mapping (got {type(value).__name__})")
        for field_name in value:
            if not isinstance(field_name, str):
                raise ModelFileError(f"{path}: {key}.{field_name!r}: expected text field names (got {type(field_name).__name__})")
        sections[key] = value
    check_target_values(f"{path}: ", sections["numbers"], sections["limits"])
    _check_against_arithmetic(path, str(doc["arithmetic"]), sections)
    for key, value in sections["choices"].items():
        if not isinstance(value, str):
            raise ModelFileError(f"{path}: choices.{key}: expected the reason as text (got {value!r})")
    for dotted in sections["choices"]:
        head, _, tail = str(dotted).partition(".")
        if head not in _SECTIONS or tail not in sections[head]:
            raise ModelFileError(f"{path}: choices.{dotted}: names no field of the file (expected 'section.field')")
    target = Target(
        name=str(doc["name"]),
        title=str(doc.get("title", doc["name"])),
        arithmetic=str(doc["arithmetic"]),
        timestep_ms=None if step is None else float(step),
        neuron_models=lists["neuron_models"],
        plasticity_rules=lists["plasticity_rules"],
        numbers=sections["numbers"],
        rules=sections["rules"],
        limits=sections["limits"],
        quantisation=sections["quantisation"],
        choices={str(k): str(v) for k, v in sections["choices"].items()},
        path=path,
    )
    for key in _REQUIRED_LIMITS:
        target.limit(key)
    return target
