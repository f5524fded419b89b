"""Kernels run on symbolic values: the graph of operations a step performs, in its order.

A kernel's step function is run once with *symbolic* arrays: every state field, constant
and input is an :class:`Expr`, and each operation the kernel performs (one per line, in its
documented order) builds one more node, numbered in creation order (:attr:`Expr.seq`).
Code generators write this graph out as their own code, one statement per node in that
order, so that no generator can regroup floating-point operations:
:mod:`neurohop.backends.brian2.codegen` writes Brian2 abstract code and
:mod:`neurohop.backends.torch.compiled` a compiled loop over neurons. Nothing here
restates a model.

The operations a kernel may use on symbolic values: ``+ - *`` (with numbers or other
values), the comparisons ``>= > <= <``, ``.clip(lo, hi)``, ``where(cond, a, b)`` (passed in
as the kernel's ``where``) and, for tables (:class:`SymbolicTable`), indexing and
``len - 1``. Branching on a value in Python (``if v > 0``) raises :class:`BuildError`.

This module imports no array library beyond NumPy and no backend.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple

import numpy as np

from neurohop.errors import BuildError

__all__ = ["Expr", "wrap", "where", "SymbolicTable", "value_kind", "depends_on", "reachable", "NeuronTrace", "trace_neuron_step", "INPUTS"]

#: Names of the inputs of a neuron step: the summed weights arriving on each receptor.
INPUTS = ("in_e", "in_i")


class Expr:
    """A symbolic value of a kernel: a named variable, a literal, or an operation on others.

    ``op`` is ``"var"`` (``args = (name,)``), ``"lit"`` (``args = (value,)``), an arithmetic
    operator ``+ - *``, a comparison ``>= > <= <``, ``"clip"`` (``x, lo, hi``), ``"where"``
    (``cond, a, b``) or ``"table"`` (``name, index``). ``kind`` is ``"float"``, ``"int"`` or
    ``"bool"``.
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
        return Expr(">=", (self, wrap(other)), "bool")

    def __gt__(self, other: Any) -> "Expr":
        return Expr(">", (self, wrap(other)), "bool")

    def __le__(self, other: Any) -> "Expr":
        return Expr("<=", (self, wrap(other)), "bool")

    def __lt__(self, other: Any) -> "Expr":
        return Expr("<", (self, wrap(other)), "bool")

    def clip(self, lo: Any, hi: Any) -> "Expr":
        return Expr("clip", (self, wrap(lo), wrap(hi)), self.kind)

    def __bool__(self) -> bool:
        raise BuildError("a neuron kernel branches on a state value in Python; use where(...) so that the step can be generated as code")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Expr({self.op!r}, {self.args!r}, {self.kind!r})"


def wrap(value: Any) -> Expr:
    """``value`` as an :class:`Expr` (numbers become literals)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, (bool, np.bool_)):
        return Expr("lit", (bool(value),), "bool")
    if isinstance(value, (int, np.integer)):
        return Expr("lit", (int(value),), "int")
    if isinstance(value, (float, np.floating)):
        return Expr("lit", (float(value),), "float")
    raise BuildError(f"a neuron kernel used a value that cannot be written as generated code (got {type(value).__name__})")


def _arith(op: str, a: Any, b: Any) -> Expr:
    a, b = wrap(a), wrap(b)
    kind = "float" if "float" in (a.kind, b.kind) else "int"
    return Expr(op, (a, b), kind)


def where(cond: Any, a: Any, b: Any) -> Expr:
    """The symbolic ``where``: passed to a kernel in place of ``numpy.where``."""
    cond, a, b = wrap(cond), wrap(a), wrap(b)
    if cond.kind != "bool":
        raise BuildError(f"where(): expected a boolean condition (got a {cond.kind} value)")
    kind = "float" if "float" in (a.kind, b.kind) else "int"
    return Expr("where", (cond, a, b), kind)


class _Length:
    """The length of a symbolic table: only ``length - 1`` (its last index) is used."""

    def __init__(self, last: str) -> None:
        self.last = last

    def __sub__(self, one: Any) -> Expr:
        if one != 1:
            raise BuildError("a kernel used a table length other than as its last index (length - 1)")
        return Expr.var(self.last, "int")


class SymbolicTable:
    """A 1-D table of a kernel called ``name``, indexed by whole steps; its last index is the
    variable ``name + "_last"``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shape = (_Length(f"{name}_last"),)

    def __getitem__(self, index: Any) -> Expr:
        return Expr("table", (self.name, wrap(index)), "float")


