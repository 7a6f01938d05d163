"""The small language of the metric catalog: a derived metric's formula and a base measure's row filter.

A formula is arithmetic over metric names: numbers, parentheses, ``+ - * /``. A choice between two
values is written as Python writes it (``gross_profit if sales > 0 and margin_missing == 0 else
revenue``), with comparisons (``== != < <= > >=``), ``and``, ``or``, ``not``, text constants
(``channel == 'unknown'``) and ``x is None`` / ``x is not None`` ("has no value"). Nothing else
parses, so a formula can never run code.

The same formula runs on Ibis columns (the warehouse), Polars expressions (attributed money) or
anything else an :class:`Algebra` says how to divide, choose and test for "no value".
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Algebra:
    """How a formula's operations run on one kind of value.

    ``divide(a, b)`` decides what x / 0 is (kassa: "no value", never infinity); ``choose(condition,
    then, otherwise)`` picks per row; ``missing(x)`` is true where ``x`` has no value. ``and``, ``or``
    and ``not`` are the values' own ``&``, ``|`` and ``~``, as Ibis and Polars define them.
    """

    divide: Callable[[Any, Any], Any]
    choose: Callable[[Any, Any, Any], Any]
    missing: Callable[[Any], Any]


def _divide_numbers(a: Any, b: Any) -> Any:
    return None if a is None or b is None or b == 0 else a / b


# Formulas over plain Python numbers (``None`` is "no value"): a page's total of numbers already summed.
NUMBERS = Algebra(
    divide=_divide_numbers,
    choose=lambda condition, then, otherwise: then if condition else otherwise,
    missing=lambda v: v is None,
)


def _polars_divide(a: Any, b: Any) -> Any:
    import polars as pl  # imported here: the catalog loads for `kassa --help`, polars does not need to

    return pl.when(b != 0).then(a / b).otherwise(None)


def _polars_choose(condition: Any, then: Any, otherwise: Any) -> Any:
    import polars as pl

    return pl.when(condition).then(then).otherwise(otherwise)


# Formulas over Polars expressions: x / 0 and x / "no value" are "no value", as over Ibis columns.
POLARS = Algebra(divide=_polars_divide, choose=_polars_choose, missing=lambda v: v.is_null())


_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}

# Every node a formula may contain (besides constants).
_SYNTAX = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.USub,
    ast.Not,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.IfExp,
    ast.Compare,
    ast.Is,
    ast.IsNot,
    ast.Div,
    *_ARITHMETIC,
    *_COMPARE,
)


@cache
def parse(formula: str) -> ast.Expression:
    """The formula's syntax tree; ``ValueError`` for anything outside the language."""
    tree = ast.parse(formula, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | None):
                raise ValueError(f"unsupported constant in formula {formula!r}")
        elif not isinstance(node, _SYNTAX):
            raise ValueError(f"unsupported syntax in formula {formula!r}")
        if isinstance(node, ast.Compare) and len(node.ops) != 1:
            raise ValueError(f"one comparison at a time in formula {formula!r}")
    return tree


def formula_names(formula: str) -> list[str]:
    """The names a formula reads (metrics, or a table's columns for a row filter), sorted."""
    return sorted({n.id for n in ast.walk(parse(formula)) if isinstance(n, ast.Name)})


def evaluate(formula: str, values: Mapping[str, Any], algebra: Algebra) -> Any:
    """Evaluate a formula over ``values`` (Ibis columns, Polars expressions…) with ``algebra``."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            return ~ev(node.operand) if isinstance(node.op, ast.Not) else -ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div):
                return algebra.divide(a, b)
            return _ARITHMETIC[type(node.op)](a, b)
        if isinstance(node, ast.BoolOp):
            parts = [ev(v) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(node.op, ast.And) else (out | p)
            return out
        if isinstance(node, ast.IfExp):
            return algebra.choose(ev(node.test), ev(node.body), ev(node.orelse))
        if isinstance(node, ast.Compare):
            op, right = node.ops[0], node.comparators[0]
            if isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    raise ValueError(f"only `is None` / `is not None` in formula {formula!r}")
                missing = algebra.missing(ev(node.left))
                return missing if isinstance(op, ast.Is) else ~missing
            return _COMPARE[type(op)](ev(node.left), ev(right))
        raise ValueError(f"unsupported syntax in formula {formula!r}")

    return ev(parse(formula))
