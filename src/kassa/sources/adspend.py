"""What every ad-platform reader shares: the options a user can set, the campaign rule, and the step
from a frame of canonical text columns to validated, per-day-per-campaign ``spend`` rows.

Options (``kassa import FILE --mapping ads.yaml``), all optional; they exist because some facts are not
in the exported file itself::

    include_vat: true        # the costs in this file include VAT (Direct API: you asked IncludeVAT=YES)
    money_in_micros: false   # Direct API: you sent returnMoneyInMicros: false
    campaign: name           # utm_campaign of your ads holds the campaign name, not its id
    currency: RUB            # when the file does not name its currency

**Campaign rule.** ``spend.campaign`` must equal what the ads put in ``utm_campaign``, or spend and
visits never meet. The platforms' URL templates offer both the id (``{campaign_id}``, ``{{campaign.id}}``,
``{campaignid}``) and the name; kassa takes the **id when the file has one** (ids survive renaming, and
Yandex's recommended template uses ``utm_campaign={campaign_id}``), else the name; ``campaign: name``
or ``campaign: id`` forces one.

**Rows are summed per day and campaign.** Exports often carry finer rows (ad group, ad, keyword,
device); their impressions, clicks and cost add up to the campaign's. Reach does not add up across
rows, so a summed row keeps no reach. A row identical in every cell to an earlier one is a duplicate
of it and is refused (it would double the money).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator

from kassa.errors import MissingColumn, RowError
from kassa.i18n import Translator
from kassa.schema import KINDS
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.periods import spread_over_days
from kassa.sources.helpers.values import date_text, micros_text, nulls, number_text
from kassa.sources.tabular import TextTable, norm_name, pick_columns, read_table
from kassa.sources.validate import LINE, validate
from kassa.yamlfile import load_yaml_model

_ = Translator("sources")

SPEND_COLUMNS = ("date", "campaign", "impressions", "clicks", "cost", "reach", "currency")
# Validated row by row first (so every refused value names its own line), summed afterwards.
_ROW_SPEND = dataclasses.replace(
    KINDS["spend"], key=(*KINDS["spend"].key, LINE), extra_stored=((LINE, "int"),)
)


class AdOptions(BaseModel):
    """Facts about an ad export that the file does not state (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    include_vat: bool | None = None
    money_in_micros: bool | None = None
    campaign: Literal["id", "name"] | None = None
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 3 or not v.isalpha()):
            raise ValueError("currency must be a three-letter ISO 4217 code such as RUB")
        return None if v is None else v.upper()


def ad_options(ctx: ReadContext) -> AdOptions:
    return load_yaml_model(ctx.mapping, AdOptions) if ctx.mapping else AdOptions()


# Currency named in a column header: "Расход (руб.)", "Amount spent (USD)", "Cost (€)".
_HEADER_CURRENCY = (
    (r"руб|₽|\brub\b|\brur\b", "RUB"),
    (r"\busd\b|\$", "USD"),
    (r"\beur\b|€", "EUR"),
    (r"тенге|₸|\bkzt\b", "KZT"),
    (r"\bbyn\b|бел\. ?руб", "BYN"),
    (r"\buah\b|грн|₴", "UAH"),
    (r"\bgbp\b|£", "GBP"),
)


def currency_in(text: str) -> str | None:
    """ISO code of a currency named in a header or title, e.g. ``"Расход (руб.)"`` -> ``"RUB"``."""
    low = text.lower()
    # Belarusian roubles first: "бел. руб." also contains "руб".
    if re.search(r"\bbyn\b|бел\. ?руб", low):
        return "BYN"
    for pattern, code in _HEADER_CURRENCY:
        if re.search(pattern, low):
            return code
    return None


def vat_in(texts: list[str]) -> bool | None:
    """True/False when a header or title line says the amounts are with / without VAT."""
    for t in texts:
        low = norm_name(t)
        if re.search(r"без\s+ндс|excl(uding|\.)?\s+vat|without\s+vat|net\s+of\s+vat", low):
            return False
        if re.search(r"(с|включая|вкл\.)\s+ндс|incl(uding|\.)?\s+vat|with\s+vat", low):
            return True
    return None


