"""Yandex Metrica Logs API, source ``visits`` -> ``visits``.

Format (https://yandex.ru/dev/metrika/ru/logs/fields/visits.md, https://yandex.ru/dev/metrika/ru/logs/):
a downloaded log part is UTF-8, tab-separated, its first line the requested field names (``ym:s:…``);
values are ClickHouse-TSV escaped (``\\t``, ``\\n``, ``\\\\``, ``\\'``), never quoted; one line per visit.

Fields read (request at least the first three; the others when you have them):

=====================  ===========================================================================
canonical              Logs API field
=====================  ===========================================================================
visit_id               ``ym:s:visitID`` (UInt64, unique within a year; kept as text)
client_id              ``ym:s:clientID`` (the ``_ym_uid`` cookie; kept as text)
ts                     ``ym:s:dateTime`` — the counter's time zone, taken as the business's
utm_source … utm_term  ``ym:s:UTMSource``, ``UTMMedium``, ``UTMCampaign``, ``UTMContent``, ``UTMTerm``
                       (or the ``ym:s:lastUTM…`` / ``ym:s:lastsignUTM…`` variants)
referrer               ``ym:s:referer``
landing_page           ``ym:s:startURL``
click_id               ``yclid:<v>`` from ``ym:s:yclid`` (if your counter offers it) or the landing
                       page's ``yclid=``; else ``gclid:<v>`` from ``ym:s:lastGCLID`` or the URL; else
                       the URL's ``gbraid``, ``wbraid``, ``fbclid``, ``vkclid``, ``rb_clickid``
=====================  ===========================================================================

Visits bought in Yandex Direct without UTM tags still carry Metrica's own Direct attribution: when
``utm_campaign`` is empty and ``ym:s:lastDirectClickOrder`` (the Direct campaign id) is set — and
``ym:s:lastTrafficSource`` is ``ad`` if that field was exported — kassa fills ``utm_campaign`` with that
id and empty ``utm_source``/``utm_medium`` with ``yandex``/``cpc``, so the visit meets its campaign's
spend (Direct spend is keyed by campaign id too).

Large files are read in batches of :data:`BATCH_ROWS` lines (polars' streaming CSV reader), so memory
follows the loaded rows, not the text. A file that is not clean UTF-8 TSV (re-saved by a spreadsheet,
a line with too many cells) is read by the general :mod:`kassa.sources.tabular` path instead, which
names each refused line. Re-importing the same or an overlapping log updates visits by ``visit_id``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

from kassa.errors import MissingColumn, RowError
from kassa.i18n import Translator
from kassa.schema import KINDS
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.tabular import detect_encoding, head_text, norm_name, nulls, read_table
from kassa.sources.validate import LINE, polars_type, validate

_ = Translator("sources")

BATCH_ROWS = 1_000_000
VISITS = KINDS["visits"]
# Validated batch by batch with the line kept, so duplicates across batches can still be named.
_ROW_VISITS = dataclasses.replace(VISITS, extra_stored=((LINE, "int"),))

FIELDS: dict[str, tuple[str, ...]] = {
    "visit_id": ("ym:s:visitID",),
    "client_id": ("ym:s:clientID",),
    "ts": ("ym:s:dateTime",),
    "utm_source": ("ym:s:UTMSource", "ym:s:lastUTMSource", "ym:s:lastsignUTMSource"),
    "utm_medium": ("ym:s:UTMMedium", "ym:s:lastUTMMedium", "ym:s:lastsignUTMMedium"),
    "utm_campaign": ("ym:s:UTMCampaign", "ym:s:lastUTMCampaign", "ym:s:lastsignUTMCampaign"),
    "utm_content": ("ym:s:UTMContent", "ym:s:lastUTMContent", "ym:s:lastsignUTMContent"),
    "utm_term": ("ym:s:UTMTerm", "ym:s:lastUTMTerm", "ym:s:lastsignUTMTerm"),
    "referrer": ("ym:s:referer",),
    "landing_page": ("ym:s:startURL",),
    "yclid": ("ym:s:yclid", "ym:s:lastYCLID"),
    "gclid": ("ym:s:lastGCLID", "ym:s:lastSignificantGCLID"),
    "direct_order": ("ym:s:lastDirectClickOrder", "ym:s:lastsignDirectClickOrder"),
    "traffic_source": ("ym:s:lastTrafficSource", "ym:s:lastsignTrafficSource", "ym:s:trafficSource"),
}
REQUIRED = ("visit_id", "client_id", "ts")
_TEXT = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "referrer", "landing_page")
URL_CLICK_IDS = ("yclid", "gclid", "gbraid", "wbraid", "fbclid", "vkclid", "rb_clickid")


def _header(path: Path, head: bytes) -> list[str]:
    text = head_text(head)
    first = text.split("\n", 1)[0].rstrip("\r")
    return [c.strip() for c in first.split("\t")]


def _columns(header: list[str]) -> dict[str, str]:
    """canonical name -> the file's column (normalised), for the fields the file has."""
    have = {norm_name(h) for h in header}
    out: dict[str, str] = {}
    for canon, names in FIELDS.items():
        for n in names:
            if norm_name(n) in have:
                out[canon] = norm_name(n)
                break
    return out


