"""Brian2 code generated from the neuron kernels of :mod:`neurohop.kernels`.

The kernel's step function is run once with *symbolic* arrays
(:mod:`neurohop.kernels.symbolic`): every state field, constant and input is an
:class:`~neurohop.kernels.symbolic.Expr`, and each arithmetic operation the kernel performs
(one per line, in its documented order) builds one more node. The resulting expression
graph is then written out as Brian2 abstract code, one statement per operation, so that
code generation cannot regroup floating-point operations:

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

from typing import Any, Callable, NamedTuple

import numpy as np

from neurohop.errors import BuildError
from neurohop.kernels.symbolic import INPUTS, Expr, SymbolicTable, depends_on, reachable, trace_neuron_step, value_kind, wrap

__all__ = ["Expr", "SymbolicTable", "Brian2Code", "generate", "SynapseCode", "generate_synapses"]


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


def _write(writer: "_Writer", targets: dict[str, Expr]) -> list[str]:
    """Statements giving each target variable its node: temporaries in kernel order, then the
    assignments (so every temporary reads the values from before this block)."""
    for node in reachable(list(targets.values()), writer.names):
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
    try:
        trace = trace_neuron_step(step, state, constants, owner)
    except BuildError as exc:
        raise BuildError(f"brian2: {exc}") from None
    sym_state, sym_const, spikes = trace.state, trace.constants, trace.spikes
    if spikes.op not in (">=", ">", "<=", "<"):
        raise BuildError(f"brian2: {owner}: the spikes returned by the step must be one comparison (got {spikes!r})")

    update_of: dict[str, Expr] = {}
    reset_of: dict[str, Expr] = {}
    for name, node in trace.new.items():
        if node.op == "where" and node.args[0] is spikes:
            reset_of[name], node = node.args[1], node.args[2]
        if depends_on(node, spikes):
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
    sym_state = type(state)(*(Expr.var(names[name], value_kind(v)) for name, v in state._asdict().items()))
    sym_const: list[Any] = []
    namespace: dict[str, Any] = {}
    for name, value in constants._asdict().items():
        if np.ndim(value) == 1:
            sym_const.append(SymbolicTable(name))
            namespace[name] = np.asarray(value)
            namespace[f"{name}_last"] = len(value) - 1
        else:
            sym_const.append(Expr.var(name, value_kind(value)))
            namespace[name] = value
    consts = type(constants)(*sym_const)
    t = Expr.var("t_in_timesteps", "int")
    counter = [0]
    blocks = []
    for event in (on_pre, on_post):
        try:
            new = event(sym_state, t, consts)
        except BuildError as exc:
            raise BuildError(f"brian2: {exc}") from None
        targets = {names[name]: wrap(node) for name, node in new._asdict().items()}
        blocks.append("\n".join(_write(_Writer({}, counter), targets)) + "\n")
    model = "".join(f"{names[name]} : {_BRIAN2_TYPES[node.kind]}\n" for name, node in zip(state._fields, sym_state))
    return SynapseCode(model, blocks[0], blocks[1], namespace, names)