def campaign_expr(columns: list[str], options: AdOptions, *, file: str, format_title: str) -> pl.Expr:
    """``campaign`` from ``campaign_id`` / ``campaign_name`` text columns by the campaign rule."""
    has_id, has_name = "campaign_id" in columns, "campaign_name" in columns
    if options.campaign == "id" and not has_id:
        raise MissingColumn(
            _(
                "{file}: campaign: id is set but the {format} export has no campaign id column",
                file=file,
                format=format_title,
            )
        )
    if options.campaign == "name" and not has_name:
        raise MissingColumn(
            _(
                "{file}: campaign: name is set but the {format} export has no campaign name column",
                file=file,
                format=format_title,
            )
        )
    if not has_id and not has_name:
        raise MissingColumn(
            _(
                "{file}: the {format} export has neither a campaign id nor a campaign name column",
                file=file,
                format=format_title,
            )
        )
    id_, name = pl.col("campaign_id") if has_id else None, pl.col("campaign_name") if has_name else None
    if options.campaign == "name":
        assert name is not None
        return name
    if options.campaign == "id":
        assert id_ is not None
        return id_
    if id_ is not None and name is not None:
        # Some rows (e.g. totals per campaign group) can lack the id; their name still identifies them.
        return pl.coalesce(pl.when(id_.str.strip_chars() != "").then(id_), name)
    return id_ if id_ is not None else name  # type: ignore[return-value]


def duplicate_rows(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, list[RowError]]:
    """Drop rows identical in every cell to an earlier row; report each as a duplicate of that line."""
    cells = [c for c in frame.columns if c != LINE]
    if not cells or frame.height < 2:
        return frame, []
    first = pl.col(LINE).min().over(cells)
    marked = frame.with_columns(first.alias("__first"))
    dups = marked.filter(pl.col(LINE) != pl.col("__first"))
    errors = [
        RowError(file, r[LINE], None, None, _("the same row as line {line}; counted once", line=r["__first"]))
        for r in dups.select(LINE, "__first").iter_rows(named=True)
    ]
    return marked.filter(pl.col(LINE) == pl.col("__first")).drop("__first"), errors


def dedupe(table: TextTable) -> TextTable:
    """The table without rows that repeat an earlier row cell for cell (each reported as refused)."""
    frame, errors = duplicate_rows(table.frame, table.file)
    return table.with_frame(frame, errors)


def spend_result(
    frame: pl.DataFrame,
    *,
    path: Path,
    ctx: ReadContext,
    channel: str,
    include_vat: bool,
    currency: str | None,
    errors: list[RowError] | None = None,
    rows_read: int | None = None,
) -> ReadResult:
    """Validate canonical text columns (``SPEND_COLUMNS`` + ``__line``), sum per day and campaign.

    ``currency``: the file's currency when it names one (a ``currency`` column, when present, wins
    row by row); else the business currency applies.
    """
    file = str(path)
    errs = list(errors or [])
    cols = [c for c in SPEND_COLUMNS if c in frame.columns]
    text = frame.select(
        pl.col(LINE),
        *[pl.col(c).cast(pl.String) for c in cols],
        pl.lit(channel).alias("channel"),
        pl.lit("true" if include_vat else "false").alias("vat_included"),
    )
    if currency is not None:
        cur = pl.col("currency").fill_null(currency) if "currency" in cols else pl.lit(currency)
        text = text.with_columns(cur.alias("currency"))
    rows, row_errors = validate(text, _ROW_SPEND, file=file, settings=ctx.settings, salt=ctx.salt)
    errs.extend(row_errors)
    typed = pl.from_arrow(rows)
    assert isinstance(typed, pl.DataFrame)
    stops = (
        frame.select(pl.col(LINE), pl.col("__stop").str.to_date("%Y-%m-%d", strict=False))
        if "__stop" in frame.columns
        else pl.DataFrame(schema={LINE: pl.Int64, "__stop": pl.Date})
    )
    typed, overlapping = spread_over_days(typed, stops.cast({LINE: typed.schema[LINE]}))
    errs.extend(
        RowError(
            file,
            line,
            "date",
            None,
            _("the row covers several days, some of which other rows of the campaign give too; refused"),
        )
        for line in overlapping
    )
    key = list(KINDS["spend"].key)
    summed = typed.group_by(key, maintain_order=True).agg(
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        pl.col("cost").sum(),
        pl.when(pl.len() == 1).then(pl.col("reach").first()).otherwise(None).alias("reach"),
        pl.col("currency").first(),
        pl.col("currency").n_unique().alias("__currencies"),
        pl.col("vat_included").first(),
        pl.col("spread_from").min(),
        pl.col("spread_to").max(),
        pl.col(LINE).min(),
    )
    mixed = summed.filter(pl.col("__currencies") > 1)
    for r in mixed.iter_rows(named=True):
        errs.append(
            RowError(
                file,
                r[LINE],
                "currency",
                None,
                _("rows of one day and campaign are in different currencies; refused"),
            )
        )
    good = summed.filter(pl.col("__currencies") <= 1).sort(LINE)
    stored = [n for n, _t in KINDS["spend"].stored_columns()]
    out = good.select(stored)
    errs.sort(key=lambda e: (e.line or 0, e.column or ""))
    return ReadResult(
        kind="spend",
        rows=out.to_arrow(),
        errors=errs,
        rows_read=frame.height if rows_read is None else rows_read,
    )


