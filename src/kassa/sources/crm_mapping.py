"""The CRM stage mapping (``--mapping stages.yaml``) and what the CRM, bank and generic readers share.

A CRM's pipeline stages are the account's own (amoCRM ``status_id`` 2030 "Переговоры", Bitrix24
``C1:PREPARATION``); kassa needs to know, for each, the lead status (``new`` | ``qualified`` | ``junk``)
and whether a deal exists at that stage (``open``, or ``none`` when the stage is still a bare request).
The user writes that once in a small YAML file::

    # stages.yaml — keys are stage ids or stage names, as the CRM file shows them
    stages:
      "Первичный контакт": {lead: new, deal: none}
      "Переговоры":        {lead: qualified, deal: open}
      "Спам":              {lead: junk, deal: none}
      2030:                {lead: qualified}          # amoCRM status_id; deal defaults to open
    managers:                                         # optional: user id -> name shown in reports
      321123: Анна
    fields:                                           # optional: custom fields holding UTMs (id or name)
      utm_source: 1278898021

Stages every account shares need no entry: amoCRM 142/143 (won/lost), Bitrix24 ``WON``/``LOSE``
(also ``C<n>:WON``) and the ``STAGE_SEMANTIC_ID``/``STATUS_SEMANTIC_ID`` S/F/P flags. A stage that is
neither shared nor mapped is counted as lead ``new`` / deal ``open`` and reported once as a warning.

Why ``deal: none`` exists: kassa counts a lead as qualified when a deal was opened for it
(``metrics.compute``), and an amoCRM "сделка" is both the lead and the deal. Without ``none`` for the
early stages every amoCRM lead would have a deal and qualified leads would equal leads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kassa.errors import ImportFailed, RowError
from kassa.i18n import Translator
from kassa.schema import KINDS
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.json_files import frame_of_records, json_row_lines, json_text, load_json
from kassa.sources.helpers.values import nulls
from kassa.sources.tabular import TextTable, norm_name
from kassa.sources.validate import LINE, validate
from kassa.yamlfile import load_yaml_model

_ = Translator("sources")

LeadStatus = Literal["new", "qualified", "junk"]
DealStatus = Literal["open", "won", "lost", "none"]
UtmField = Literal["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "client_id"]


def _keys_as_text(v: Any) -> Any:
    # YAML reads `2030:` as an int key; stage and user ids are compared as text.
    if isinstance(v, dict):
        return {str(k).strip(): val for k, val in v.items()}
    return v


def _scalar_text(v: Any) -> Any:
    # Custom-field ids and user names may be written as numbers; anything else is left for pydantic to refuse.
    return str(v).strip() if isinstance(v, int | str) and not isinstance(v, bool) else v


class StageRule(BaseModel):
    """What one CRM stage means to kassa."""

    model_config = ConfigDict(extra="forbid")
    lead: LeadStatus = "new"
    # None: not said; the CRM's own meaning (won/lost stages) or ``open`` applies.
    deal: DealStatus | None = None


class CrmMapping(BaseModel):
    """The user's ``--mapping`` YAML for CRM files (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    stages: dict[str, StageRule] = Field(default_factory=dict)
    managers: dict[str, str] = Field(default_factory=dict)
    fields: dict[UtmField, str] = Field(default_factory=dict)

    @field_validator("stages", mode="before")
    @classmethod
    def _stage_keys_as_text(cls, v: Any) -> Any:
        return _keys_as_text(v)

    @field_validator("managers", mode="before")
    @classmethod
    def _manager_ids_as_text(cls, v: Any) -> Any:
        return {k: _scalar_text(val) for k, val in _keys_as_text(v).items()} if isinstance(v, dict) else v

    @field_validator("fields", mode="before")
    @classmethod
    def _field_ids_as_text(cls, v: Any) -> Any:
        return {k: _scalar_text(val) for k, val in v.items()} if isinstance(v, dict) else v

    def stage(self, *keys: str | None) -> StageRule | None:
        """The rule for the first of ``keys`` (stage id, then name) the mapping names; case-insensitive."""
        folded = {k.casefold(): r for k, r in self.stages.items()}
        for k in keys:
            if k is not None and k.strip().casefold() in folded:
                return folded[k.strip().casefold()]
        return None

    def manager(self, user: str | None) -> str | None:
        if user is None:
            return None
        return self.managers.get(user, user)


