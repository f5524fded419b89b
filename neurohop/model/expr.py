"""A small, safe arithmetic evaluator for model files (sizes like ``C + K``, weights like ``6*K``)."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Mapping

from neurohop.errors import ModelError

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {"min": min, "max": max, "exp": math.exp, "log": math.log, "log2": math.log2, "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor, "round": round, "int": int}


def evaluate(value: Any, names: Mapping[str, Any], where: str) -> Any:
    """Evaluate ``value`` if it is an expression string, else return it unchanged.

    Only numbers, the given ``names``, ``+ - * / // % **``, parentheses and the functions
    ``min max exp log log2 sqrt ceil floor round int`` are allowed.
    """
    if not isinstance(value, str):
        return value
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except SyntaxError:
        raise ModelError(f"{where}: cannot parse expression {value!r}") from None

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ModelError(f"{where}: unknown name {node.id!r} in {value!r}; known: {sorted(names)}")
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
            return _FUNCS[node.func.id](*(walk(a) for a in node.args))
        raise ModelError(f"{where}: unsupported syntax in expression {value!r}")

    try:
        return walk(tree)
    except ModelError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ModelError(f"{where}: cannot evaluate {value!r}: {exc}") from None
