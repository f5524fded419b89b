"""Brian2 code generated from the neuron kernels of :mod:`neurohop.kernels`.

The kernel's step function is run once with *symbolic* arrays: every state field, constant
and input is an :class:`Expr`, and each arithmetic operation the kernel performs (one per
line, in its documented order) builds one more node. The resulting expression graph is
then written out as Brian2 abstract code, one statement per operation, so that code
generation cannot regroup floating-point operations:

* every arithmetic node becomes a temporary ``nh_t<k>``, written in the order the kernel
  performed the operations and numbered in that order, so the text (and so Brian2's
  Cython cache) is the same on every build;
* ``where(c, a, b)`` becomes ``a * int(c) + b * (1 - int(c))`` in separate statements,
  which for finite values gives exactly ``a`` or ``b``;
* the spike condition returned by the kernel becomes the group's ``threshold``; state
  fields of the form ``where(spikes, r, x)`` take ``x`` in the update and ``r`` in the
  group's ``reset`` (which Brian2 runs for the spiking neurons only);
* the input accumulators ``in_e``/``in_i`` are zeroed after the update has read them (the
  synapses add the next arrivals after it).

Only the update in the ``groups`` slot, the threshold and the reset are needed: a field
that does not depend on the spikes (for example a synaptic decay) is updated in the
``groups`` slot. Nothing here restates a model: a new neuron kernel gets its Brian2 code
from this module.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple

import numpy as np

from neurohop.errors import BuildError

__all__ = ["Expr", "SymbolicTable", "Brian2Code", "generate", "SynapseCode", "generate_synapses"]

#: Names of the accumulators that the synapses fill with the arriving weights.
INPUTS = ("in_e", "in_i")


class Expr:
    """A symbolic value of a kernel: a named variable, a literal, or an operation on others.

    ``kind`` is ``"float"``, ``"int"`` or ``"bool"`` (the Brian2 type of the value).
    """

    __slots__ = ("op", "args", "kind", "seq")
    _made = itertools.count()

    def __init__(self, op: str, args: tuple[Any, ...], kind: str) -> None:
        self.op = op
        self.args = args
        self.kind = kind
        self.seq = next(Expr._made)  #: creation order: the order in which the kernel wrote it

    @staticmethod
    def var(name: str, kind: str) -> "Expr":
        return Expr("var", (name,), kind)

    def __add__(self, other: Any) -> "Expr":
        return _arith("+", self, other)

    def __radd__(self, other: Any) -> "Expr":
        return _arith("+", other, self)

    def __sub__(self, other: Any) -> "Expr":
        return _arith("-", self, other)

    def __rsub__(self, other: Any) -> "Expr":
        return _arith("-", other, self)

    def __mul__(self, other: Any) -> "Expr":
        return _arith("*", self, other)

    def __rmul__(self, other: Any) -> "Expr":
        return _arith("*", other, self)

    def __ge__(self, other: Any) -> "Expr":
        return Expr(">=", (self, _wrap(other)), "bool")

    def __gt__(self, other: Any) -> "Expr":
        return Expr(">", (self, _wrap(other)), "bool")

    def __le__(self, other: Any) -> "Expr":
        return Expr("<=", (self, _wrap(other)), "bool")

    def __lt__(self, other: Any) -> "Expr":
        return Expr("<", (self, _wrap(other)), "bool")

    def clip(self, lo: Any, hi: Any) -> "Expr":
        return Expr("clip", (self, _wrap(lo), _wrap(hi)), self.kind)

    def __bool__(self) -> bool:
        raise BuildError("brian2: a neuron kernel branches on a state value in Python; use where(...) so that the step can be generated as code")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Expr({self.op!r}, {self.args!r}, {self.kind!r})"


def _wrap(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (bool, np.bool_)):
        return Expr("lit", (bool(value),), "bool")
    if isinstance(value, (int, np.integer)):
        return Expr("lit", (int(value),), "int")
    if isinstance(value, (float, np.floating)):
        return Expr("lit", (float(value),), "float")
    raise BuildError(f"brian2: a neuron kernel used a value that cannot be written as Brian2 code (got {type(value).__name__})")


def _arith(op: str, a: Any, b: Any) -> Expr:
    a, b = _wrap(a), _wrap(b)
    kind = "float" if "float" in (a.kind, b.kind) else "int"
    return Expr(op, (a, b), kind)


def _where(cond: Any, a: Any, b: Any) -> Expr:
    cond, a, b = _wrap(cond), _wrap(a), _wrap(b)
    if cond.kind != "bool":
        raise BuildError(f"brian2: where(): expected a boolean condition (got a {cond.kind} value)")
    kind = "float" if "float" in (a.kind, b.kind) else "int"
    return Expr("where", (cond, a, b), kind)


class _Length:
    """The length of a symbolic table: only ``length - 1`` (its last index) is used."""

    def __init__(self, last: str) -> None:
        self.last = last

    def __sub__(self, one: Any) -> Expr:
        if one != 1:
            raise BuildError("brian2: a kernel used a table length other than as its last index (length - 1)")
        return Expr.var(self.last, "int")


class SymbolicTable:
    """A table of a kernel held in a Brian2 ``TimedArray`` called ``name`` (indexed by whole
    steps), whose last index is the variable ``name + "_last"``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shape = (_Length(f"{name}_last"),)

    def __getitem__(self, index: Any) -> Expr:
        return Expr("table", (self.name, _wrap(index)), "float")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise BuildError(f"brian2: a neuron kernel used the literal {value!r}, which Brian2 code cannot hold")
    return repr(value)