def load_crm_mapping(path: Path | None) -> CrmMapping:
    """The mapping from ``path`` (validated; errors name file:line and field), or an empty one."""
    return CrmMapping() if path is None else load_yaml_model(path, CrmMapping)


@dataclass
class UnmappedStages:
    """Stages met that neither the CRM's shared meaning nor the mapping explains (reported once each)."""

    column: str
    with_deal: bool = True  # False for CRM leads that have no deal part (Bitrix24 leads)
    first_line: dict[str, int] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)

    def add(self, stage: str, line: int) -> None:
        self.first_line.setdefault(stage, line)
        self.count[stage] = self.count.get(stage, 0) + 1

    def warnings(self, file: str) -> list[RowError]:
        def reason(n: int) -> str:
            if self.with_deal:
                return _(
                    "stage not in the stage mapping: counted as a new lead with an open deal ({n} row(s)); "
                    "map it in a stages YAML given with --mapping (see docs/sources.md)",
                    n=n,
                )
            return _(
                "status not in the stage mapping: counted as a new lead ({n} row(s)); "
                "map it in a stages YAML given with --mapping (see docs/sources.md)",
                n=n,
            )

        return [
            RowError(file, self.first_line[s], self.column, s, reason(self.count[s]), row_kept=True)
            for s in sorted(self.first_line, key=lambda s: self.first_line[s])
        ]


# -- reading values ------------------------------------------------------------------------------------


def is_json(path: Path, head: bytes | None = None) -> bool:
    """True when the file's first non-blank byte (after a UTF-8 BOM) opens a JSON object or array:
    the CRM readers take JSON as an API response and anything else as a UI export."""
    if head is None:
        with open(path, "rb") as f:
            head = f.read(4096)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def text(v: Any) -> str | None:
    """A JSON value as trimmed text (``tabular.json_text``), empty text as None: ids and stages are compared."""
    t = json_text(v)
    return (t.strip() or None) if t is not None else None


@dataclass
class JsonRecords:
    """The records of an API response saved to a file, with the file's text to find their lines in."""

    records: list[Any]
    raw: str

    def lines(self, line_key: str) -> tuple[list[int], bool]:
        """Each record's line — the line of its ``line_key`` field (:func:`tabular.json_row_lines`) — and
        whether those are record numbers instead (compact JSON, or a record without the field)."""
        lines = json_row_lines(self.raw, line_key, len(self.records))
        return lines, lines == list(range(1, len(self.records) + 1))


def json_records(path: Path, *, key: str, inner: str | None = None) -> JsonRecords:
    """Records of an API response saved to ``path`` (or of a JSON array of responses, one per page).

    ``key`` is the list's key at the top (``result``), or holds it under ``inner`` (amoCRM:
    ``_embedded.leads``); a page without that list refuses the file.
    """
    data, raw = load_json(path)
    pages = data if isinstance(data, list) else [data]
    out: list[Any] = []
    for i, page in enumerate(pages, start=1):
        holder = page.get(key) if isinstance(page, dict) else None
        if inner is not None:
            holder = holder.get(inner) if isinstance(holder, dict) else None
        if not isinstance(holder, list):
            where = f"{key}.{inner}" if inner else key
            raise ImportFailed(
                _(
                    "{file}: response {page} has no list {where}; is this the right export?",
                    file=path,
                    page=i,
                    where=where,
                )
            )
        out.extend(holder)
    return JsonRecords(out, raw)


PHONE_WORDS = ("телефон", "phone")
EMAIL_WORDS = ("email", "e-mail", "почта")


@dataclass
class ExportRows:
    """The rows of a CRM's CSV/XLSX export keyed by the reader's own field names (REST codes)."""

    rows: list[tuple[int, dict[str, str | None]]]
    labels: dict[str, str]  # field -> header as the file writes it, for error messages


