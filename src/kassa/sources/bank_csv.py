"""A bank statement as CSV/XLSX (internet-bank "export to Excel") → canonical ``payments``, incoming only.

No standard exists: every bank names the columns its own way. kassa recognises the usual Russian and
English headers (below) and reads the file when it finds a date, an amount (or a credit column), a
payment purpose and the payer (name or INN). Anything else — or to override a guess — goes in a
mapping, ``kassa import FILE --format bank_csv --mapping bank.yaml``::

    columns:                      # field: the header in your file (all optional)
      date: "Дата операции"
      amount: "Сумма"              # signed: money in > 0, money out < 0
      credit: "Поступление"        # or a column of money in only (money out in another column)
      direction: "Тип операции"    # or a column saying Приход/Расход (Кредит/Дебет, Credit/Debit)
      payer: "Контрагент"
      payer_inn: "ИНН контрагента"
      purpose: "Назначение платежа"
      number: "Номер документа"
      currency: "Валюта"
    date_format: "%d.%m.%Y"        # optional; default: any spelling kassa knows
    dayfirst: true
    decimal: ","                  # optional; default: decided per value

Which rows are income: with a credit column, rows with a positive credit; else, with a direction
column, rows it marks as incoming; else rows with a positive amount. Outgoing rows are skipped, not
refused; a row whose amount cannot be read is kept as income so that it is refused and shown.

``payment_id`` = ``bank:`` + the first 20 hex digits of SHA-256 over the date, document number, amount
in kopecks, payer INN, payer and purpose (whitespace collapsed). A bank CSV has no id of its own;
these fields come out the same in every export that lists the payment, so re-imports and overlapping
periods replace instead of doubling. The purpose is part of it because many exports have no document
number, and two payments of one payer on one day for one amount then differ only in their purpose.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from kassa.errors import MissingColumn
from kassa.i18n import Translator
from kassa.schema import PAYMENTS
from kassa.sources.bank_1c import kopecks
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.crm_mapping import relabel
from kassa.sources.generic import DecimalMark, date_expr
from kassa.sources.helpers.values import nulls, number_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import TextTable, header_of, norm_name, read_table
from kassa.sources.validate import LINE, validate
from kassa.yamlfile import load_yaml_model

_ = Translator("sources")

BankField = Literal[
    "date", "amount", "credit", "direction", "payer", "payer_inn", "purpose", "number", "currency"
]

ALIASES: dict[str, tuple[str, ...]] = {
    "date": (
        "Дата операции",
        "Дата платежа",
        "Дата проводки",
        "Дата поступления",
        "Дата документа",
        "Дата",
        "Date",
        "Transaction date",
        "Posting date",
        "Value date",
    ),
    "amount": ("Сумма операции", "Сумма платежа", "Сумма", "Amount"),
    "credit": (
        "Поступление",
        "Приход",
        "Кредит",
        "Зачисление",
        "Сумма по кредиту",
        "Сумма поступления",
        "Credit",
        "Money in",
    ),
    "direction": ("Тип операции", "Направление", "Вид операции", "Direction"),
    "payer": (
        "Плательщик",
        "Контрагент",
        "Наименование контрагента",
        "Наименование плательщика",
        "Payer",
        "Counterparty",
    ),
    "payer_inn": ("ИНН плательщика", "ИНН контрагента", "ИНН", "Payer INN", "Counterparty INN", "INN"),
    "purpose": ("Назначение платежа", "Назначение", "Основание платежа", "Purpose", "Payment purpose"),
    "number": ("Номер документа", "№ документа", "Номер", "Document number", "Document No"),
    "currency": ("Валюта", "Currency"),
}
INCOMING_WORDS = {"приход", "поступление", "зачисление", "кредит", "credit", "in", "incoming"}
_KNOWN = [n for names in ALIASES.values() for n in names]
_SPACES = re.compile(r"\s+")


class BankCsvMapping(BaseModel):
    """The optional ``--mapping`` YAML of the bank CSV reader (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[BankField, str] = Field(default_factory=dict)
    date_format: str | None = None
    dayfirst: bool = True
    decimal: DecimalMark = "auto"


def _has(header: set[str], field: str) -> bool:
    return any(norm_name(n) in header for n in ALIASES[field])


def looks_like_bank_statement(header: list[str]) -> bool:
    """Date, money in, purpose and payer: the four things every statement row has (kassa's own
    payments CSV has ``payment_id`` and is left to the canonical reader)."""
    h = set(header)
    return (
        "payment_id" not in h
        and _has(h, "date")
        and (_has(h, "amount") or _has(h, "credit"))
        and _has(h, "purpose")
        and (_has(h, "payer") or _has(h, "payer_inn"))
    )


def payment_id(row: dict[str, Any]) -> str:
    parts = [
        row.get("paid_at"),
        row.get("number"),
        kopecks(row.get("amount")),
        row.get("payer_inn"),
        row.get("payer"),
        row.get("purpose"),
    ]
    key = "|".join(_SPACES.sub(" ", p or "").strip().casefold() for p in parts)
    return "bank:" + hashlib.sha256(key.encode()).hexdigest()[:20]


@SOURCES.register
class BankCSV:
    name = "bank_csv"
    detect_priority = 900
    title = "Bank statement as CSV/XLSX (date, amount, payer, INN, purpose; mapping optional) → payments (incoming only)"
    spec_url = "docs/sources.md"

    def detect(self, path: Path, head: bytes) -> bool:
        header = header_of(path, head, _KNOWN, min_hits=3)
        return header is not None and looks_like_bank_statement(header)

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        m = load_yaml_model(ctx.mapping, BankCsvMapping) if ctx.mapping else BankCsvMapping()
        table = read_table(
            path,
            [*_KNOWN, *m.columns.values()],
            min_hits=3,
            format_title=self.title,
            limits=ctx.settings.import_limits,
        )
        cols, labels = self._columns(table, m, path)
        f = table.frame
        num = {k: number_text(pl.col(cols[k]), m.decimal) for k in ("amount", "credit", "debit") if k in cols}
        text = {
            k: nulls(pl.col(cols[k]))
            for k in ("payer", "payer_inn", "purpose", "number", "currency", "direction")
            if k in cols
        }
        if "credit" in num:
            amount = num["credit"]
            incoming = amount.is_not_null()
        else:
            amount = num["amount"]
            if "direction" in text:
                incoming = text["direction"].str.to_lowercase().is_in(list(INCOMING_WORDS))
                amount = amount.str.strip_prefix("-")  # some banks sign outgoing amounts as well
            else:
                incoming = ~amount.str.starts_with("-")
        # Unreadable amounts stay (validate refuses them, quoting the cell); zero and money out go.
        readable = amount.str.contains(r"^-?\d+(\.\d+)?$")
        keep = incoming.fill_null(False) & (~readable | (amount.cast(pl.Float64, strict=False) > 0))
        frame = f.select(
            pl.col(LINE),
            date_expr(pl.col(cols["date"]), m.date_format, m.dayfirst).alias("paid_at"),
            amount.alias("amount"),
            *[e.alias(k) for k, e in text.items() if k != "direction"],
        ).filter(f.select(keep.alias("k")).to_series())
        rows = frame.to_dicts()
        frame = frame.with_columns(pl.Series("payment_id", [payment_id(r) for r in rows], dtype=pl.String))
        good, errors = validate(frame, PAYMENTS, file=str(path), settings=ctx.settings, salt=ctx.salt)
        errors = [relabel(e, labels) for e in [*table.errors, *errors]]
        return [
            ReadResult(kind="payments", rows=good, errors=errors, rows_read=frame.height + len(table.errors))
        ]

    def _columns(
        self, table: TextTable, m: BankCsvMapping, path: Path
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Field -> frame column (the mapping's header first, else the first alias present), and error labels."""
        present = dict(zip(table.frame.columns, table.header, strict=False))
        cols: dict[str, str] = {}
        for field, names in ALIASES.items():
            wanted = [m.columns[field]] if field in m.columns else list(names)
            hit = next((norm_name(n) for n in wanted if norm_name(n) in present), None)
            if hit is not None:
                cols[field] = hit
        named_missing = [h for f, h in m.columns.items() if f not in cols]
        if named_missing or "date" not in cols or not ({"amount", "credit"} & set(cols)):
            looked = named_missing or [
                f"{f} ({' / '.join(ALIASES[f])})"
                for f in ("date", "amount")
                if f not in cols and not (f == "amount" and "credit" in cols)
            ]
            raise MissingColumn(
                _(
                    "{file}: bank statement lacks column(s): {missing} (name them in a --mapping YAML; see docs/sources.md)",
                    file=path,
                    missing="; ".join(looked),
                )
            )
        field_to_canon = {"date": "paid_at", "credit": "amount", "amount": "amount"}
        labels = {field_to_canon.get(f, f): present[c] for f, c in cols.items() if f != "direction"}
        if "credit" in cols:
            labels["amount"] = present[cols["credit"]]
        labels["payment_id"] = present[cols["number"]] if "number" in cols else "payment_id"
        return cols, labels
