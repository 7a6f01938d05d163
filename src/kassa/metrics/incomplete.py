"""Totals that are incomplete: amounts in another currency that had no exchange rate for their month.

Such an amount cannot be added to the business currency, and counting it as 0 would understate the
spend (and flatter every cost ratio). So the compute layer keeps what it left out, per group, measure
and currency (``MetricTable.left_out``), and every surface shows the figure as what it is: at least the
part it could convert, plus the rest in its own currency — "≥ 451 000 ₽ + 22.88 USD without a rate".

* a base money measure is incomplete with those amounts;
* a formula that only adds incomplete measures (``marketing_cost = cost + activity_cost``) is too, with
  the amounts of its parts added;
* any other formula that depends on one (CPL, ROMI…) has no value ("?"): a bound would need the sign
  of every term, and a confidently wrong ratio is worse than an open one.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kassa.metrics.catalog import CATALOG, with_dependencies
from kassa.metrics.formula import parse


@dataclass(frozen=True)
class Incomplete:
    """Why a metric's value is not whole: what was counted and what had no rate."""

    known: float | None  # the counted part, in the business currency (None: a formula with no bound)
    without_rate: dict[str, float] = field(default_factory=dict)  # currency -> amount left out
    because: tuple[str, ...] = ()  # the base measures with amounts left out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incomplete:
        """The inverse of :meth:`to_json` (pages get rows as JSON)."""
        rest = {str(c): float(a) for c, a in (data.get("without_rate") or {}).items()}
        return cls(data.get("known"), rest, tuple(data.get("because") or ()))

    def to_json(self) -> dict[str, Any]:
        return {
            "known": self.known,
            "without_rate": {c: round(a, 2) for c, a in sorted(self.without_rate.items())},
            "because": list(self.because),
        }


def fmt_amount(amount: float, currency: str) -> str:
    """An amount in its own currency, as the warning and the "≥" figure show it: ``22.88 USD``."""
    return f"{amount:,.2f} {currency}"


def _is_plain_sum(formula: str) -> list[str] | None:
    """The names a formula adds up, when it is nothing but ``a + b + …``; else None."""
    names: list[str] = []

    def walk(node: ast.AST) -> bool:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return walk(node.left) and walk(node.right)
        if isinstance(node, ast.Name):
            names.append(node.id)
            return True
        return False

    return names if walk(parse(formula).body) else None


def _amounts(
    left_out: pl.DataFrame, by: Sequence[str], row: Mapping[str, Any] | None
) -> dict[str, dict[str, float]]:
    """metric -> currency -> amount left out, for one group row (or the whole table)."""
    if left_out.is_empty():
        return {}
    frame = left_out
    if row is not None:
        for k in by:
            frame = frame.filter(pl.col(k) == row.get(k))
    out: dict[str, dict[str, float]] = {}
    for r in frame.group_by(["metric", "currency"]).agg(pl.col("amount").sum()).iter_rows(named=True):
        out.setdefault(r["metric"], {})[r["currency"]] = float(r["amount"] or 0.0)
    return out


def incomplete(
    left_out: pl.DataFrame,
    by: Sequence[str],
    names: Sequence[str],
    values: Mapping[str, Any],
    row: Mapping[str, Any] | None = None,
) -> dict[str, Incomplete]:
    """The metrics among ``names`` whose value for ``row`` (None: the total) is incomplete, and why.

    ``values`` are the row's (or total's) computed values: the counted parts.
    """
    base = _amounts(left_out, by, row)
    if not base:
        return {}
    known: dict[str, Incomplete] = {
        m: Incomplete(values.get(m), amounts, (m,)) for m, amounts in base.items()
    }
    for n in with_dependencies(list(names)):
        m = CATALOG[n]
        if m.formula is None or n in known:
            continue
        parts = [d for d in with_dependencies([n]) if d in known and d != n]
        if not parts:
            continue
        because = tuple(sorted({b for p in parts for b in known[p].because}))
        added = _is_plain_sum(m.formula)
        if added is not None:
            total: dict[str, float] = {}
            for p in added:
                for cur, a in (known[p].without_rate if p in known else {}).items():
                    total[cur] = total.get(cur, 0.0) + a
            known[n] = Incomplete(values.get(n), total, because)
        else:
            known[n] = Incomplete(None, {}, because)
    return {n: known[n] for n in names if n in known}


def incomplete_json(
    left_out: pl.DataFrame,
    by: Sequence[str],
    names: Sequence[str],
    values: dict[str, Any],
    row: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``values`` for JSON: an incomplete metric's value is ``null``, and ``incomplete`` says why."""
    found = incomplete(left_out, by, names, values, row)
    if not found:
        return values
    out = {k: (None if k in found else v) for k, v in values.items()}
    out["incomplete"] = {n: i.to_json() for n, i in found.items()}
    return out


def left_out_warnings(left: pl.DataFrame, currency: str) -> list[str]:
    """One warning per kind of row and currency left out, with the amounts per measure."""
    out = []
    summary = (
        left.group_by(["what", "currency", "metric"])
        .agg(pl.col("n").sum(), pl.col("amount").sum())
        .sort(["what", "currency", "metric"])
    )
    for (what, cur), g in summary.group_by(["what", "currency"], maintain_order=True):
        amounts = ", ".join(
            f"{CATALOG[m].label_en.lower()} {fmt_amount(a, str(cur))}"
            for m, a in zip(g["metric"], g["amount"], strict=True)
        )
        out.append(
            f"{max(g['n'].to_list())} {what!s} in {cur!s} (a currency other than {currency}) without an exchange rate for "
            f"their month were left out of the totals: {amounts}; run `kassa fx sync` (or load fx_rates)"
        )
    return out
