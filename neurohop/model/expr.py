"""A small, safe arithmetic evaluator for model files (sizes like ``C + K``, weights like ``6*K``).

Evaluation is bounded so that no expression can hang or exhaust memory: the text is at most
:data:`MAX_LENGTH` characters, the syntax tree at most :data:`MAX_DEPTH` levels deep, every
exponent at most :data:`MAX_EXPONENT` in magnitude, and every intermediate result at most
:data:`MAX_MAGNITUDE` in magnitude (and finite).
"""

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
#: Longest expression accepted (characters).
MAX_LENGTH = 1000
#: Deepest syntax tree accepted (nested operations and calls).
MAX_DEPTH = 50
#: Largest exponent magnitude of ``**``.
MAX_EXPONENT = 1024
#: Largest magnitude of any intermediate result.
MAX_MAGNITUDE = 1e300

_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {"min": min, "max": max, "exp": math.exp, "log": math.log, "log2": math.log2, "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor, "round": round, "int": int}


def _bounded(value: Any, where: str, text: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int):
        if value.bit_length() > 997:  # 2**997 ~ 1.3e300
            raise ModelError(f"{where}: result too large in {text!r} (expected a magnitude below {MAX_MAGNITUDE:g})")
        return value
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ModelError(f"{where}: result too large or not finite in {text!r} (expected a finite magnitude below {MAX_MAGNITUDE:g}, got {value!r})")
    return value


def _power(base: Any, exp: Any, where: str, text: str) -> Any:
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        if abs(exp) > MAX_EXPONENT:
            raise ModelError(f"{where}: exponent too large in {text!r} (expected at most {MAX_EXPONENT}, got {exp:g})")
        if isinstance(base, (int, float)) and not isinstance(base, bool) and base not in (0, 1, -1) and exp > 0:
            if abs(exp) * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE):
                raise ModelError(f"{where}: result too large in {text!r} (expected a magnitude below {MAX_MAGNITUDE:g})")
    out = base**exp
    if isinstance(out, complex):
        raise ModelError(f"{where}: cannot evaluate {text!r}: a negative number to a fractional power")
    return out


def evaluate(value: Any, names: Mapping[str, Any], where: str) -> Any:
    """Evaluate ``value`` if it is an expression string, else return it unchanged.

    Only numbers, the given ``names``, ``+ - * / // % **``, parentheses and the functions
    ``min max exp log log2 sqrt ceil floor round int`` are allowed. Raises
    :class:`~neurohop.errors.ModelError` naming ``where`` for anything else, and for an
    expression over the bounds of this module.
    """
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool):
            return _bounded(value, where, str(value)[:20] + "...")
        return value
    text = value.strip()
    if len(text) > MAX_LENGTH:
        raise ModelError(f"{where}: expression too long (expected at most {MAX_LENGTH} characters, got {len(text)})")
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise ModelError(f"{where}: cannot parse expression {shown!r}") from None
    except (RecursionError, MemoryError):
        raise ModelError(f"{where}: expression nested too deeply {shown!r} (expected at most {MAX_DEPTH} levels)") from None

    def walk(node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ModelError(f"{where}: expression nested too deeply {shown!r} (expected at most {MAX_DEPTH} levels)")
        if isinstance(node, ast.Expression):
            return walk(node.body, depth + 1)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return _bounded(node.value, where, shown)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ModelError(f"{where}: unknown name {node.id!r} in {shown!r}; known: {sorted(names)}")
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = walk(node.left, depth + 1), walk(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                return _bounded(_power(left, right, where, shown), where, shown)
            return _bounded(_BINOPS[type(node.op)](left, right), where, shown)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _bounded(_UNARY[type(node.op)](walk(node.operand, depth + 1)), where, shown)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
            return _bounded(_FUNCS[node.func.id](*(walk(a, depth + 1) for a in node.args)), where, shown)
        raise ModelError(f"{where}: unsupported syntax in expression {shown!r}")

    try:
        return walk(tree, 0)
    except ModelError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ModelError(f"{where}: cannot evaluate {shown!r}: {exc}") from None
