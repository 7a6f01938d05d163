"""The demo company's blocks of events assembled into kassa's six canonical tables and written as CSV.

Blocks (:func:`kassa.demo.generate.simulate_block`) store numbers: indices into the streams' texts,
seconds since the epoch, -1 for "no value". Here they are sorted in time, given readable ids
(``L-10001``, ``D-5001``, ``P-000001``), invoice numbers and bank purpose texts, and written with the
canonical CSV conventions (UTF-8, ISO dates, dot decimals, empty = no value).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from kassa.demo.company import FIRST_INVOICE, MANAGERS, PRODUCTS, RETURNING, STREAMS
from kassa.demo.generate import DAYS, LANDINGS, MONTHS, REFERRERS, TERMS, Arrays, Block, simulate_block
from kassa.demo.people import email_text, phone_text
from kassa.demo.repeats import returning_customers
from kassa.errors import KassaError

FILES = ("spend.csv", "activities.csv", "visits.csv", "leads.csv", "deals.csv", "payments.csv")
LEAD_STATUS = ("new", "qualified", "junk")
DEAL_STATUS = ("open", "won", "lost")


def _frame(parts: list[Arrays]) -> pl.DataFrame:
    parts = [p for p in parts if p]
    return pl.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def _stamp(col: str) -> pl.Expr:
    """Seconds since the epoch (local time of the business) -> naive datetime; -1 means "no value"."""
    c = pl.col(col)
    return pl.when(c >= 0).then(pl.from_epoch(c, time_unit="s")).alias(col)


def _text(col: str, options: Sequence[str | None], name: str | None = None) -> pl.Expr:
    """Index column -> its text in ``options``; -1 means "no value"."""
    c = pl.col(col)
    return (
        pl.when(c >= 0)
        .then(pl.lit(pl.Series(list(options), dtype=pl.String)).gather(c.clip(0)))
        .alias(name or col)
    )


def _stream_text(field: str, col: str = "stream") -> pl.Expr:
    """A stream's text attribute (``utm_source``, ``channel``…) for a stream index column; -1 or "" -> no value."""
    return _text(col, [getattr(s, field) or None for s in STREAMS], field)


def _click_id() -> pl.Expr:
    """The platform's click id as the visit or lead carries it: ``yclid:123…`` (no value without a click)."""
    return pl.when(pl.col("click") >= 0).then(
        pl.concat_str(_stream_text("click_id"), pl.lit(":"), pl.col("click").cast(pl.String))
    )


def _spend_table(blocks: list[Block]) -> pl.DataFrame:
    return (
        _frame([b.spend for b in blocks])
        .with_columns(
            date=pl.lit(pl.Series(DAYS)).gather(pl.col("day")),
            channel=_stream_text("channel"),
            campaign=_stream_text("utm_campaign"),
            reach=pl.when(pl.col("reach") >= 0).then(pl.col("reach")),
            vat_included=pl.lit(pl.Series([s.vat_included for s in STREAMS])).gather(pl.col("stream")),
        )
        .sort("date", "channel", "campaign")
    )


def _activities_table(blocks: list[Block]) -> pl.DataFrame:
    return (
        _frame([b.activities for b in blocks])
        .with_columns(
            date=pl.lit(pl.Series(DAYS)).gather(pl.col("day")),
            channel=_stream_text("channel"),
            kind=_stream_text("event_kind"),
            count=pl.lit(1, dtype=pl.Int64),
            cost=pl.lit(pl.Series([s.event_cost for s in STREAMS])).gather(pl.col("stream")),
            campaign=_stream_text("utm_campaign"),
        )
        .sort("date", "channel", "kind")
    )


