"""Two periods side by side for every place a finding can point at: the company, each channel, each
campaign, each sales manager. Plus the tests run on them, each once, so the run can correct for all.

Catalog metrics come from :func:`kassa.metrics.compute`. Two things the catalog does not carry are
queried here with Ibis over the warehouse (the same stitching as the metrics, :mod:`kassa.link.channels`):

* the won deals' count, Σ amount and Σ amount² per channel, campaign and manager — what the average
  check's and revenue's tests need (:mod:`kassa.diagnose.significance`);
* how fast each manager answered the period's leads: leads answered, answered within an hour
  (``FAST_RESPONSE_HOURS``) and the summed hours to the first response.

Both are grouped at the finest grain (channel, campaign, manager) in the warehouse; the coarser levels
are sums of those few rows, done in Polars.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.diagnose.significance import (
    ALPHA,
    TestResult,
    benjamini_hochberg,
    mean_test,
    poisson_rate_test,
    proportion_test,
    rate_test,
    sum_test,
)
from kassa.link.channels import NOT_SET
from kassa.metrics.catalog import visible_metrics
from kassa.metrics.compute import (
    BASE_MEASURES,
    NULLABLE_MEASURES,
    base_measures_frame,
    base_tables,
    derive_frame,
    in_business_currency,
    sum_measures,
)
from kassa.period import Period
from kassa.settings import Settings
from kassa.store.compiled import fetch

if TYPE_CHECKING:
    from kassa.store import Warehouse

Dimension = Literal["company", "channel", "campaign", "manager"]
Tree = Literal["marketing", "sales"]
COMPANY = "all"
FAST_RESPONSE_HOURS = 1.0
"""A lead answered within an hour: the usual benchmark of lead-response studies (Oldroyd, McElheran &
Elkington, "The Short Life of Online Sales Leads", HBR 2011: contact within an hour was ~7× likelier
to qualify the lead than an hour later)."""


@dataclass(frozen=True, order=True)
class Node:
    """A place a finding points at. ``channel`` is set for campaigns (names repeat across platforms)."""

    dimension: Dimension
    value: str
    channel: str | None = None

    @property
    def is_company(self) -> bool:
        return self.dimension == "company"


COMPANY_NODE = Node("company", COMPANY)


@dataclass(frozen=True)
class DealStats:
    """Won deals closed in the period: count, Σ amount, Σ amount² (for the t- and z-tests)."""

    n: int = 0
    total: float = 0.0
    sumsq: float = 0.0


@dataclass(frozen=True)
class ResponseStats:
    """Leads created in the period and how fast they were first answered."""

    leads: int = 0
    answered: int = 0
    fast: int = 0  # answered within FAST_RESPONSE_HOURS
    hours: float = 0.0  # Σ hours to the first response over answered leads

    @property
    def fast_share(self) -> float | None:
        return self.fast / self.answered if self.answered else None

    @property
    def mean_hours(self) -> float | None:
        return self.hours / self.answered if self.answered else None


@dataclass
class Side:
    """One period's numbers for one place."""

    metrics: dict[str, Any] = field(default_factory=dict)
    deals: DealStats = field(default_factory=DealStats)
    response: ResponseStats | None = None

    def value(self, name: str) -> float | None:
        if name in self.metrics:
            v = self.metrics[name]
            return None if v is None or (isinstance(v, float) and v != v) else float(v)
        # Nullable measures (catalog) are "no value", not zero, when a place has no row in a period.
        if name in BASE_MEASURES and name not in NULLABLE_MEASURES:
            return 0.0  # no row at all: nothing was counted
        return None


@dataclass
class TestLog:
    """Every test of a run, computed once by key; the ``family`` tests get BH-adjusted q-values."""

    results: dict[Hashable, TestResult] = field(default_factory=dict)
    family: list[Hashable] = field(default_factory=list)
    q: dict[Hashable, float] = field(default_factory=dict)

    def run(self, key: Hashable, fn: Callable[[], TestResult], *, family: bool = True) -> TestResult:
        if key not in self.results:
            self.results[key] = fn()
        if family and key not in self.family and self.results[key].test != "none":
            self.family.append(key)
        return self.results[key]

    def adjust(self) -> None:
        keys = list(self.family)
        for k, q in zip(keys, benjamini_hochberg([self.results[k].p_value for k in keys]), strict=True):
            self.q[k] = q

    def q_value(self, key: Hashable) -> float:
        return self.q.get(key, 1.0)

    def significant(self, key: Hashable, alpha: float = ALPHA) -> bool:
        return key in self.q and self.q[key] <= alpha


