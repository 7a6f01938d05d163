"""Google Analytics 4 BigQuery export (events) -> ``visits``.

Format (https://support.google.com/analytics/answer/7029846 — BigQuery Export schema): the
``analytics_<property>.events_YYYYMMDD`` tables exported to a file, one event per record, either as
newline-delimited JSON (``bq extract --destination_format=NEWLINE_DELIMITED_JSON``; a JSON array of
events is accepted too) or Parquet (``--destination_format=PARQUET``). In JSON, INT64 values arrive as
strings.

One visit per session = per (``user_pseudo_id``, ``event_params.ga_session_id``):

* ``visit_id`` = ``<user_pseudo_id>.<ga_session_id>``; ``client_id`` = ``user_pseudo_id``;
* ``ts`` = the session's first ``event_timestamp`` (microseconds since 1970 UTC), converted into the
  business time zone;
* ``utm_*`` = the first non-empty value in the session, by event time, of
  ``collected_traffic_source.manual_source / manual_medium / manual_campaign_name / manual_content /
  manual_term`` (GA4 fills these from the URL's utm_ tags, usually on the session's first event), else
  of the event parameters ``source``, ``medium``, ``campaign``, ``content``, ``term`` (exports before
  ``collected_traffic_source`` existed). ``traffic_source`` is deliberately **not** used: it is the
  user's *first* acquisition, not this session's source;
* ``landing_page`` / ``referrer`` = ``page_location`` / ``page_referrer`` of the session's first event
  that has them;
* ``click_id`` = ``gclid:<v>`` from ``collected_traffic_source.gclid`` or the ``gclid`` parameter, else
  ``yclid:``, ``gclid:``, ``gbraid:``, ``wbraid:``, ``fbclid:`` found in the landing page URL.

An event without ``user_pseudo_id``, ``ga_session_id`` or a valid ``event_timestamp`` belongs to no
session and is reported as refused. Re-importing updates visits by ``visit_id``; a session that crosses
midnight is split over two daily tables, so export whole periods in one file (a later file holding
only the session's tail would replace its start).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from kassa.errors import ImportFailed, RowError
from kassa.i18n import Translator
from kassa.schema import KINDS
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.json_files import json_row_lines, json_text, load_json
from kassa.sources.helpers.text import decode, head_text
from kassa.sources.helpers.values import epoch_text, nulls
from kassa.sources.registry import SOURCES
from kassa.sources.validate import LINE, validate

_ = Translator("sources")

PARQUET_MAGIC = b"PAR1"
TRAFFIC = {
    "utm_source": ("manual_source", "source"),
    "utm_medium": ("manual_medium", "medium"),
    "utm_campaign": ("manual_campaign_name", "campaign"),
    "utm_content": ("manual_content", "content"),
    "utm_term": ("manual_term", "term"),
}
PLACEHOLDERS = ("(direct)", "(none)", "(not set)", "(organic)", "(referral)", "(data deleted)")
URL_CLICK_IDS = ("yclid", "gclid", "gbraid", "wbraid", "fbclid")
EVENT_COLUMNS = (
    "user",
    "session",
    "event_ts",
    *[f"{c}_{k}" for c in TRAFFIC for k in ("ct", "ep")],
    "gclid",
    "page_location",
    "page_referrer",
)


def _params(event: dict[str, Any]) -> dict[str, str | None]:
    """``event_params`` as key -> text of whichever ``*_value`` is set."""
    out: dict[str, str | None] = {}
    params = event.get("event_params")
    if not isinstance(params, list):
        return out
    for p in params:
        if not isinstance(p, dict) or not isinstance(p.get("key"), str):
            continue
        v = p.get("value")
        if not isinstance(v, dict):
            continue
        for k in ("string_value", "int_value", "double_value", "float_value"):
            if v.get(k) is not None:
                out[p["key"]] = json_text(v[k])
                break
    return out


def flatten(event: object) -> dict[str, str | None]:
    """The fields of one event that make up a visit, as text (see the module docstring)."""
    e = event if isinstance(event, dict) else {}
    params = _params(e)
    cts = e.get("collected_traffic_source")
    ct = cts if isinstance(cts, dict) else {}
    row: dict[str, str | None] = {
        "user": json_text(e.get("user_pseudo_id")),
        "session": params.get("ga_session_id"),
        "event_ts": json_text(e.get("event_timestamp")),
        "gclid": json_text(ct.get("gclid")) or params.get("gclid"),
        "page_location": params.get("page_location"),
        "page_referrer": params.get("page_referrer"),
    }
    for canon, (ct_key, ep_key) in TRAFFIC.items():
        row[f"{canon}_ct"] = json_text(ct.get(ct_key))
        row[f"{canon}_ep"] = params.get(ep_key)
    return row


@SOURCES.register
class GA4BigQuery:
    name = "ga4_bigquery"
    detect_priority = 90
    title = "Google Analytics 4 BigQuery export, events (JSON lines or Parquet) → visits"
    spec_url = "https://support.google.com/analytics/answer/7029846"

    def detect(self, path: Path, head: bytes) -> bool:
        if head.startswith(PARQUET_MAGIC):
            try:
                import pyarrow.parquet as pq

                names = set(pq.read_schema(path).names)
            except Exception:
                return False
            return {"user_pseudo_id", "event_timestamp", "event_params"} <= names
        text = head_text(head).lstrip()
        return text.startswith(("{", "[")) and '"user_pseudo_id"' in text and '"event_timestamp"' in text

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        with open(path, "rb") as f:
            head = f.read(65536)
        errors: list[RowError] = []
        if head.startswith(PARQUET_MAGIC):
            events = self._parquet_events(path)
        elif head_text(head).lstrip().startswith("["):
            doc, text = load_json(path)
            if not isinstance(doc, list):
                raise ImportFailed(_("{file}: not a list of GA4 events", file=str(path)))
            lines = json_row_lines(text, "event_timestamp", len(doc))
            events = iter(zip(lines, doc, strict=True))
        else:
            events = self._ndjson_events(path, errors)
        records: list[dict[str, str | None]] = []
        lines_of: list[int] = []
        for line, event in events:
            records.append(flatten(event))
            lines_of.append(line)
        return [self._visits(path, ctx, records, lines_of, errors)]

    @staticmethod
    def _ndjson_events(path: Path, errors: list[RowError]) -> Iterator[tuple[int, object]]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportFailed(
                _("{file}: cannot read the file ({reason})", file=str(path), reason=exc.strerror or str(exc))
            ) from None
        text, _enc = decode(data)
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                errors.append(
                    RowError(
                        str(path), i, None, line[:60], _("not a valid JSON event: {reason}", reason=reason)
                    )
                )
                continue
            yield i, event

    @staticmethod
    def _parquet_events(path: Path) -> Iterator[tuple[int, object]]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
            wanted = [
                c
                for c in ("user_pseudo_id", "event_timestamp", "event_params", "collected_traffic_source")
                if c in pf.schema_arrow.names
            ]
            n = 0
            for batch in pf.iter_batches(columns=wanted, batch_size=100_000):
                for event in batch.to_pylist():
                    n += 1
                    yield n, event
        except Exception as exc:  # pyarrow raises OSError, ArrowInvalid… on damaged files
            raise ImportFailed(
                _(
                    "{file}: not a readable Parquet file ({reason})",
                    file=str(path),
                    reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
            ) from None

    def _visits(
        self,
        path: Path,
        ctx: ReadContext,
        records: list[dict[str, str | None]],
        lines: list[int],
        errors: list[RowError],
    ) -> ReadResult:
        file = str(path)
        rows_read = len(records) + len({e.line for e in errors})  # events, plus lines that were not JSON
        events = pl.DataFrame(
            {**{c: [r.get(c) for r in records] for c in EVENT_COLUMNS}, LINE: lines},
            schema={**{c: pl.String() for c in EVENT_COLUMNS}, LINE: pl.Int64()},
        )
        # GA4 writes placeholders such as "(direct)" / "(not set)" where a session has no such value.
        events = events.with_columns(
            pl.when(nulls(pl.col(c)).is_in(list(PLACEHOLDERS)))
            .then(None)
            .otherwise(nulls(pl.col(c)))
            .alias(c)
            for c in EVENT_COLUMNS
        )
        us = pl.col("event_ts").cast(pl.Int64, strict=False)
        checks = [
            (
                "user_pseudo_id",
                pl.col("user").is_null(),
                pl.col("user"),
                _("the event has no user_pseudo_id"),
            ),
            (
                "event_params.ga_session_id",
                pl.col("session").is_null(),
                pl.col("session"),
                _("the event has no ga_session_id: it belongs to no session"),
            ),
            (
                "event_timestamp",
                us.is_null() | (us < 0),
                pl.col("event_ts"),
                _("not a timestamp in microseconds since 1970"),
            ),
        ]
        bad = pl.lit(False)
        for column, mask, value, reason in checks:
            for r in events.filter(mask).select(LINE, value.alias("v")).iter_rows(named=True):
                errors.append(RowError(file, r[LINE], column, r["v"], reason))
            bad = bad | mask
        good = events.filter(~bad).with_columns(us.alias("__us"))
        ordered = good.sort("__us", LINE)

        def first(expr: pl.Expr) -> pl.Expr:
            return expr.drop_nulls().first()

        url = pl.col("page_location")
        sessions = ordered.group_by("user", "session", maintain_order=True).agg(
            pl.col(LINE).min().alias(LINE),
            pl.col("event_ts").first().alias("ts"),
            *[first(pl.coalesce(pl.col(f"{c}_ct"), pl.col(f"{c}_ep"))).alias(c) for c in TRAFFIC],
            first(url).alias("landing_page"),
            first(pl.col("page_referrer")).alias("referrer"),
            first(pl.col("gclid")).alias("__gclid"),
        )
        landing = pl.col("landing_page")
        click = pl.coalesce(
            pl.lit("gclid:") + pl.col("__gclid"),
            *[pl.lit(f"{k}:") + landing.str.extract(rf"[?&#]{k}=([^&#\s]+)", 1) for k in URL_CLICK_IDS],
        )
        visits = sessions.select(
            pl.col(LINE),
            pl.concat_str([pl.col("user"), pl.lit("."), pl.col("session")]).alias("visit_id"),
            pl.col("user").alias("client_id"),
            epoch_text(pl.col("ts"), "us").alias("ts"),
            *[pl.col(c) for c in TRAFFIC],
            pl.col("referrer"),
            landing,
            click.alias("click_id"),
        )
        rows, row_errors = validate(visits, KINDS["visits"], file=file, settings=ctx.settings, salt=ctx.salt)
        errs = sorted([*errors, *row_errors], key=lambda e: (e.line or 0, e.column or ""))
        return ReadResult(kind="visits", rows=rows, errors=errs, rows_read=rows_read)