def export_rows(table: TextTable, aliases: Mapping[str, tuple[str, ...]]) -> ExportRows:
    """Pick each field's column by its aliases (first present wins) plus ``PHONE``/``EMAIL``.

    Phone and e-mail are the first non-empty cell among columns whose header mentions a phone
    ("Рабочий телефон (контакт)") or an e-mail; a cell listing several keeps the first.
    """
    cols = table.frame.columns
    original = dict(zip([c for c in cols if c != LINE], table.header, strict=False))
    picked: dict[str, str] = {}
    for key, names in aliases.items():
        found = next((norm_name(n) for n in names if norm_name(n) in cols), None)
        if found is not None:
            picked[key] = found
    phones = [c for c in cols if c != LINE and any(w in c for w in PHONE_WORDS)]
    emails = [c for c in cols if c != LINE and any(w in c for w in EMAIL_WORDS)]
    frame = table.frame.select(
        pl.col(LINE),
        *[nulls(pl.col(c)).alias(k) for k, c in picked.items()],
        pl.coalesce([nulls(pl.col(c)) for c in phones] or [pl.lit(None, pl.String)])
        .str.replace(r"[,;].*$", "")
        .str.strip_chars()
        .alias("PHONE"),
        pl.coalesce([nulls(pl.col(c)) for c in emails] or [pl.lit(None, pl.String)])
        .str.replace(r"[,;].*$", "")
        .str.strip_chars()
        .alias("EMAIL"),
    )
    rows = [(int(r.pop(LINE)), r) for r in frame.iter_rows(named=True)]
    labels = {k: original.get(c, c) for k, c in picked.items()}
    return ExportRows(rows, labels)


# -- from rows to validated tables ---------------------------------------------------------------------


def rows_frame(rows: list[dict[str, Any]], kind: str) -> pl.DataFrame:
    """The text frame validate() reads from row dicts that carry their ``__line``."""
    return frame_of_records(rows, [r[LINE] for r in rows], [c.name for c in KINDS[kind].columns])


def validated_results(
    path: Path,
    ctx: ReadContext,
    rows: Mapping[str, list[dict[str, Any]]],
    *,
    labels: Mapping[str, str] | None = None,
    convert: Mapping[str, Callable[[pl.Expr], pl.Expr]] | None = None,
    extra_errors: list[RowError] | None = None,
    positional: bool = False,
) -> list[ReadResult]:
    """Validate each kind's rows; errors name the source's field (``labels``: canonical -> source name).

    ``convert`` rewrites a column's local spelling into canonical text first (e.g.
    ``{"created_at": tabular.epoch_text}``). ``extra_errors`` (refused records, stage warnings) go
    with the first kind, and its rows read count the refused records too. With ``positional`` the
    line of an error is the 1-based record number in a JSON file's list, and the reason says so.
    """
    results: list[ReadResult] = []
    for i, (kind, kind_rows) in enumerate(rows.items()):
        frame = rows_frame(kind_rows, kind)
        frame = frame.with_columns(
            f(pl.col(c)).alias(c) for c, f in (convert or {}).items() if c in frame.columns
        )
        good, errors = validate(frame, KINDS[kind], file=str(path), settings=ctx.settings, salt=ctx.salt)
        rows_read = len(kind_rows)
        if i == 0 and extra_errors:
            errors = sorted([*extra_errors, *errors], key=lambda e: (e.line or 0, e.column or ""))
            rows_read += len({e.line for e in extra_errors if not e.row_kept})
        errors = [relabel(e, labels or {}, positional) for e in errors]
        results.append(ReadResult(kind=kind, rows=good, errors=errors, rows_read=rows_read))
    return results


def relabel(e: RowError, labels: Mapping[str, str], positional: bool = False) -> RowError:
    """``e`` naming the source's column (``labels``), and saying when its line is a JSON record number."""
    column = labels.get(e.column, e.column) if e.column else e.column
    reason = e.reason
    if positional and e.line is not None:
        reason = _("{reason} [JSON record {n}]", reason=reason, n=e.line)
    return RowError(e.file, e.line, column, e.value, reason, e.row_kept)
