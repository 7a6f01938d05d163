"""kassa's canonical tables: the one vocabulary every source maps to and every layer reads.

Kept at the package top (beside ``errors``) because sources validate against it, the store creates
tables from it and later layers read its column names; it imports nothing of kassa's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["str", "date", "timestamp", "int", "money", "bool", "count", "month"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    choices: tuple[str, ...] = ()
    doc: str = ""
    # Personal data: normalised and stored as a salted hash in ``<name>_hash`` unless the user opts in.
    personal: Literal["phone", "email", None] = None


@dataclass(frozen=True)
class Kind:
    """A canonical table: its columns, its natural key and how a re-import replaces older rows.

    ``policy``: ``"upsert"`` replaces rows with the same natural key; ``"replace_period"`` replaces
    every row of the same ``scope`` values (e.g. channel) within the dates the new file covers, so a
    corrected export of an overlapping period never doubles spend.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    policy: Literal["upsert", "replace_period"]
    date_column: str
    scope: tuple[str, ...] = ()
    doc: str = ""
    extra_stored: tuple[tuple[str, ColumnType], ...] = field(default=())

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def stored_columns(self) -> list[tuple[str, ColumnType]]:
        """Columns as they are stored in the warehouse (personal fields become ``*_hash``)."""
        out: list[tuple[str, ColumnType]] = []
        for c in self.columns:
            if c.personal:
                out.append((f"{c.name}_hash", "str"))
                out.append((c.name, "str"))  # raw value: stays empty unless store_personal_data is on
            else:
                out.append((c.name, c.type))
        out.extend(self.extra_stored)
        return out


LEAD_STATUSES = ("new", "qualified", "junk")
DEAL_STATUSES = ("open", "won", "lost")

SPEND = Kind(
    name="spend",
    doc="Ad spend per day, channel and campaign, as the ad platform reports it.",
    columns=(
        Column("date", "date"),
        Column("channel", "str", doc="kassa channel name, e.g. yandex_direct"),
        Column("campaign", "str", doc="equals utm_campaign of the visits it bought"),
        Column("impressions", "count"),
        Column("clicks", "count"),
        Column("cost", "money"),
        Column("reach", "count", required=False),
        Column("currency", "str", required=False, doc="ISO code; default: the business currency"),
        Column("vat_included", "bool", required=False, doc="default false: cost is net of VAT"),
        Column(
            "spread_from",
            "date",
            required=False,
            doc="first day of the whole-period report row this day's share was spread from (else empty)",
        ),
        Column("spread_to", "date", required=False, doc="last day of that report row"),
    ),
    key=("date", "channel", "campaign"),
    policy="replace_period",
    scope=("channel",),
    date_column="date",
)

ACTIVITIES = Kind(
    name="activities",
    doc="Marketing activity that is not bought per click: posts, newsletters, videos.",
    columns=(
        Column("date", "date"),
        Column("channel", "str"),
        Column("kind", "str", doc="post, newsletter, video, …"),
        Column("count", "count"),
        Column("cost", "money", required=False),
        Column("campaign", "str", required=False),
    ),
    key=("date", "channel", "kind", "campaign"),
    policy="replace_period",
    scope=("channel",),
    date_column="date",
)

VISITS = Kind(
    name="visits",
    doc="Site visits (sessions) with their traffic source.",
    columns=(
        Column("visit_id", "str"),
        Column("client_id", "str"),
        Column("ts", "timestamp"),
        Column("utm_source", "str", required=False),
        Column("utm_medium", "str", required=False),
        Column("utm_campaign", "str", required=False),
        Column("utm_content", "str", required=False),
        Column("utm_term", "str", required=False),
        Column("referrer", "str", required=False),
        Column("landing_page", "str", required=False),
        Column("click_id", "str", required=False),
    ),
    key=("visit_id",),
    policy="upsert",
    date_column="ts",
)

LEADS = Kind(
    name="leads",
    doc="Leads (requests, calls, forms) as the CRM holds them.",
    columns=(
        Column("lead_id", "str"),
        Column("created_at", "timestamp"),
        Column("client_id", "str", required=False),
        Column("utm_source", "str", required=False),
        Column("utm_medium", "str", required=False),
        Column("utm_campaign", "str", required=False),
        Column("status", "str", choices=LEAD_STATUSES),
        Column("manager", "str", required=False),
        Column("phone", "str", required=False, personal="phone"),
        Column("email", "str", required=False, personal="email"),
        Column("first_response_at", "timestamp", required=False),
        Column(
            "click_id",
            "str",
            required=False,
            doc="ad click id the lead came with, as in visits: yclid:…, gclid:…",
        ),
        Column(
            "customer_id",
            "str",
            required=False,
            doc="the CRM contact (or company) the record belongs to: one person or firm across leads and deals",
        ),
    ),
    key=("lead_id",),
    policy="upsert",
    date_column="created_at",
)

DEALS = Kind(
    name="deals",
    doc="Deals (sales opportunities) and their outcome.",
    columns=(
        Column("deal_id", "str"),
        Column("lead_id", "str"),
        Column("created_at", "timestamp"),
        Column("status", "str", choices=DEAL_STATUSES),
        Column("closed_at", "timestamp", required=False, doc="required when status is won or lost"),
        Column("amount", "money"),
        Column("gross_profit", "money", required=False),
        Column("currency", "str", required=False),
        Column(
            "invoice",
            "str",
            required=False,
            doc="invoice number(s) issued for the deal, as the bank purpose quotes them",
        ),
        Column(
            "payer_inn",
            "str",
            required=False,
            doc="INN the customer pays from (company requisites in the CRM)",
        ),
        Column(
            "customer_id",
            "str",
            required=False,
            doc="the CRM contact (or company) the record belongs to: one person or firm across leads and deals",
        ),
    ),
    key=("deal_id",),
    policy="upsert",
    date_column="created_at",
)

PAYMENTS = Kind(
    name="payments",
    doc="Money received on the bank account.",
    columns=(
        Column("payment_id", "str"),
        Column("paid_at", "timestamp"),
        Column("amount", "money"),
        Column("deal_id", "str", required=False),
        Column("invoice", "str", required=False),
        Column("payer_inn", "str", required=False),
        Column("purpose", "str", required=False),
        Column("currency", "str", required=False),
    ),
    key=("payment_id",),
    policy="upsert",
    date_column="paid_at",
)

FX_RATES = Kind(
    name="fx_rates",
    doc="Exchange rates: how many units of the business currency one unit of another currency was worth in a month.",
    columns=(
        Column("month", "month", doc="YYYY-MM (stored as the month's first day)"),
        Column("currency", "str", doc="ISO code, e.g. USD"),
        Column("rate", "money", doc="units of the business currency per 1 unit, e.g. 92.5"),
    ),
    key=("month", "currency"),
    policy="upsert",
    date_column="month",
)

KINDS: dict[str, Kind] = {k.name: k for k in (SPEND, ACTIVITIES, VISITS, LEADS, DEALS, PAYMENTS, FX_RATES)}