def unescape(s: pl.Expr) -> pl.Expr:
    """ClickHouse TSV escapes -> characters (``\\\\`` first hidden, so ``\\\\t`` stays a backslash and t)."""
    return (
        s.str.replace_all(r"\\", "\x00", literal=True)
        .str.replace_all(r"\t", "\t", literal=True)
        .str.replace_all(r"\n", "\n", literal=True)
        .str.replace_all(r"\'", "'", literal=True)
        .str.replace_all("\x00", "\\", literal=True)
    )


def url_param(url: pl.Expr, name: str) -> pl.Expr:
    return url.str.extract(rf"[?&#]{name}=([^&#\s]+)", 1)


def canonical(frame: pl.DataFrame, cols: dict[str, str]) -> pl.DataFrame:
    """A batch with the file's (normalised) column names -> canonical visit text columns + ``__line``."""

    def col(canon: str) -> pl.Expr:
        return nulls(pl.col(cols[canon])) if canon in cols else pl.lit(None, dtype=pl.String)

    text = {c: unescape(col(c)) if c in _TEXT else col(c) for c in FIELDS}
    url = text["landing_page"]
    nonzero = {k: pl.when(text[k] != "0").then(text[k]) for k in ("yclid", "gclid", "direct_order")}
    click = pl.coalesce(
        pl.lit("yclid:") + nonzero["yclid"],
        pl.lit("yclid:") + url_param(url, "yclid"),
        pl.lit("gclid:") + nonzero["gclid"],
        *[pl.lit(f"{k}:") + url_param(url, k) for k in URL_CLICK_IDS[1:]],
    )
    direct = nonzero["direct_order"].is_not_null() & text["utm_campaign"].is_null()
    if "traffic_source" in cols:
        direct = direct & (text["traffic_source"] == "ad")
    return frame.select(
        pl.col(LINE),
        text["visit_id"].alias("visit_id"),
        text["client_id"].alias("client_id"),
        text["ts"].alias("ts"),
        pl.when(direct).then(text["utm_source"].fill_null("yandex")).otherwise(text["utm_source"]).alias("utm_source"),
        pl.when(direct).then(text["utm_medium"].fill_null("cpc")).otherwise(text["utm_medium"]).alias("utm_medium"),
        pl.when(direct).then(nonzero["direct_order"]).otherwise(text["utm_campaign"]).alias("utm_campaign"),
        text["utm_content"].alias("utm_content"),
        text["utm_term"].alias("utm_term"),
        text["referrer"].alias("referrer"),
        url.alias("landing_page"),
        click.alias("click_id"),
    )