class _Writer:
    """Writes one block of statements; ``names`` maps nodes already held in a variable."""

    def __init__(self, names: dict[int, str], counter: list[int], stale: frozenset[str] = frozenset()) -> None:
        self.names = dict(names)
        self.stale = stale  #: variables whose value from before the update is gone
        self.lines: list[str] = []
        self.counter = counter
        self.flags: dict[int, tuple[str, str]] = {}

    def temp(self, text: str, node: Expr | None = None) -> str:
        name = f"nh_t{self.counter[0]}"
        self.counter[0] += 1
        self.lines.append(f"{name} = {text}")
        if node is not None:
            self.names[id(node)] = name
        return name

    def operand(self, node: Expr) -> str:
        """A name or literal holding ``node`` (writing its statements first)."""
        if id(node) in self.names:
            return self.names[id(node)]
        if node.op == "var":
            return self._var(node)
        if node.op == "lit":
            return _literal(node.args[0])
        if node.kind == "bool":
            return self.condition(node)
        if node.op == "clip":
            x, lo, hi = (self.operand(a) for a in node.args)
            return self.temp(f"clip({x}, {lo}, {hi})", node)
        if node.op == "table":
            name, index = node.args
            return self.temp(f"{name}({self.operand(index)} * dt)", node)
        if node.op == "where":
            cond, a, b = node.args
            on, off = self.flag(cond)
            left = self.temp(f"{self.operand(a)} * {on}")
            right = self.temp(f"{self.operand(b)} * {off}")
            return self.temp(f"{left} + {right}", node)
        x, y = node.args
        return self.temp(f"{self.operand(x)} {node.op} {self.operand(y)}", node)

    def _var(self, node: Expr) -> str:
        name = node.args[0]
        if name in self.stale:
            raise BuildError(
                f"brian2: the spike condition or reset of a neuron kernel reads {name!r} from before the update; "
                "Brian2 runs them after it, so they may only read the updated state"
            )
        return name

    def condition(self, node: Expr) -> str:
        """A boolean expression for ``node`` (comparisons are exact, so they stay inline)."""
        if id(node) in self.names:
            return self.names[id(node)]
        if node.op == "var":
            return self._var(node)
        if node.op == "lit":
            return _literal(node.args[0])
        if node.op in (">=", ">", "<=", "<"):
            x, y = node.args
            return f"{self.operand(x)} {node.op} {self.operand(y)}"
        raise BuildError(f"brian2: cannot write the boolean operation {node.op!r} of a neuron kernel as Brian2 code")

    def flag(self, cond: Expr) -> tuple[str, str]:
        """``int(cond)`` and ``1 - int(cond)`` as two variables (written once per condition)."""
        if id(cond) not in self.flags:
            on = self.temp(f"int({self.condition(cond)})")
            off = self.temp(f"1 - {on}")
            self.flags[id(cond)] = (on, off)
        return self.flags[id(cond)]