@dataclass
class Comparison:
    """The earlier period (``vs``) and the later one (``period``) for every place, and the run's tests."""

    period: Period
    vs: Period
    currency: str
    before: dict[Node, Side]
    after: dict[Node, Side]
    tests: TestLog = field(default_factory=TestLog)
    warnings: list[str] = field(default_factory=list)

    @property
    def days_before(self) -> int:
        return (self.vs.end - self.vs.start).days

    @property
    def days_after(self) -> int:
        return (self.period.end - self.period.start).days

    def side(self, node: Node, when: Literal["before", "after"]) -> Side:
        sides = self.before if when == "before" else self.after
        return sides.get(node) or Side()

    def pair(self, node: Node, metric: str) -> tuple[float | None, float | None]:
        return self.side(node, "before").value(metric), self.side(node, "after").value(metric)

    def nodes(self, *dimensions: Dimension) -> list[Node]:
        found = set(self.before) | set(self.after)
        return sorted(n for n in found if n.dimension in dimensions)

    def children(self, node: Node, tree: Tree) -> list[Node]:
        """The parts of a place: channels of the company, campaigns of a channel, managers of the company."""
        if node.is_company:
            return self.nodes("channel") if tree == "marketing" else self.nodes("manager")
        if node.dimension == "channel" and tree == "marketing":
            return [n for n in self.nodes("campaign") if n.channel == node.value]
        return []

    def tree_nodes(self, tree: Tree) -> list[Node]:
        dims: tuple[Dimension, ...] = (
            ("company", "channel", "campaign") if tree == "marketing" else ("company", "manager")
        )
        return self.nodes(*dims)

    # -- the tests, each run once per run and remembered for the BH correction ------------------------

    def rate_test(self, node: Node, numerator: str, denominator: str) -> tuple[Hashable, TestResult]:
        """numerator / denominator before vs after (:func:`~kassa.diagnose.significance.rate_test`)."""
        key = ("rate", node, numerator, denominator)
        (k1, k2), (n1, n2) = self._counts(node, numerator), self._counts(node, denominator)
        return key, self.tests.run(key, lambda: rate_test(round(k1), n1, round(k2), n2))

    def per_test(self, node: Node, metric: str, exposure: str) -> tuple[Hashable, TestResult]:
        """A result per unit of activity (qualified leads per click, sales per post): the conditional Poisson
        test with the activity as exposure — a post is not a trial that "becomes" a sale, so no share test."""
        key = ("per", node, metric, exposure)
        (k1, k2), (e1, e2) = self._counts(node, metric), self._counts(node, exposure)
        return key, self.tests.run(key, lambda: poisson_rate_test(round(k1), e1, round(k2), e2))

    def count_test(self, node: Node, metric: str) -> tuple[Hashable, TestResult]:
        """A count per day, before vs after (months of 30 and 31 days compare fairly)."""
        key = ("count", node, metric)
        k1, k2 = self._counts(node, metric)
        return key, self.tests.run(
            key, lambda: poisson_rate_test(round(k1), self.days_before, round(k2), self.days_after)
        )

    def check_test(self, node: Node) -> tuple[Hashable, TestResult]:
        """The average check (mean amount of won deals), before vs after: Welch's t-test."""
        key = ("mean", node, "average_check")
        a, b = self.side(node, "before").deals, self.side(node, "after").deals
        return key, self.tests.run(key, lambda: mean_test(a.n, a.total, a.sumsq, b.n, b.total, b.sumsq))

    def revenue_test(self, node: Node) -> tuple[Hashable, TestResult]:
        """Revenue per day, before vs after: the compound-Poisson z-test over the won deals."""
        key = ("sum", node, "revenue")
        a, b = self.side(node, "before").deals, self.side(node, "after").deals
        return key, self.tests.run(
            key, lambda: sum_test(a.total, a.sumsq, self.days_before, b.total, b.sumsq, self.days_after)
        )

    def response_test(self, node: Node) -> tuple[Hashable, TestResult] | None:
        """Share of leads answered within an hour, before vs after (evidence only: outside the family)."""
        a, b = self.side(node, "before").response, self.side(node, "after").response
        if a is None or b is None:
            return None
        key = ("fast", node)
        return key, self.tests.run(
            key, lambda: proportion_test(a.fast, a.answered, b.fast, b.answered), family=False
        )

    def _counts(self, node: Node, metric: str) -> tuple[float, float]:
        a, b = self.pair(node, metric)
        return a or 0.0, b or 0.0