def value_kind(values: Any) -> str:
    """``"bool"``, ``"int"`` or ``"float"``: the kind of an example array."""
    dtype = np.asarray(values).dtype
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return "float"


def depends_on(node: Expr, target: Expr, seen: dict[int, bool] | None = None) -> bool:
    """Whether ``node`` is ``target`` or computed from it."""
    seen = {} if seen is None else seen
    if node is target:
        return True
    if id(node) in seen:
        return seen[id(node)]
    out = any(depends_on(a, target, seen) for a in node.args if isinstance(a, Expr))
    seen[id(node)] = out
    return out


def reachable(roots: list[Expr], held: dict[int, Any] | None = None) -> list[Expr]:
    """The operation nodes that ``roots`` need (short of those ``held``, keyed by ``id``), in
    the order the kernel created them; variables and literals are left out."""
    held = {} if held is None else held
    found: dict[int, Expr] = {}
    pending = list(roots)
    while pending:
        node = pending.pop()
        if id(node) in found or id(node) in held or node.op in ("var", "lit"):
            continue
        found[id(node)] = node
        pending.extend(a for a in node.args if isinstance(a, Expr))
    return sorted(found.values(), key=lambda n: n.seq)


class NeuronTrace(NamedTuple):
    """One neuron step run on symbolic values (see :func:`trace_neuron_step`)."""

    state: Any  #: the symbolic state passed in (a variable per field, named after the field)
    constants: Any  #: the symbolic constants passed in
    inputs: tuple[Expr, Expr]  #: the variables ``in_e``, ``in_i``
    spikes: Expr  #: the spike condition the step returned (boolean)
    new: dict[str, Expr]  #: each state field's value after the step


def trace_neuron_step(step: Callable[..., tuple[Any, Any]], state: Any, constants: Any, owner: str = "kernel") -> NeuronTrace:
    """Run a neuron kernel's ``step(state, in_e, in_i, constants, where)`` on symbolic values.

    Parameters
    ----------
    step : callable
        The kernel's step function, with its default (floating-point) arithmetic.
    state, constants : NamedTuple of arrays
        Example values: only the field names and array kinds are used.
    owner : str
        Name used in error messages.

    Raises
    ------
    BuildError
        When state and constant names collide (or take the names of the inputs), the step
        branches on a value, or it returns something other than a boolean spike value.
    """
    clash = set(state._fields) & set(constants._fields) | (set(state._fields) | set(constants._fields)) & set(INPUTS)
    if clash:
        raise BuildError(f"{owner}: state and constant names must differ and not be {list(INPUTS)} (got {sorted(clash)} twice)")
    sym_state = type(state)(*(Expr.var(name, value_kind(v)) for name, v in state._asdict().items()))
    sym_const = type(constants)(*(Expr.var(name, value_kind(v)) for name, v in constants._asdict().items()))
    inputs = (Expr.var(INPUTS[0], "float"), Expr.var(INPUTS[1], "float"))
    spikes, new = step(sym_state, *inputs, sym_const, where)
    if not isinstance(spikes, Expr) or spikes.kind != "bool":
        raise BuildError(f"{owner}: the spikes returned by the step must be a boolean value (got {spikes!r})")
    return NeuronTrace(sym_state, sym_const, inputs, spikes, {name: wrap(node) for name, node in new._asdict().items()})
