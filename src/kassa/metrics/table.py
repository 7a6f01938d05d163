"""What :func:`kassa.metrics.compute.compute` returns: a :class:`MetricTable` — metrics per group for one
period as a Polars frame, with the marks its figures carry (incomplete, estimated, so far, not yet) and
their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from kassa.metrics.estimated import estimated, ordered
from kassa.metrics.incomplete import Incomplete, incomplete, incomplete_json
from kassa.metrics.metric import Metric
from kassa.period import Period

View = Literal["calendar", "cohort"]
# Metrics of a cohort's lifetime: "so far" while a customer's horizon is open (MetricTable.partial).
PARTIAL_METRICS = ("ltv", "ltv_to_cac")


@dataclass
class MetricTable:
    """Metrics per group for one period: a Polars frame plus what it means."""

    frame: pl.DataFrame
    metrics: list[Metric]
    by: list[str]
    period: Period
    view: View
    total: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Amounts without an exchange rate, per group, measure and currency (kassa.metrics.incomplete).
    left_out: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Spread rows of whole-period reports the groups' dates cut (kassa.metrics.estimated).
    cut: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Per group (and "total"), the customers acquired whose horizon is not over (kassa.metrics.customers):
    # their LTV so far is a lower bound.
    horizon_open: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # Per group (and "total"), the payback metrics whose cohort has not paid back within the months seen
    # (kassa.metrics.payback): no value, shown "not yet" — never 0, and not "—" (nothing to pay back).
    paid_back_not_yet: dict[tuple[Any, ...], set[str]] = field(default_factory=dict)

    def partial(self, row: dict[str, Any] | None = None) -> set[str]:
        """The metrics whose value for ``row`` (None: the total) is "so far": LTV and what divides by it
        while some customer's horizon is still open. Shown "≥", never extrapolated."""
        key = ("total",) if row is None else tuple(row.get(k) for k in self.by)
        if not self.horizon_open.get(key):
            return set()
        values = self.total if row is None else row
        return {n for n in PARTIAL_METRICS if n in values and values.get(n) is not None} & {
            m.name for m in self.metrics
        }

    def not_yet(self, row: dict[str, Any] | None = None) -> set[str]:
        """The metrics (payback) with no value for ``row`` (None: the total) because its cohort has not
        paid back within the months the data has seen: shown "not yet"."""
        key = ("total",) if row is None else tuple(row.get(k) for k in self.by)
        return self.paid_back_not_yet.get(key, set()) & {m.name for m in self.metrics}

    def rows(self) -> list[dict[str, Any]]:
        return self.frame.to_dicts()

    def incomplete(self, row: dict[str, Any] | None = None) -> dict[str, Incomplete]:
        """The metrics whose value for ``row`` (None: the total) lacks amounts without a rate, and why."""
        names = [m.name for m in self.metrics]
        return incomplete(self.left_out, self.by, names, self.total if row is None else row, row)

    def estimated(self, row: dict[str, Any] | None = None) -> set[str]:
        """The metrics whose value for ``row`` (None: the total) is a day-prorated share of a whole-period
        report its dates cut: an estimate, shown "≈"."""
        values = self.total if row is None else row
        found = estimated(self.cut, self.by, [m.name for m in self.metrics], row)
        return {n for n in found if values.get(n) is not None and values.get(n) == values.get(n)}

    def json_row(self, row: dict[str, Any] | None = None) -> dict[str, Any]:
        """``row`` (None: the total) as JSON shows it: an incomplete value is ``null`` with ``incomplete``
        saying why; ``estimated`` lists the estimated metrics (absent when none, as ``incomplete`` is)."""
        return self._json_values(self.total if row is None else row, row)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "view": self.view,
            "by": self.by,
            "metrics": [
                {
                    "name": m.name,
                    "tier": m.tier.value,
                    "unit": m.unit,
                    "better": m.better,
                    "label": m.label_en,
                }
                for m in self.metrics
            ],
            "rows": [self._json_values(r, r) for r in self.frame.to_dicts()],
            "total": self._json_values(self.total, None),
            "warnings": self.warnings,
        }

    def _json_values(self, values: dict[str, Any], row: dict[str, Any] | None) -> dict[str, Any]:
        names = [m.name for m in self.metrics]
        out = incomplete_json(self.left_out, self.by, names, _jsonable(values), row)
        found = self.estimated(row)
        if found:
            out = {**out, "estimated": ordered(names, found)}
        so_far = self.partial(row)
        if so_far:
            out = {**out, "partial": ordered(names, so_far)}
        waiting = self.not_yet(row)
        return {**out, "not_yet": ordered(names, waiting)} if waiting else out


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and v != v:  # NaN never leaves kassa: it is "no value"
            v = None
        out[k] = v
    return out