LEVELS: tuple[tuple[list[str], Callable[[dict[str, Any]], Node]], ...] = (
    ([], lambda r: COMPANY_NODE),
    (["channel"], lambda r: Node("channel", r["channel"])),
    (["channel", "campaign"], lambda r: Node("campaign", r["campaign"], r["channel"])),
    (["manager"], lambda r: Node("manager", r["manager"])),
)


def load(wh: Warehouse, period: Period, vs: Period, settings: Settings | None = None) -> Comparison:
    """Everything diagnosis needs about both periods, in three warehouse queries (metrics, deals, responses).

    Ibis compiles a metrics expression in seconds, so both periods share each query: a ``side`` column
    (``before``/``after``) splits the rows.
    """
    st = settings or wh.settings
    finest, warnings = _finest_measures(wh, period, vs, st)
    rows = _metric_rows(finest)
    deals = _deal_stats(wh, period, vs, st)
    response = _response_stats(wh, period, vs)
    sides: list[dict[Node, Side]] = []
    for name in ("before", "after"):
        side = {node: Side(metrics=row) for node, row in rows.get(name, {}).items()}
        _attach_deals(side, deals.filter(pl.col("side") == name))
        _attach_response(side, response.filter(pl.col("side") == name))
        sides.append(side)
    return Comparison(
        period=period, vs=vs, currency=st.currency, before=sides[0], after=sides[1], warnings=warnings
    )


def _finest_measures(
    wh: Warehouse, period: Period, vs: Period, st: Settings
) -> tuple[pl.DataFrame, list[str]]:
    """Base measures per side × channel × campaign × manager (:func:`kassa.metrics.compute.base_measures`).

    Whole-month periods (the usual case) come from one query grouped by month over the span of both;
    other periods from one query each.
    """
    keys = ["channel", "campaign", "manager"]
    if period.is_whole_months and vs.is_whole_months:
        span = Period(min(period.start, vs.start), max(period.end, vs.end))
        frame, warnings = base_measures_frame(wh, ["month", *keys], span, settings=st)
        months = {
            f"{d:%Y-%m}": name for name, p in (("before", vs), ("after", period)) for d in p.month_starts()
        }
        frame = (
            frame.filter(pl.col("month").is_in(list(months)))
            .with_columns(side=pl.col("month").replace_strict(months, default=None))
            .drop("month")
        )
        return frame, [f"{span.label}: {w}" for w in warnings]
    parts, warned = [], []
    for name, p in (("before", vs), ("after", period)):
        frame, warnings = base_measures_frame(wh, keys, p, settings=st)
        parts.append(frame.with_columns(side=pl.lit(name)))
        warned += [f"{p.label}: {w}" for w in warnings]
    return pl.concat(parts, how="vertical_relaxed"), warned


def _metric_rows(finest: pl.DataFrame) -> dict[str, dict[Node, dict[str, Any]]]:
    """Every visible catalog metric for the company, each channel, campaign and manager, per side.

    The base measures are sums, so the finest rows add up to every coarser level, where
    :func:`kassa.metrics.compute.derive` applies the catalog's formulas — the same numbers as
    ``compute(wh, by=...)`` without another pass over the warehouse.
    """
    out: dict[str, dict[Node, dict[str, Any]]] = {"before": {}, "after": {}}
    if finest.is_empty():
        return out
    # Payback is neither a sum nor a formula over sums (kassa.metrics.payback): nothing to split here.
    names = [m.name for m in visible_metrics() if m.cover is None]
    for keys, node_of in LEVELS:
        # base_measures already filled "nothing counted" with 0 where 0 is meant, so the sums keep that.
        grouped = sum_measures(finest.select("side", *keys, *BASE_MEASURES), ["side", *keys])
        for row in derive_frame(grouped, names).select("side", *keys, *names).to_dicts():
            out[row["side"]][node_of(row)] = row
    return out


