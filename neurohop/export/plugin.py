"""Target arithmetic as plugins: one typed protocol and one shared quantisation skeleton.

A target file names its integer arithmetic (``arithmetic: loihi``); the module registered
under that name in :data:`~neurohop.export.targets.ARITHMETIC_MODULES` defines exactly one
:class:`TargetArithmetic` object, ``ARITHMETIC``, which gives

* ``options_type``: a frozen dataclass of the quantisation options (a subclass of
  :class:`ExportOptions`), validated when built, every field documented (``help``) so that
  the ``neurohop export`` command makes its flags from it;
* :meth:`TargetArithmetic.encode`: the arithmetic-specific steps of quantisation (the
  shared prologue and epilogue are :meth:`TargetArithmetic.quantise`, written once here);
* ``simulator``: the bit-accurate :class:`~neurohop.export.simulator.IntegerSimulator`;
* :meth:`TargetArithmetic.validate`: the checks of a program read back from a bundle;
* ``array_docs``: what each integer array of a bundle holds;
* :meth:`TargetArithmetic.bundle_files`: extra files a bundle of the target carries.

Adding a chip with new arithmetic is its module (plus its target file and one line of the
registry); the backend, the bundles and the command line find everything through
:func:`arithmetic_of`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from neurohop.errors import BuildError
from neurohop.export.targets import ARITHMETIC_MODULES, Target

if TYPE_CHECKING:  # pragma: no cover
    from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
    from neurohop.export.report import QuantisationReport
    from neurohop.export.simulator import IntegerSimulator
    from neurohop.model.network import Network

__all__ = [
    "ExportOptions", "OptionError", "QuantiseContext", "TargetArithmetic", "option",
    "arithmetic_of", "registered_arithmetics", "option_type", "OPTION_KINDS",
    "per_neuron_encoding", "require_shared",
]

#: What an option field holds, by its ``kind`` metadata.
OPTION_KINDS = ("switch", "names", "int", "float", "choice")


class OptionError(BuildError, TypeError):
    """An option the target's arithmetic does not take (a ``TypeError`` too, like an unknown keyword)."""


def option(default: Any, help: str, kind: str, *, lo: float | None = None, hi: float | None = None, choices: Sequence[str] = ()) -> Any:
    """A documented, checked field of an options dataclass.

    Parameters
    ----------
    default
        The value when the option is not given (``None``: the target file's policy).
    help : str
        One line saying what the option does (the command line's help text).
    kind : str
        One of :data:`OPTION_KINDS`: ``switch`` (bool), ``names`` (population names),
        ``int``, ``float`` (finite), ``choice`` (one of ``choices``).
    lo, hi : number, optional
        Inclusive bounds of an ``int`` or ``float`` option.
    choices : sequence of str
        The values of a ``choice`` option.
    """
    if kind not in OPTION_KINDS:
        raise ValueError(f"option kind: expected one of {OPTION_KINDS} (got {kind!r})")
    return field(default=default, metadata={"help": help, "kind": kind, "lo": lo, "hi": hi, "choices": tuple(choices)})


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"in {lo:g}..{hi:g}"
    return f">= {lo:g}" if lo is not None else f"<= {hi:g}" if hi is not None else ""


def option_type(f: dataclasses.Field[Any]) -> str:
    """What an option field takes, in words (``"int >= 1 or None"``)."""
    meta = f.metadata
    kind = meta["kind"]
    if kind == "switch":
        return "bool"
    if kind == "names":
        return "list of population names or None"
    if kind == "choice":
        return f"one of {list(meta['choices'])} or None"
    return " ".join(p for p in (kind, _bounds(meta["lo"], meta["hi"]), "or None") if p)