class Brian2Code(NamedTuple):
    """The Brian2 form of one neuron kernel (see the module docstring)."""

    model: str  #: equations: state fields, the input accumulators, the constants
    threshold: str
    reset: str
    update: str  #: run in the ``groups`` slot, after the synapses of the previous step


_BRIAN2_TYPES = {"float": "1", "int": "integer", "bool": "boolean"}


def _kind(values: Any) -> str:
    dtype = np.asarray(values).dtype
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return "float"


def _depends_on(node: Expr, target: Expr, seen: dict[int, bool]) -> bool:
    if node is target:
        return True
    if id(node) in seen:
        return seen[id(node)]
    out = any(_depends_on(a, target, seen) for a in node.args if isinstance(a, Expr))
    seen[id(node)] = out
    return out


def _reachable(roots: list[Expr], held: dict[int, str]) -> list[Expr]:
    """The operation nodes that ``roots`` need (short of those ``held`` in variables), in the
    order the kernel created them."""
    found: dict[int, Expr] = {}
    pending = list(roots)
    while pending:
        node = pending.pop()
        if id(node) in found or id(node) in held or node.op in ("var", "lit"):
            continue
        found[id(node)] = node
        pending.extend(a for a in node.args if isinstance(a, Expr))
    return sorted(found.values(), key=lambda n: n.seq)


def _write(writer: "_Writer", targets: dict[str, Expr]) -> list[str]:
    """Statements giving each target variable its node: temporaries in kernel order, then the
    assignments (so every temporary reads the values from before this block)."""
    for node in _reachable(list(targets.values()), writer.names):
        if node.kind != "bool":
            writer.operand(node)
    values = {name: writer.operand(node) for name, node in targets.items()}
    return list(writer.lines) + [f"{name} = {value}" for name, value in values.items() if value != name]


def generate(step: Callable[..., tuple[Any, Any]], state: Any, constants: Any, owner: str = "kernel") -> Brian2Code:
    """Brian2 code performing ``step`` (a kernel's step function) on Brian2 variables.

    Parameters
    ----------
    step : callable
        ``step(state, in_e, in_i, constants, where) -> (spikes, state)`` with its default
        (floating-point) arithmetic.
    state, constants : NamedTuple of arrays
        Example values: only the field names and array types are used (they give the
        variable names and Brian2 types).
    owner : str
        Name used in error messages.
    """
    sym_state = type(state)(*(Expr.var(name, _kind(v)) for name, v in state._asdict().items()))
    sym_const = type(constants)(*(Expr.var(name, _kind(v)) for name, v in constants._asdict().items()))
    clash = set(state._fields) & set(constants._fields) | (set(state._fields) | set(constants._fields)) & set(INPUTS)
    if clash:
        raise BuildError(f"brian2: {owner}: state and constant names must differ and not be {list(INPUTS)} (got {sorted(clash)} twice)")
    inputs = [Expr.var(name, "float") for name in INPUTS]
    spikes, new = step(sym_state, *inputs, sym_const, _where)
    if not isinstance(spikes, Expr) or spikes.op not in (">=", ">", "<=", "<"):
        raise BuildError(f"brian2: {owner}: the spikes returned by the step must be one comparison (got {spikes!r})")

    update_of: dict[str, Expr] = {}
    reset_of: dict[str, Expr] = {}
    for name, node in new._asdict().items():
        node = _wrap(node)
        if node.op == "where" and node.args[0] is spikes:
            reset_of[name], node = node.args[1], node.args[2]
        if _depends_on(node, spikes, {}):
            raise BuildError(f"brian2: {owner}: state field {name!r} depends on the spikes other than through where(spikes, reset, value)")
        update_of[name] = node

    counter = [0]
    # update (groups slot): all temporaries first, then the assignments
    lines = _write(_Writer({}, counter), update_of) + [f"{name} = 0" for name in INPUTS]
    # after the update, each field's variable holds its node
    held = {id(node): name for name, node in update_of.items()}
    stale = frozenset(name for name, node in update_of.items() if not (node.op == "var" and node.args[0] == name))
    threshold_writer = _Writer(held, counter, stale)
    threshold = threshold_writer.condition(spikes)
    if threshold_writer.lines:
        raise BuildError(f"brian2: {owner}: the spike condition must compare state fields and constants (got {spikes!r})")
    reset_lines = _write(_Writer(held, counter, stale), reset_of)

    model = [f"{name} : {_BRIAN2_TYPES[node.kind]}" for name, node in zip(state._fields, sym_state)]
    model += [f"{name} : 1" for name in INPUTS]
    model += [f"{name} : {_BRIAN2_TYPES[node.kind]} (constant)" for name, node in zip(constants._fields, sym_const)]
    return Brian2Code("\n".join(model) + "\n", threshold, "\n".join(reset_lines) + "\n", "\n".join(lines) + "\n")