def _visits_table(blocks: list[Block], seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The visits in time order with readable ids, and each visitor's ``client_id`` (for the leads)."""
    visits = _frame([b.visits for b in blocks]).sort("ts", "client", "stream")
    # Metrica's ClientID: the first visit's Unix time followed by nine random digits.
    visits = visits.with_columns(
        client_id=pl.concat_str(
            pl.col("first_ts").cast(pl.String), pl.col("suffix").cast(pl.String).str.zfill(9)
        )
    )
    client_ids = visits.select("client", "client_id").unique("client")
    if client_ids["client_id"].n_unique() != client_ids.height:
        raise KassaError(
            f"demo generator: two visitors got the same client id with seed {seed}; try another seed"
        )
    visits = visits.with_columns(
        visit_id=(pl.int_range(pl.len()) + 7_300_000_000).cast(pl.String),
        ts=_stamp("ts"),
        utm_source=_stream_text("utm_source"),
        utm_medium=_stream_text("utm_medium"),
        utm_campaign=_stream_text("utm_campaign"),
        utm_term=_text("term", TERMS),
        referrer=_text("referrer", REFERRERS),
        landing_page=_text("landing", LANDINGS),
        click_id=_click_id(),
    )
    return visits, client_ids


def _leads_table(blocks: list[Block], client_ids: pl.DataFrame) -> pl.DataFrame:
    return (
        _frame([b.leads for b in blocks])
        .sort("created_at", "lead_key")
        .join(client_ids, on="client", how="left", maintain_order="left")
        .with_columns(
            lead_id=pl.format("L-{}", pl.int_range(pl.len()) + 10_001),
            created_at_s=pl.col("created_at"),
            created_at=_stamp("created_at"),
            first_response_at=_stamp("first_response_at"),
            utm_source=_stream_text("utm_source"),
            utm_medium=_stream_text("utm_medium"),
            utm_campaign=_stream_text("utm_campaign"),
            status=_text("status", LEAD_STATUS),
            manager=_text("manager", MANAGERS),
            phone=pl.when(pl.col("has_phone")).then(phone_text()),
            email=pl.when(pl.col("has_email")).then(email_text()),
            click_id=_click_id(),
        )
    )


def _numbered_deals(blocks: list[Block], leads: pl.DataFrame) -> pl.DataFrame:
    """The deals in time order with readable ids and their invoice numbers, times still in seconds."""
    deals = (
        _frame([b.deals for b in blocks])
        .sort("created_at", "deal_key")
        .join(leads.select("lead_key", "lead_id"), on="lead_key", how="left", maintain_order="left")
        .with_columns(deal_id=pl.format("D-{}", pl.int_range(pl.len()) + 5_001))
    )
    # Invoices are issued when a deal is won, numbered in that order.
    invoices = (
        deals.filter(pl.col("status") == 1)
        .sort("closed_at", "deal_key")
        .select("deal_key", invoice_no=pl.int_range(pl.len()) + FIRST_INVOICE)
    )
    return deals.join(invoices, on="deal_key", how="left", maintain_order="left")


def _payments_table(blocks: list[Block], deals: pl.DataFrame) -> pl.DataFrame:
    """The bank rows: each with the purpose text a Russian bank statement carries ("Оплата по счету № …")."""
    payments = (
        _frame([b.payments for b in blocks])
        .sort("paid_at", "deal_key", "part")
        .join(
            deals.select("deal_key", "deal_id", "invoice_no", "closed_at", "product", "payer_inn"),
            on="deal_key",
            how="left",
            maintain_order="left",
        )
    )
    what = _text("product", [p.title_ru for p in PRODUCTS], "what")
    opening = _text(
        "part", ("Оплата по счету № ", "Предоплата по счету № ", "Доплата по счету № "), "opening"
    )
    invoice_date = pl.from_epoch(pl.col("closed_at"), time_unit="s").dt.strftime("%d.%m.%Y")
    return payments.with_columns(
        payment_id=pl.format("P-{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(6)),
        paid_at=_stamp("paid_at"),
        purpose=pl.concat_str(
            opening,
            pl.col("invoice_no").cast(pl.String),
            pl.lit(" от "),
            invoice_date,
            pl.lit(" за "),
            what,
            pl.lit(". НДС не облагается"),
        ),
        invoice=pl.when(~pl.col("no_id")).then(pl.col("invoice_no").cast(pl.String)),
        deal_id=pl.when(~pl.col("no_id")).then(pl.col("deal_id")),
        payer_inn=pl.when(pl.col("payer_inn") >= 0).then(pl.col("payer_inn").cast(pl.String)),
    )


def _deals_table(deals: pl.DataFrame) -> pl.DataFrame:
    return deals.with_columns(
        created_at=_stamp("created_at"),
        closed_at=_stamp("closed_at"),
        status=_text("status", DEAL_STATUS),
        gross_profit=pl.when(pl.col("gross_profit") >= 0).then(pl.col("gross_profit")),
        invoice=pl.col("invoice_no").cast(pl.String),
        payer_inn=pl.when(pl.col("payer_inn") >= 0).then(pl.col("payer_inn").cast(pl.String)),
    )


# The columns of each CSV, in order (the canonical tables of kassa.schema).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "spend": ("date", "channel", "campaign", "impressions", "clicks", "cost", "reach", "vat_included"),
    "activities": ("date", "channel", "kind", "count", "cost", "campaign"),
    "visits": (
        "visit_id",
        "client_id",
        "ts",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "referrer",
        "landing_page",
        "click_id",
    ),
    "leads": (
        "lead_id",
        "created_at",
        "client_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "status",
        "manager",
        "phone",
        "email",
        "first_response_at",
        "click_id",
    ),
    "deals": (
        "deal_id",
        "lead_id",
        "created_at",
        "status",
        "closed_at",
        "amount",
        "gross_profit",
        "invoice",
        "payer_inn",
    ),
    "payments": ("payment_id", "paid_at", "amount", "deal_id", "invoice", "payer_inn", "purpose"),
}


def build_tables(seed: int = 7, plant: bool = True) -> dict[str, pl.DataFrame]:
    """The six canonical tables of the demo company as Polars frames, in the column order of the CSVs."""
    blocks = [simulate_block(i, s, m, seed, plant) for i, s in enumerate(STREAMS) for m in range(len(MONTHS))]
    visits, client_ids = _visits_table(blocks, seed)
    leads = _leads_table(blocks, client_ids)
    deals = _numbered_deals(blocks, leads)
    # Planted fact 4: some buyers come back (their new lead has an earlier buyer's phone).
    leads = returning_customers(leads, deals, seed, RETURNING).with_columns(
        phone=pl.when(pl.col("has_phone")).then(phone_text())
    )
    tables = {
        "spend": _spend_table(blocks),
        "activities": _activities_table(blocks),
        "visits": visits,
        "leads": leads,
        "deals": _deals_table(deals),
        "payments": _payments_table(blocks, deals),
    }
    return {name: tables[name].select(cols) for name, cols in CSV_COLUMNS.items()}


def write_tables(tables: dict[str, pl.DataFrame], folder: Path) -> list[Path]:
    """Write the frames as kassa canonical CSVs (UTF-8, ISO dates, dot decimals, empty = no value)."""
    paths = []
    for name in FILES:
        path = folder / name
        tables[name.removesuffix(".csv")].write_csv(
            path,
            line_terminator="\n",
            null_value="",
            float_precision=2,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%d %H:%M:%S",
        )
        paths.append(path)
    return paths