@dataclass(frozen=True)
class SpendLayout:
    """How one platform's tabular export spells the spend columns.

    ``columns`` maps canonical names (``date``, ``date_stop``, ``campaign_id``, ``campaign_name``,
    ``impressions``, ``clicks``, ``cost``, ``reach``, ``currency``) to the header names the export may
    use, first match wins; ``cost_prefixes`` also accept a cost column whose header starts with one of
    them and names the currency (``Amount spent (USD)``, ``Расход (руб.)``).
    """

    title: str
    columns: Mapping[str, Sequence[str]]
    cost_prefixes: Sequence[str] = ()
    micros: bool = False
    include_vat: bool = False  # when neither the file nor the options say
    decimal: str = "auto"
    dayfirst: bool = True
    delimiter: str | None = None
    quote: str | None = '"'
    # Columns a file must have; a missing count column (impressions, clicks) is then loaded as zero.
    required: Sequence[str] = ("date", "impressions", "clicks", "cost")

    def known(self) -> list[str]:
        return [n for names in self.columns.values() for n in names]

    def cost_column(self, columns: Sequence[str]) -> str | None:
        """The file's cost column: an exact alias, else the first header starting with a cost prefix."""
        for n in self.columns.get("cost", ()):
            if norm_name(n) in columns:
                return norm_name(n)
        for prefix in self.cost_prefixes:
            hits = [c for c in columns if c.startswith(norm_name(prefix))]
            plain = [c for c in hits if "всего" not in c and "total" not in c]
            if plain or hits:
                return (plain or hits)[0]
        return None


def read_spend_table(path: Path, ctx: ReadContext, layout: SpendLayout, channel: str) -> ReadResult:
    """Read a CSV/TSV/XLSX spend export laid out as ``layout`` into ``spend`` rows."""
    table = read_table(
        path,
        [*layout.known(), *layout.cost_prefixes],
        delimiter=layout.delimiter,
        quote=layout.quote,
        format_title=layout.title,
        limits=ctx.settings.import_limits,
    )
    return spend_from_table(table, ctx, layout, channel)


def spend_from_table(
    table: TextTable,
    ctx: ReadContext,
    layout: SpendLayout,
    channel: str,
    *,
    period: tuple[dt.date, dt.date] | None = None,
) -> ReadResult:
    """``period``: the whole period a report without a day column covers (its rows span it)."""
    options = ad_options(ctx)
    file = table.file
    cost_col = layout.cost_column(table.frame.columns)
    rows_read = table.rows_read
    table = dedupe(table)
    aliases = {k: v for k, v in layout.columns.items() if k != "cost"}
    # No cost column found: pick_columns then refuses the file naming every spelling looked for.
    aliases["cost"] = (
        (cost_col,)
        if cost_col
        else (*layout.columns.get("cost", ()), *[f"{p} (…)" for p in layout.cost_prefixes])
    )
    required = [c for c in layout.required if not (period and c == "date")]
    frame = pick_columns(table, aliases, required=required, file=file, format_title=layout.title)
    if period is not None and "date" not in frame.columns:
        frame = frame.with_columns(
            pl.lit(period[0].isoformat()).alias("date"), pl.lit(period[1].isoformat()).alias("date_stop")
        )
    vat = (
        options.include_vat
        if options.include_vat is not None
        else vat_in([*table.title_lines, *table.header])
    )
    currency = options.currency or (currency_in(cost_col) if cost_col else None)
    return spend_from_text(
        frame,
        path=Path(file),
        ctx=ctx,
        layout=layout,
        channel=channel,
        options=options,
        include_vat=layout.include_vat if vat is None else vat,
        currency=currency,
        errors=table.errors,
        rows_read=rows_read,
    )