def _key(col: ir.Value) -> ir.StringValue:
    # The same grouping value as metrics.compute: blank or missing is "(not set)".
    s = col.cast("string")
    return ibis.ifelse(s.isnull() | (s.strip() == ""), ibis.literal(NOT_SET), s)


def _side(ts: ir.TimestampValue, period: Period, vs: Period) -> tuple[ir.BooleanValue, ir.StringValue]:
    """Is the timestamp in either period, and which side it is on."""
    in_vs = (ts >= vs.start_ts()) & (ts < vs.end_ts())
    in_period = (ts >= period.start_ts()) & (ts < period.end_ts())
    return in_vs | in_period, ibis.ifelse(in_vs, ibis.literal("before"), ibis.literal("after"))


def _deal_stats(wh: Warehouse, period: Period, vs: Period, st: Settings) -> pl.DataFrame:
    # The same stitching the metrics read (built once per open warehouse), so both always agree.
    deals = base_tables(wh, st).chain.deals

    def query() -> ir.Table:
        in_either, _s = _side(deals.closed_at, period, vs)
        # As metrics.compute: won deals closed in the period, amounts in the business currency at the
        # month's rate; deals in a currency without a rate are left out there and here.
        closed = deals.filter((deals.status == "won") & in_either)
        won, _no_rate = in_business_currency(
            closed, ["amount"], closed.closed_at, wh.table("fx_rates"), st.currency
        )
        amount = won.amount.cast("float64")
        grouped = won.select(
            side=_side(won.closed_at, period, vs)[1],
            channel=_key(won.channel),
            campaign=_key(won.campaign),
            manager=_key(won.manager),
            amount=amount,
        )
        return grouped.group_by(["side", "channel", "campaign", "manager"]).aggregate(
            n=grouped.amount.count(),
            total=grouped.amount.sum(),
            sumsq=(grouped.amount * grouped.amount).sum(),
        )

    return fetch(wh, ("diagnose.deals", st.model_dump_json(), period, vs), query)


def _response_stats(wh: Warehouse, period: Period, vs: Period) -> pl.DataFrame:
    def query() -> ir.Table:
        leads = wh.table("leads")
        in_either, _s = _side(leads.created_at, period, vs)
        t = leads.filter(in_either)
        answered = t.first_response_at.notnull() & (t.first_response_at >= t.created_at)
        hours = (t.first_response_at.epoch_seconds() - t.created_at.epoch_seconds()).cast("float64") / 3600.0
        t = t.select(
            side=_side(t.created_at, period, vs)[1],
            manager=_key(t.manager),
            answered=answered.cast("int64"),
            fast=(answered & (hours <= FAST_RESPONSE_HOURS)).cast("int64"),
            hours=ibis.ifelse(answered, hours, 0.0),
        )
        return t.group_by(["side", "manager"]).aggregate(
            leads=ibis._.count(), answered=t.answered.sum(), fast=t.fast.sum(), hours=t.hours.sum()
        )

    return fetch(wh, ("diagnose.response", period, vs), query)


def _sum_rows(frame: pl.DataFrame, cols: Iterable[str]) -> dict[str, float]:
    return {c: float(frame[c].fill_null(0).sum()) for c in cols}


def _attach_deals(side: dict[Node, Side], frame: pl.DataFrame) -> None:
    def stats(f: pl.DataFrame) -> DealStats:
        s = _sum_rows(f, ("n", "total", "sumsq"))
        return DealStats(int(s["n"]), s["total"], s["sumsq"])

    side.setdefault(COMPANY_NODE, Side()).deals = stats(frame)
    for keys, node_of in LEVELS:
        if not keys or frame.is_empty():
            continue
        for part in frame.partition_by(keys, as_dict=False):
            side.setdefault(node_of(part.row(0, named=True)), Side()).deals = stats(part)


def _attach_response(side: dict[Node, Side], frame: pl.DataFrame) -> None:
    def stats(f: pl.DataFrame) -> ResponseStats:
        s = _sum_rows(f, ("leads", "answered", "fast", "hours"))
        return ResponseStats(int(s["leads"]), int(s["answered"]), int(s["fast"]), s["hours"])

    side.setdefault(COMPANY_NODE, Side()).response = stats(frame)
    for row in frame.iter_rows(named=True):
        node = Node("manager", row["manager"])
        if node in side:  # managers of leads outside the period have no metrics to compare
            side[node].response = stats(pl.DataFrame([row]))