@dataclass(frozen=True)
class ExportOptions:
    """The quantisation options every target takes.

    Every field is declared with :func:`option`: its ``help`` documents it and its ``kind``
    says how it is checked (in ``__post_init__``, raising :class:`~neurohop.errors.BuildError`
    naming the field) and how the command line reads it.
    """

    outputs: tuple[str, ...] | None = option(None, "output populations (default: the network's sinks)", "names")
    freeze_plasticity: bool = option(False, "run plastic projections with fixed weights on targets without plasticity", "switch")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta = f.metadata
            value = getattr(self, f.name)
            kind = meta.get("kind")
            if kind == "switch":
                if not isinstance(value, bool):
                    raise BuildError(f"{f.name}: expected True or False (got {value!r:.80})")
                continue
            if value is None:
                continue
            if kind == "names":
                if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
                    raise BuildError(f"{f.name}: expected a list of population names (got {value!r:.80})")
                object.__setattr__(self, f.name, tuple(value))
            elif kind == "choice":
                if value not in meta["choices"]:
                    raise BuildError(f"{f.name}: expected one of {list(meta['choices'])} (got {value!r:.80})")
            elif kind in ("int", "float"):
                ok = not isinstance(value, bool) and (isinstance(value, int) if kind == "int" else isinstance(value, (int, float)) and math.isfinite(value))
                lo, hi = meta.get("lo"), meta.get("hi")
                if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
                    what = "an integer" if kind == "int" else "a finite number"
                    raise BuildError(f"{f.name}: expected {what} {_bounds(lo, hi)}".rstrip() + f" (got {value!r:.80})")
                if kind == "float":
                    object.__setattr__(self, f.name, float(value))

    @classmethod
    def option_fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        """The option fields (with their ``help``, ``kind`` and bounds in ``metadata``)."""
        return tuple(dataclasses.fields(cls))

    def given(self) -> dict[str, Any]:
        """The options that differ from their defaults (for provenance records)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class QuantiseContext:
    """What the shared skeleton hands to :meth:`TargetArithmetic.encode`.

    Attributes
    ----------
    net : Network
        The network, plastic projections already frozen when ``options.freeze_plasticity``,
        already checked against the target's models, rules and delay limit.
    target : Target
    dt : float
        The timestep, ms.
    options : ExportOptions
        The arithmetic's options (its ``options_type``).
    outputs : list of str
        The output populations (given, or the network's default).
    report : QuantisationReport
        Where every conversion and decision is recorded (``decisions["dt_ms"]`` is set).
    """

    net: Network
    target: Target
    dt: float
    options: Any
    outputs: list[str]
    report: QuantisationReport


class TargetArithmetic(ABC):
    """The plugin of one integer arithmetic (see the module docstring).

    Subclasses set ``name``, ``options_type``, ``simulator`` and ``array_docs`` and write
    :meth:`encode` and :meth:`validate`; the quantisation prologue (network checks,
    timestep, plasticity freezing, output selection, the report) and epilogue (the
    :class:`~neurohop.export.program.Program`, the fit on the chip) are :meth:`quantise`.
    """

    #: The ``arithmetic:`` name of target files.
    name: ClassVar[str]
    #: The options dataclass (a subclass of :class:`ExportOptions`).
    options_type: ClassVar[type[ExportOptions]] = ExportOptions
    #: What each integer array of a bundle holds (``population.<key>``, ``projection.<key>``).
    array_docs: ClassVar[Mapping[str, str]] = {}
    #: The packaged target file (``neurohop/resources/hardware/<name>.yaml``) whose ``rules:``
    #: state what this arithmetic computes. ``rules:`` describe the simulator, they do not
    #: configure it, so every target file of this arithmetic must state the same rules (a
    #: different value would be a silent change); None for an arithmetic without one.
    reference_target: ClassVar[str | None] = None
    #: Rules that do take one of several values (name -> the values the simulator implements).
    rule_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = {}
    #: Whether the neurons of a population may differ in any parameter and initial value
    #: (``Population.parameters`` / ``Population.initial``); False where some parameters
    #: must be shared by a population (:meth:`encode` refuses those, naming them).
    per_neuron_parameters: ClassVar[bool] = True

    # ------------------------------------------------------------------ to write
    @property
    @abstractmethod
    def simulator(self) -> type[IntegerSimulator]:
        """The bit-accurate simulator class of this arithmetic."""

    @abstractmethod
    def encode(self, ctx: QuantiseContext) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
        """The arithmetic-specific steps: the integer populations and projections of ``ctx.net``."""

    @abstractmethod
    def validate(self, program: Program, where: str) -> None:
        """Check a program read from a bundle; errors name ``where`` and the key."""

    def bundle_files(self, manifest: dict[str, Any], root: Any) -> None:
        """Write extra files of a bundle in ``root`` and list them in ``manifest`` (none by default)."""

    # ------------------------------------------------------------------ shared
    def options(self, options: ExportOptions | None = None, /, **values: Any) -> ExportOptions:
        """The options dataclass built from ``values`` (or ``options`` itself, checked for its type).

        Raises
        ------
        OptionError
            For a name that is no field of ``options_type`` (listing those that are).
        BuildError
            For a value out of its range (naming the field).
        """
        if options is not None:
            if values:
                raise OptionError(f"{self.name}: options: give an options object or keyword options, not both (got {sorted(values)})")
            if not isinstance(options, self.options_type):
                raise OptionError(f"{self.name}: options: expected {self.options_type.__name__} (got {type(options).__name__})")
            return options
        known = [f.name for f in self.options_type.option_fields()]
        for key in values:
            if key not in known:
                raise OptionError(f"{key}: not an option of the {self.name} arithmetic (its options: {known})")
        return self.options_type(**values)

    def simulate(self, program: Program, batch: int | None = None, device: str = "cpu") -> IntegerSimulator:
        """A bit-accurate simulator of ``program`` (matrix products on ``device``)."""
        return self.simulator(program, batch, device)

    def quantise(self, net: Network, target: Target, dt: float | None = None, options: ExportOptions | None = None, check_fit: bool = True) -> Program:
        """Quantise ``net`` for ``target``: the shared skeleton around :meth:`encode`.

        1. ``net`` must be a Network (per-neuron ``parameters`` and ``initial`` values are
           the arithmetic's to encode, see :func:`per_neuron_encoding`);
        2. the timestep (the target's fixed one, or ``dt``, default 1 ms);
        3. plastic projections frozen when ``options.freeze_plasticity``;
        4. neuron models, plasticity rules and delays checked against the target;
        5. the output populations (``options.outputs`` or the network's default);
        6. the report (``decisions["dt_ms"]``), then :meth:`encode`;
        7. the :class:`~neurohop.export.program.Program`; with ``check_fit`` it is mapped onto
           the chip's cores and refused (:class:`~neurohop.errors.CapacityError`) when it
           does not fit (fan-in, neurons, cores and chips).
        """
        from neurohop.export.common import check_network, freeze_plasticity, resolve_dt
        from neurohop.export.program import Program, default_outputs
        from neurohop.export.report import QuantisationReport
        from neurohop.model.network import Network

        opts = self.options() if options is None else self.options(options)
        if not isinstance(net, Network):
            raise BuildError(f"fixed:{target.name}: expected a neurohop Network (got {type(net).__name__})")
        step = resolve_dt(target, dt)
        if opts.freeze_plasticity:
            net = freeze_plasticity(net)
        check_network(net, target)
        names = [p.name for p in net.populations]
        for name in opts.outputs or ():
            if name not in names:
                raise BuildError(f"outputs: {name!r} is no population of the network (expected some of {names})")
        outputs = list(opts.outputs or default_outputs(net))
        report = QuantisationReport(target.name)
        report.decisions["dt_ms"] = step
        pops, projs = self.encode(QuantiseContext(net, target, step, opts, outputs, report))
        program = Program(target, step, pops, projs, [p.name for p in net.sources], outputs, report, net)
        if check_fit:
            from neurohop.export.mapping import map_program

            map_program(program)
        return program


def per_neuron_encoding(pop: Any, where: str, report: "QuantisationReport", encode_one: Callable[[Any, "QuantisationReport"], Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The integer parameters of every neuron of ``pop``, one encoding per distinct model.

    ``encode_one(model, report)`` encodes one neuron model (the population's model with a
    neuron's ``parameters`` put in, :meth:`~neurohop.model.network.Population.neuron_models`)
    and returns its integer parameters by name; they are gathered so that each neuron gets
    those of its own model (int64 arrays of ``pop.size``).

    With one model, ``encode_one`` records in ``report`` itself (one line per parameter).
    With several, each model is encoded into a report of its own and ``report`` gets one
    line per parameter summarising its neurons (:meth:`QuantisationReport.per_neuron`: the
    value of largest magnitude, the worst error, the range of the integers) and each
    distinct warning once.
    """
    from neurohop.export.report import QuantisationReport

    models, index = pop.neuron_models()
    if len(models) == 1:
        return {k: np.full(pop.size, v, dtype=np.int64) for k, v in encode_one(models[0], report).items()}
    parts: list[QuantisationReport] = []
    ints: list[Mapping[str, Any]] = []
    for model in models:
        sub = QuantisationReport(report.target)
        ints.append(encode_one(model, sub))
        parts.append(sub)
    names: list[str] = []
    for sub in parts:
        names += [e.name for e in sub.entries if e.name not in names]
    for name in names:
        have = [next((e for e in sub.entries if e.name == name), None) for sub in parts]
        sel = np.array([h is not None for h in have])[index]
        rows = [h for h in have if h is not None]
        pick = np.cumsum([h is not None for h in have]) - 1
        at = pick[index[sel]]
        first = rows[0]
        if sel.all() and all((h.value, h.integer, h.note) == (first.value, first.integer, first.note) for h in rows):
            report.entries.append(first)  # the same for every neuron: one line as for one model
            continue
        report.per_neuron(
            where, name, np.array([h.value for h in rows])[at], np.array([h.integer for h in rows])[at],
            np.array([h.represented for h in rows])[at], first.unit, first.note if all(h.note == first.note for h in rows) else "",
        )
    seen: set[tuple[str, str]] = set()
    for sub in parts:
        for w in sub.warnings:
            if (w.kind, w.message) not in seen:
                seen.add((w.kind, w.message))
                report.warn(w.kind, w.where, w.message)
    return {k: np.asarray([v[k] for v in ints], dtype=np.int64)[index] for k in ints[0]}


def require_shared(target: str, pop: Any, values: Mapping[str, Sequence[Any]], why: str) -> None:
    """Refuse per-neuron parameters of ``pop`` that give its neurons different values of a
    quantity the target holds once per population.

    ``values`` maps a description of each such quantity (``"dv (tau_m)"``) to its value for
    each distinct model of ``pop``; ``why`` says where the target holds it once.

    Raises
    ------
    BuildError
        Naming the target, the population, its per-neuron parameters, the quantity and why.
    """
    for what, vals in values.items():
        vals = list(vals)
        if any(v != vals[0] for v in vals[1:]):
            shown = sorted({float(v) for v in vals})
            listed = ", ".join(f"{v:.6g}" for v in shown[:4]) + (", ..." if len(shown) > 4 else "")
            raise BuildError(
                f"{target}: population {pop.name!r}.parameters {sorted(pop.parameters)}: the neurons get {len(shown)} different "
                f"{what} ({listed}); {why} (expected per-neuron values that leave it equal; split the population by value)"
            )


def registered_arithmetics() -> list[str]:
    """The ``arithmetic:`` names target files may use."""
    return sorted(ARITHMETIC_MODULES)


def arithmetic_of(target: Target | str) -> TargetArithmetic:
    """The plugin of ``target``'s arithmetic (a :class:`Target` or an ``arithmetic:`` name)."""
    name = target.arithmetic if isinstance(target, Target) else str(target)
    if name not in ARITHMETIC_MODULES:
        raise BuildError(f"arithmetic: expected one of {registered_arithmetics()} (got {name!r})")
    module = importlib.import_module(ARITHMETIC_MODULES[name])
    plugin = getattr(module, "ARITHMETIC", None)
    if not isinstance(plugin, TargetArithmetic) or plugin.name != name:
        raise BuildError(f"arithmetic {name!r}: module {module.__name__} defines no TargetArithmetic named {name!r} as ARITHMETIC")
    return plugin