def spend_from_api_frame(
    frame: pl.DataFrame, *, path: Path, ctx: ReadContext, layout: SpendLayout, channel: str, rows_read: int
) -> ReadResult:
    """An API response's records (as text columns) -> spend rows: the layout's VAT default unless
    the user's options say otherwise, and the options' currency."""
    options = ad_options(ctx)
    return spend_from_text(
        frame,
        path=path,
        ctx=ctx,
        layout=layout,
        channel=channel,
        options=options,
        include_vat=layout.include_vat if options.include_vat is None else options.include_vat,
        currency=options.currency,
        errors=[],
        rows_read=rows_read,
    )


def spend_from_text(
    frame: pl.DataFrame,
    *,
    path: Path,
    ctx: ReadContext,
    layout: SpendLayout,
    channel: str,
    options: AdOptions,
    include_vat: bool,
    currency: str | None,
    errors: list[RowError],
    rows_read: int,
) -> ReadResult:
    """Canonical-named text columns (local spellings) -> validated, summed ``spend`` rows.

    Empty impressions and clicks are zero (platforms leave them blank when nothing happened); an
    empty cost is refused. A row with ``date_stop`` after ``date`` covers several days: it is spread over
    them (:mod:`kassa.sources.helpers.periods`), with one warning for the file.
    """
    file = str(path)
    errs = list(errors)
    for count in ("impressions", "clicks"):
        if count not in frame.columns:
            # Only a layout that does not require the column gets here (e.g. a Direct export without
            # Показы): the figure is unknown, stored as zero, and the user is told once.
            frame = frame.with_columns(pl.lit(None, pl.String).alias(count))
            errs.append(
                RowError(
                    file,
                    None,
                    count,
                    None,
                    _("the export has no {column} column; loaded as 0", column=count),
                    row_kept=True,
                )
            )
    money = micros_text(pl.col("cost")) if layout.micros else number_text(pl.col("cost"), layout.decimal)
    frame = frame.with_columns(
        date_text(pl.col("date"), dayfirst=layout.dayfirst),
        campaign_expr(frame.columns, options, file=file, format_title=layout.title).alias("campaign"),
        # Platforms leave a count blank (or "--") when nothing happened: that is zero, not unknown.
        number_text(pl.col("impressions"), layout.decimal).fill_null("0"),
        number_text(pl.col("clicks"), layout.decimal).fill_null("0"),
        money.alias("cost"),
        *([number_text(pl.col("reach"), layout.decimal)] if "reach" in frame.columns else []),
        *([nulls(pl.col("currency")).str.to_uppercase()] if "currency" in frame.columns else []),
    )
    if layout.micros:
        # validate() would take "12.5" for money; in a micros column it is a corrupt value.
        bad = frame.filter(pl.col("cost").is_not_null() & ~pl.col("cost").str.contains(r"^-?\d+\.\d{6}$"))
        for r in bad.iter_rows(named=True):
            errs.append(
                RowError(
                    file,
                    r[LINE],
                    "cost",
                    r["cost"],
                    _("not a whole number of micro-units (money × 1,000,000)"),
                )
            )
        frame = frame.filter(~pl.col(LINE).is_in(bad[LINE].implode()))
    if "date_stop" in frame.columns:
        # A row covering several days (Meta's Reporting starts/ends, a whole-period report) is spread
        # over its days (kassa.sources.helpers.periods); the file is told once that day rows are better.
        stop = date_text(pl.col("date_stop"), dayfirst=layout.dayfirst)
        frame = frame.with_columns(stop.alias("__stop"))
        spans = frame.filter(pl.col("__stop").is_not_null() & (pl.col("__stop") != pl.col("date")))
        if spans.height:
            first, last = spans["date"].min(), spans["__stop"].max()
            errs.append(
                RowError(
                    file,
                    None,
                    "date",
                    None,
                    _(
                        "{rows} row(s) cover more than a day ({first} … {last}): each is spread evenly over "
                        "its days — exact for any report period containing all of them, an estimate (marked ≈) "
                        "for one that cuts them. A report segmented by day is exact everywhere",
                        rows=spans.height,
                        first=first,
                        last=last,
                    ),
                    row_kept=True,
                )
            )
    return spend_result(
        frame,
        path=path,
        ctx=ctx,
        channel=channel,
        include_vat=include_vat,
        currency=currency,
        errors=errs,
        rows_read=rows_read,
    )