class SynapseCode(NamedTuple):
    """The Brian2 form of one plasticity kernel (see :func:`generate_synapses`)."""

    model: str  #: per-synapse variables (the fields of the kernel's state)
    on_pre: str  #: for the synapses of a pre spike, when it arrives
    on_post: str  #: for the synapses of a post spike, when it reaches them
    namespace: dict[str, Any]  #: the constants: numbers, and tables (NumPy arrays) with their last index
    names: dict[str, str]  #: Brian2 variable of each state field (Brian2 reserves the suffixes _pre and _post)


def _synapse_name(field: str) -> str:
    for suffix in ("_pre", "_post"):
        if field.endswith(suffix):
            return field[: -len(suffix)] + suffix[1:]
    return field


def generate_synapses(on_pre: Callable[..., Any], on_post: Callable[..., Any], state: Any, constants: Any) -> SynapseCode:
    """Brian2 synapse code running a plasticity kernel's per-synapse event operations.

    Parameters
    ----------
    on_pre, on_post : callable
        ``on_x(state, t, constants) -> state`` (see
        :class:`~neurohop.kernels.registry.PlasticityKernel`), run symbolically with ``t`` the
        current step ``t_in_timesteps``.
    state : NamedTuple of arrays
        Example per-synapse state (field names and types).
    constants : NamedTuple
        The rule's constants: numbers become Brian2 constants of the same name, 1-D arrays
        tables (``name(step * dt)``) with their last index ``name_last``.
    """
    names = {name: _synapse_name(name) for name in state._fields}
    if len(set(names.values())) != len(names):
        raise BuildError(f"brian2: plasticity state fields {list(names)} collide once Brian2's reserved suffixes _pre/_post are dropped")
    sym_state = type(state)(*(Expr.var(names[name], _kind(v)) for name, v in state._asdict().items()))
    sym_const: list[Any] = []
    namespace: dict[str, Any] = {}
    for name, value in constants._asdict().items():
        if np.ndim(value) == 1:
            sym_const.append(SymbolicTable(name))
            namespace[name] = np.asarray(value)
            namespace[f"{name}_last"] = len(value) - 1
        else:
            sym_const.append(Expr.var(name, _kind(value)))
            namespace[name] = value
    consts = type(constants)(*sym_const)
    t = Expr.var("t_in_timesteps", "int")
    counter = [0]
    blocks = []
    for event in (on_pre, on_post):
        new = event(sym_state, t, consts)
        targets = {names[name]: _wrap(node) for name, node in new._asdict().items()}
        blocks.append("\n".join(_write(_Writer({}, counter), targets)) + "\n")
    model = "".join(f"{names[name]} : {_BRIAN2_TYPES[node.kind]}\n" for name, node in zip(state._fields, sym_state))
    return SynapseCode(model, blocks[0], blocks[1], namespace, names)