class MetricaLogs:
    name = "metrica_logs"
    title = "Yandex Metrica Logs API, visits (ym:s:… TSV) → visits"
    spec_url = "https://yandex.ru/dev/metrika/ru/logs/fields/visits.md"

    def detect(self, path: Path, head: bytes) -> bool:
        header = _header(path, head)
        return "ym:s:visitID" in header or "ym:s:visitid" in [h.lower() for h in header]

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        file = str(path)
        with open(path, "rb") as f:
            head = f.read(65536)
        header = _header(path, head)
        cols = _columns(header)
        missing = [FIELDS[c][0] for c in REQUIRED if c not in cols]
        if missing:
            raise MissingColumn(
                _("{file}: the Metrica log lacks field(s) {fields}; request them in the Logs API fields", file=file, fields=", ".join(missing))
            )
        fast = detect_encoding(head) == "utf-8" and len(set(header)) == len(header)
        if fast:
            try:
                batches = self._fast_batches(path, header)
                return [self._collect(batches, cols, file, ctx, [])]
            except pl.exceptions.PolarsError:
                pass  # not clean TSV: the general reader below names the bad lines
        table = read_table(path, [h for h in header if h], min_hits=len(REQUIRED), delimiter="\t", quote=None, format_title="Yandex Metrica Logs API")
        cols = _columns(table.header)
        return [self._collect(iter([table.frame]), cols, file, ctx, table.errors)]

    @staticmethod
    def _fast_batches(path: Path, header: list[str]) -> Iterator[pl.DataFrame]:
        lf = pl.scan_csv(
            path,
            separator="\t",
            quote_char=None,
            has_header=True,
            infer_schema=False,
            encoding="utf8",
            raise_if_empty=False,
        )
        lf = lf.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
        lf = lf.rename({h: norm_name(h) for h in header if h})
        # Collect the first batch eagerly inside read()'s try block: a malformed file fails here.
        it = iter(lf.collect_batches(chunk_size=BATCH_ROWS))
        first = next(it, None)

        def gen() -> Iterator[pl.DataFrame]:
            if first is not None:
                yield first
            yield from it

        return gen()

    def _collect(
        self, batches: Iterator[pl.DataFrame], cols: dict[str, str], file: str, ctx: ReadContext, errors: list[RowError]
    ) -> ReadResult:
        parts: list[pa.Table] = []
        errs = list(errors)
        rows_read = len({e.line for e in errors})
        for batch in batches:
            rows_read += batch.height
            good, bad = validate(canonical(batch, cols), _ROW_VISITS, file=file, settings=ctx.settings, salt=ctx.salt)
            parts.append(good)
            errs.extend(bad)
        stored = [n for n, _t in VISITS.stored_columns()]
        if not parts:
            return ReadResult(kind="visits", rows=_empty_visits(), errors=errs, rows_read=rows_read)
        table = pa.concat_tables(parts)
        del parts
        table, dup_errors = _drop_duplicates(table, file)
        errs.extend(dup_errors)
        errs.sort(key=lambda e: (e.line or 0, e.column or ""))
        return ReadResult(kind="visits", rows=table.select(stored), errors=errs, rows_read=rows_read)


def _empty_visits() -> pa.Table:
    return pl.DataFrame(schema={n: polars_type(t) for n, t in VISITS.stored_columns()}).to_arrow()


def _drop_duplicates(table: pa.Table, file: str) -> tuple[pa.Table, list[RowError]]:
    """Keep the first row of each visit_id across batches; report the others (validate did so within one)."""
    keys = pl.from_arrow(table.select(["visit_id", LINE]))
    assert isinstance(keys, pl.DataFrame)
    first = keys.with_columns(pl.col(LINE).min().over("visit_id").alias("__first"))
    dups = first.filter(pl.col(LINE) != pl.col("__first"))
    if dups.height == 0:
        return table, []
    errors = [
        RowError(file, r[LINE], "visit_id", r["visit_id"], _("duplicate of line {line} (visit_id={value})", line=r["__first"], value=r["visit_id"]))
        for r in dups.iter_rows(named=True)
    ]
    keep = (first[LINE] == first["__first"]).to_arrow()
    return table.filter(keep), errors
