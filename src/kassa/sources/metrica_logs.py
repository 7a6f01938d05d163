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
ts                     ``ym:s:dateTime`` — the counter's time zone: moved into the business's when
                       the options (``--mapping``) name it as ``counter_timezone: Asia/Yekaterinburg``
                       (a sync names it from the counter's settings), else taken as the business's
utm_source … utm_term  ``ym:s:UTMSource``, ``UTMMedium``, ``UTMCampaign``, ``UTMContent``, ``UTMTerm``
                       (or the ``ym:s:lastUTM…`` / ``ym:s:lastsignUTM…`` variants)
referrer               ``ym:s:referer``
landing_page           ``ym:s:startURL``
click_id               ``yclid:<v>`` from ``ym:s:yclid`` (if your counter offers it) or the landing
                       page's ``yclid=``; else ``gclid:<v>`` from ``ym:s:lastGCLID``; else the first
                       of ``gclid``, ``gbraid``, ``wbraid``, ``fbclid``, ``vkclid``, ``rb_clickid`` in
                       the landing page URL
=====================  ===========================================================================

Visits bought in Yandex Direct without UTM tags still carry Metrica's own Direct attribution: when
``utm_campaign`` is empty and ``ym:s:lastDirectClickOrder`` (the Direct campaign id) is set — and
``ym:s:lastTrafficSource`` is ``ad`` if that field was exported — kassa fills ``utm_campaign`` with that
id and empty ``utm_source``/``utm_medium`` with ``yandex``/``cpc``, so the visit meets its campaign's
spend (Direct spend is keyed by campaign id too).

Files are read in chunks of :data:`CHUNK_BYTES` and handed to the warehouse batch by batch, so memory
stays bounded whatever the file's size. A file that is not clean UTF-8 TSV (re-saved by a spreadsheet,
a line with too many cells) is read by the general :mod:`kassa.sources.tabular` path instead, which
names each refused line. Re-importing the same or an overlapping log updates visits by ``visit_id``.
"""

from __future__ import annotations

import dataclasses
import io
import zoneinfo
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import yaml

from kassa.errors import ImportFailed, MissingColumn, RowError
from kassa.i18n import Translator
from kassa.schema import KINDS
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.text import detect_encoding, head_text, line_too_long
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import norm_name, read_table
from kassa.sources.validate import LINE, polars_type, validate

_ = Translator("sources")

CHUNK_BYTES = 8 * 2**20  # ~45,000 visits of a typical log
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
URL_CLICK_ID = rf"[?&#](?<name>{'|'.join(URL_CLICK_IDS)})=(?<value>[^&#\s]+)"


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


def _empty_null(s: pl.Expr) -> pl.Expr:
    """Logs API writes a missing value as an empty field (no "--" markers, no padding): empty -> null.

    Cheaper than the general ``tabular.nulls`` (no copy of every value), which matters at millions of rows;
    ``validate`` trims values anyway.
    """
    return pl.when(s.str.len_bytes() > 0).then(s)


def _counter_zone(ctx: ReadContext) -> str | None:
    """``counter_timezone`` of the options file, checked to be a time zone; None when not given."""
    if ctx.mapping is None:
        return None
    with open(ctx.mapping, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    zone = data.get("counter_timezone") if isinstance(data, dict) else None
    if not zone:
        return None
    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(
            _("{file}: counter_timezone «{zone}» is not a time zone", file=str(ctx.mapping), zone=zone)
        ) from None
    return str(zone)


def in_zone(ts: pl.Expr, counter: str, business: str) -> pl.Expr:
    """``YYYY-MM-DD HH:MM:SS`` of the counter's zone as the same instant in the business's.

    A value that is not such a timestamp (or an hour a DST change skipped) is left as it came, so the
    validation names it as the file has it.
    """
    moved = (
        ts.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
        .dt.replace_time_zone(counter, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone(business)
        .dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    return pl.coalesce(moved, ts).alias("ts")


def canonical(frame: pl.DataFrame, cols: dict[str, str]) -> pl.DataFrame:
    """A batch with the file's (normalised) column names -> canonical visit text columns + ``__line``.

    Built in steps that materialise what later steps reuse (the URL's click id, the empty-as-null
    text), so no expression is evaluated twice on a million rows.
    """
    # Undo escapes only in the columns of this batch that hold a backslash: five replacements over
    # every URL of a large batch would cost more than all the rest of the mapping.
    escaped = {c for c in _TEXT if c in cols and bool(frame[cols[c]].str.contains("\\", literal=True).any())}
    step = frame.select(
        pl.col(LINE),
        *[
            (unescape(_empty_null(pl.col(cols[c]))) if c in escaped else _empty_null(pl.col(cols[c]))).alias(
                c
            )
            if c in cols
            else pl.lit(None, dtype=pl.String).alias(c)
            for c in FIELDS
        ],
    )
    step = step.with_columns(
        pl.col("landing_page").str.extract_groups(URL_CLICK_ID).alias("__found"),
        *[pl.when(pl.col(k) != "0").then(pl.col(k)).alias(k) for k in ("yclid", "gclid", "direct_order")],
    )
    name, value = pl.col("__found").struct.field("name"), pl.col("__found").struct.field("value")
    in_url = pl.concat_str([name, pl.lit(":"), value])
    # One regex pass found the URL's click id (the first one, should a URL carry two).
    click = pl.coalesce(
        pl.lit("yclid:") + pl.col("yclid"),
        pl.when(name == "yclid").then(in_url),
        pl.lit("gclid:") + pl.col("gclid"),
        in_url,
    )
    direct = pl.col("direct_order").is_not_null() & pl.col("utm_campaign").is_null()
    if "traffic_source" in cols:
        direct = direct & (pl.col("traffic_source") == "ad")
    step = step.with_columns(direct.alias("__direct"), click.alias("click_id"))
    d = pl.col("__direct")
    return step.select(
        pl.col(LINE),
        "visit_id",
        "client_id",
        "ts",
        pl.when(d)
        .then(pl.col("utm_source").fill_null("yandex"))
        .otherwise(pl.col("utm_source"))
        .alias("utm_source"),
        pl.when(d)
        .then(pl.col("utm_medium").fill_null("cpc"))
        .otherwise(pl.col("utm_medium"))
        .alias("utm_medium"),
        pl.when(d).then(pl.col("direct_order")).otherwise(pl.col("utm_campaign")).alias("utm_campaign"),
        "utm_content",
        "utm_term",
        "referrer",
        "landing_page",
        "click_id",
    )


@SOURCES.register
class MetricaLogs:
    name = "metrica_logs"
    detect_priority = 80
    title = "Yandex Metrica Logs API, visits (ym:s:… TSV) → visits"
    spec_url = "https://yandex.ru/dev/metrika/ru/logs/fields/visits.md"

    def __init__(self, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes

    def detect(self, path: Path, head: bytes) -> bool:
        header = _header(path, head)
        return "ym:s:visitID" in header or "ym:s:visitid" in [h.lower() for h in header]

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        file = str(path)
        zone = _counter_zone(ctx)
        with open(path, "rb") as f:
            head = f.read(65536)
        header = _header(path, head)
        cols = _columns(header)
        missing = [FIELDS[c][0] for c in REQUIRED if c not in cols]
        if missing:
            raise MissingColumn(
                _(
                    "{file}: the Metrica log lacks field(s) {fields}; request them in the Logs API fields",
                    file=file,
                    fields=", ".join(missing),
                )
            )
        if (
            detect_encoding(head) == "utf-8"
            and len({norm_name(h) for h in header}) == len(header)
            and all(header)
        ):
            result = ReadResult(kind="visits", rows=_empty_visits(), errors=[], rows_read=0)
            result.rows = pa.RecordBatchReader.from_batches(
                _empty_visits().schema, self._stream(path, header, cols, ctx, result, zone)
            )
            return [result]
        # Not a clean Logs API file (re-encoded, odd header): the general reader, which names bad lines.
        table = read_table(
            path,
            [h for h in header if h],
            min_hits=len(REQUIRED),
            delimiter="\t",
            quote=None,
            format_title="Yandex Metrica Logs API",
            limits=ctx.settings.import_limits,
        )
        cols = _columns(table.header)
        result = ReadResult(
            kind="visits",
            rows=_empty_visits(),
            errors=list(table.errors),
            rows_read=len({e.line for e in table.errors}),
        )
        batches = list(self._validated([table.frame], cols, file, ctx, result, zone))
        result.rows = pa.Table.from_batches(batches, schema=_empty_visits().schema)
        return [result]

    def _batches(self, path: Path, header: list[str], line_chars: int) -> Iterator[pl.DataFrame]:
        """The file's data lines as text frames of about :data:`CHUNK_BYTES` each, with ``__line``.

        The file is read in plain chunks (``chunk_bytes``) cut at line ends (not memory-mapped), so memory holds one
        chunk whatever the file's size. Logs API lines never contain a raw newline (it is escaped as
        ``\\n``), so a record is a line and line numbers are exact; a blank line reads as a row of nulls.
        A line longer than ``line_chars`` characters (a file without line ends) is refused by its number
        rather than gathered whole into memory.
        """
        names = [norm_name(h) for h in header]
        schema = dict.fromkeys(names, pl.String())
        line = 2
        with open(path, "rb") as f:
            f.readline(4 * line_chars + 2)  # the header (the detection read it whole: it is shorter)
            rest = b""
            while True:
                block = f.read(self.chunk_bytes)
                data = rest + block
                if not block:
                    rest = b""
                elif b"\n" in block:
                    cut = data.rfind(b"\n") + 1
                    data, rest = data[:cut], data[cut:]
                else:
                    rest = data
                    # Bytes first (cheap); a UTF-8 character is 1-4 bytes, so only then count characters.
                    if len(rest) > line_chars and len(rest.decode("utf-8", "replace")) > line_chars:
                        raise line_too_long(str(path), line, line_chars)
                    continue
                if data:
                    frame = pl.read_csv(
                        io.BytesIO(data),
                        separator="\t",
                        quote_char=None,
                        has_header=False,
                        schema=schema,
                        encoding="utf8-lossy",
                        raise_if_empty=False,
                        truncate_ragged_lines=False,
                        # A short line gives nulls (validation names its missing fields) wherever it falls:
                        # without this, one that starts a chunk failed the whole file as "ragged".
                        missing_columns="insert",
                    )
                    yield frame.with_row_index(LINE, offset=line).with_columns(pl.col(LINE).cast(pl.Int64))
                    line += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                if not block:
                    return

    def _stream(
        self,
        path: Path,
        header: list[str],
        cols: dict[str, str],
        ctx: ReadContext,
        result: ReadResult,
        zone: str | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Validated Arrow batches of the file, read a chunk at a time."""
        try:
            batches = self._batches(path, header, ctx.settings.import_limits.line_chars)
            yield from self._validated(batches, cols, str(path), ctx, result, zone)
        except pl.exceptions.PolarsError:
            # polars stops at a line with more fields than the header, without saying which: find them.
            raise _ragged(path, len(header)) from None

    @staticmethod
    def _validated(
        batches: Iterable[pl.DataFrame],
        cols: dict[str, str],
        file: str,
        ctx: ReadContext,
        result: ReadResult,
        zone: str | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Map and validate each batch; refuse a visit_id seen in an earlier line of the file.

        ``result.errors`` and ``result.rows_read`` grow as batches are read and are sorted and complete
        when the iterator is exhausted.
        """
        schema = _empty_visits().schema
        stored = [n for n, _t in VISITS.stored_columns()]
        seen = _Seen()
        for batch in batches:
            # A blank line is not a visit (polars reads it as a row of nulls).
            batch = batch.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))
            result.rows_read += batch.height
            mapped = canonical(batch, cols)
            if zone and zone != ctx.settings.timezone:
                mapped = mapped.with_columns(in_zone(pl.col("ts"), zone, ctx.settings.timezone))
            good, bad = validate(mapped, _ROW_VISITS, file=file, settings=ctx.settings, salt=ctx.salt)
            result.errors.extend(bad)
            frame = pl.from_arrow(good)
            assert isinstance(frame, pl.DataFrame)
            frame, dups = seen.new_only(frame)
            for r in dups.iter_rows(named=True):
                result.errors.append(
                    RowError(
                        file,
                        r[LINE],
                        "visit_id",
                        r["visit_id"],
                        _(
                            "duplicate of line {line} (visit_id={value})",
                            line=r["__first"],
                            value=r["visit_id"],
                        ),
                    )
                )
            yield from frame.select(stored).to_arrow().cast(schema).to_batches()
        result.errors.sort(key=lambda e: (e.line or 0, e.column or ""))


class _Seen:
    """The visit_ids of earlier batches, to refuse a visit the file repeats in a later chunk.

    Metrica's visitID is a UInt64: kept as 8 bytes plus its line (16 bytes a visit, ~80 MB for five
    million) in sorted runs that merge when two reach the same size (as in a log-structured merge
    tree), so checking a batch costs a binary search per run and the whole file O(n log n) — not a
    join against every id seen so far per batch. An id whose text is not a plain decimal number is
    kept as text, so equality stays exact.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys, their lines)
        self.texts: dict[str, int] = {}

    def _first_lines(self, keys: np.ndarray) -> np.ndarray:
        """Line of each key's earlier occurrence, or 0."""
        first = np.zeros(len(keys), dtype=np.int64)
        for run_keys, run_lines in self.runs:
            idx = np.searchsorted(run_keys, keys)
            inside = idx < len(run_keys)
            hit = np.zeros(len(keys), dtype=bool)
            hit[inside] = run_keys[idx[inside]] == keys[inside]
            first[hit] = run_lines[idx[hit]]
        return first

    def _add(self, keys: np.ndarray, lines: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.runs.append((keys[order], lines[order]))
        while len(self.runs) > 1 and len(self.runs[-1][0]) >= len(self.runs[-2][0]):
            (k2, l2), (k1, l1) = self.runs.pop(), self.runs.pop()
            k, ln = np.concatenate([k1, k2]), np.concatenate([l1, l2])
            order = np.argsort(k, kind="stable")
            self.runs.append((k[order], ln[order]))

    def new_only(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``frame`` without ids seen before, and the repeats (``__line``, ``visit_id``, ``__first``).

        ``frame`` has no repeated id within itself (``validate`` refused those already).
        """
        num = pl.col("visit_id").cast(pl.UInt64, strict=False)
        is_num = (num.is_not_null() & (num.cast(pl.String) == pl.col("visit_id"))).fill_null(False)
        flags = frame.select(is_num.alias("n"), num.alias("k"))
        numeric = flags["n"].to_numpy()
        keys = flags["k"].fill_null(0).to_numpy()
        lines = frame[LINE].to_numpy()
        first = np.zeros(frame.height, dtype=np.int64)
        first[numeric] = self._first_lines(keys[numeric])
        for i in np.flatnonzero(~numeric):
            first[i] = self.texts.get(frame["visit_id"][int(i)], 0)
        fresh = first == 0
        self._add(keys[numeric & fresh], lines[numeric & fresh])
        for i in np.flatnonzero(~numeric & fresh):
            self.texts[frame["visit_id"][int(i)]] = int(lines[i])
        marked = frame.with_columns(pl.Series("__first", first))
        repeats = marked.filter(pl.col("__first") > 0).select(LINE, "visit_id", "__first")
        return marked.filter(pl.col("__first") == 0).drop("__first"), repeats


def _ragged(path: Path, width: int) -> ImportFailed:
    """The refusal of a file whose lines do not all have the header's number of fields."""
    file = str(path)
    bad: list[RowError] = []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for i, line in enumerate(f, start=1):
            n = line.rstrip("\r\n").count("\t") + 1
            if n > width:
                bad.append(
                    RowError(
                        file, i, None, None, _("the line has {n} fields but the header has {m}", n=n, m=width)
                    )
                )
    return ImportFailed(
        _(
            "{file}: {count} line(s) have more fields than the header; the log looks damaged, nothing was imported",
            file=file,
            count=len(bad) or "some",
        ),
        bad,
    )


def _empty_visits() -> pa.Table:
    return pl.DataFrame(schema={n: polars_type(t) for n, t in VISITS.stored_columns()}).to_arrow()
