"""``kassa fx sync``: the official rates the warehouse's foreign-currency rows need, into ``fx_rates``.

Which rates: every (currency, month) in which spend (by ``date``), a deal (by ``closed_at``) or a
payment (by ``paid_at``) has an amount in a currency other than the business's — the very months the
metrics convert by (docs/currency.md). Of those, a pair is fetched when ``fx_rates`` has no rate for it,
or when the rate was stored by an earlier sync before its month was over (its mean was of part of the
month). A rate loaded from a file is never replaced: the business's own rate wins.

From whom: the Bank of Russia for a RUB business, the ECB for a EUR one (:data:`SERVICES`). Everything
is fetched and checked first, then stored as one import batch in one transaction
(:meth:`Warehouse.load_fetched`), so a failed request or a bad answer leaves the warehouse unchanged,
and ``kassa imports undo`` takes the batch back like any import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import ibis
import pyarrow as pa

from kassa.connectors import cbr, ecb
from kassa.connectors.http import Service
from kassa.connectors.rates import MonthlyRate, month_end, monthly_means
from kassa.errors import KassaError

if TYPE_CHECKING:
    from kassa.store.warehouse import FileReport, Warehouse

SERVICES = {cbr.HOME: "cbr", ecb.HOME: "ecb"}
"""The business currency -> the service whose official rates kassa fetches for it."""

# The rows that carry a currency, and the date whose month converts them (as kassa.metrics.compute does).
CONVERTED_BY = (("spend", "date"), ("deals", "closed_at"), ("payments", "paid_at"))

Pair = tuple[str, dt.date]  # (currency, month's first day)


@dataclass
class SyncReport:
    service: str
    stored: list[MonthlyRate] = field(default_factory=list)
    kept: list[Pair] = field(default_factory=list)  # needed, and a rate already there
    not_published: list[Pair] = field(default_factory=list)  # asked, and the service has none
    batch: FileReport | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "stored": [
                {"month": r.month.strftime("%Y-%m"), "currency": r.currency, "rate": r.rate, "days": r.days}
                for r in self.stored
            ],
            "kept": [{"month": m.strftime("%Y-%m"), "currency": c} for c, m in self.kept],
            "not_published": [{"month": m.strftime("%Y-%m"), "currency": c} for c, m in self.not_published],
            "batch_id": self.batch.batch_id if self.batch else None,
        }


def needed(wh: Warehouse) -> list[Pair]:
    """Every (currency, month) the warehouse's rows need a rate for, sorted."""
    cur = wh.settings.currency
    parts = []
    for name, day in CONVERTED_BY:
        t = wh.table(name)
        code = t.currency.strip().upper()
        t = t.filter(t.currency.notnull() & (code != "") & (code != cur) & t[day].notnull())
        parts.append(t.select(currency=code, month=t[day].truncate("M").cast("date")).distinct())
    rows = ibis.union(*parts, distinct=True).to_pyarrow().to_pylist()
    return sorted((r["currency"], r["month"]) for r in rows)


def _present(wh: Warehouse) -> set[Pair]:
    """The pairs ``fx_rates`` has a rate for that a sync need not fetch again."""
    fx, b = wh.table("fx_rates"), wh.table("import_batches")
    j = fx.left_join(b, fx.batch_id == b.batch_id)
    rows = j.select(currency=fx.currency, month=fx.month, format=b.format, loaded_at=b.loaded_at)
    out = set()
    for r in rows.to_pyarrow().to_pylist():
        fetched = r["format"] in SERVICES.values()
        if fetched and r["loaded_at"] is not None and r["loaded_at"].date() <= month_end(r["month"]):
            continue  # fetched while its month was still going: fetch the whole month again
        out.add((r["currency"], r["month"]))
    return out


def _fetch(svc: Service, name: str, pairs: list[Pair], today: dt.date) -> list[MonthlyRate]:
    currencies = sorted({c for c, _ in pairs})
    first, last = min(m for _, m in pairs), min(month_end(max(m for _, m in pairs)), today)
    if name == "ecb":
        return ecb.monthly_rates(ecb.daily_rates(svc, currencies, first, last))
    codes = cbr.currency_codes(svc, last)
    daily = []
    for c in currencies:
        if c in codes:
            daily.extend(cbr.daily_rates(svc, c, codes[c], first, last))
    return monthly_means(daily)


def sync(
    wh: Warehouse,
    *,
    base_url: str | None = None,
    attempts: int = 4,
    backoff: float = 1.0,
    timeout: float = 30.0,
    today: dt.date | None = None,
) -> SyncReport:
    """Fetch and store the rates the warehouse needs (module docstring); one transaction."""
    cur = wh.settings.currency
    if cur not in SERVICES:
        raise KassaError(
            f"kassa fx sync fetches official rates for a RUB business (Bank of Russia) or a EUR one (ECB); "
            f"for {cur}, load fx_rates from a file (docs/import-format.md)"
        )
    name = SERVICES[cur]
    module = cbr if name == "cbr" else ecb
    svc = module.service(base_url, attempts=attempts, backoff=backoff, timeout=timeout)
    report = SyncReport(service=svc.name)
    day = today or dt.date.today()
    wanted = needed(wh)
    present = _present(wh)
    report.kept = [p for p in wanted if p in present]
    # A month that has not begun has no rate yet; asking would only be answered with nothing.
    missing = [p for p in wanted if p not in present and p[1] <= day]
    report.not_published = [p for p in wanted if p not in present and p[1] > day]
    if not missing:
        return report
    got = {(r.currency, r.month): r for r in _fetch(svc, name, missing, day)}
    report.stored = [got[p] for p in missing if p in got]
    report.not_published = sorted(report.not_published + [p for p in missing if p not in got])
    if report.stored:
        rows = pa.table(
            {
                "month": pa.array([r.month for r in report.stored], pa.date32()),
                "currency": pa.array([r.currency for r in report.stored], pa.string()),
                "rate": pa.array([r.rate for r in report.stored], pa.float64()),
            }
        )
        months = sorted({r.month for r in report.stored})
        # The batch's "file": who was asked for what; no slash, so `kassa imports` shows all of it.
        origin = (
            f"{svc.name} rates {','.join(sorted({r.currency for r in report.stored}))} "
            f"{months[0]:%Y-%m}..{months[-1]:%Y-%m} ({urlsplit(svc.base_url).netloc})"
        )
        report.batch = wh.load_fetched(origin, name, "fx_rates", rows)
    return report
