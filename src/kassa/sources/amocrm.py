"""amoCRM / Kommo leads ("сделки"): API v4 JSON, and the web interface's CSV/XLSX export.

Spec: https://www.amocrm.ru/developers/content/crm_platform/leads-api (Kommo: the same API v4).

**API JSON** — the body of ``GET /api/v4/leads`` (``{"_embedded": {"leads": [...]}}``), or a JSON
array of such pages. Per lead: ``id``, ``status_id``, ``pipeline_id``, ``price`` (integer budget; the
float ``price_with_minor_units`` wins when present), ``created_at`` / ``closed_at`` (Unix seconds, UTC),
``responsible_user_id``, ``custom_fields_values`` (``[{field_id, field_name, field_code, values:
[{value}]}]``; the tracking fields ``UTM_SOURCE`` … ``UTM_TERM`` and ``_YM_UID`` — Metrica's ClientID —
are found by ``field_code``, other fields by the mapping's ``fields``), and ``_embedded.contacts``
(phones/e-mails are read when the contacts carry ``custom_fields_values`` with ``PHONE``/``EMAIL``;
the main contact's ``id``, else the first company's, is the ``customer_id``: ``amo:contact:<id>``).
Errors name the JSON record: ``line`` is the 1-based position of the lead in the file's lists.

**UI export** (Сделки → Экспорт) — CSV (UTF-8 with BOM or windows-1251, ``;`` or ``,``) or XLSX with
Russian headers: ``ID``, ``Этап сделки``, ``Бюджет`` (also ``Бюджет ₽``), ``Дата создания``,
``Дата закрытия`` (``dd.mm.yyyy HH:MM:SS``), ``Ответственный``, ``utm_source`` … ``utm_term``, and
phone/e-mail columns (any header containing "телефон" / "email"). No official column list exists; the
names follow third-party importers (docs/sources.md) — unknown columns are ignored.

One amoCRM lead is both kassa's lead and its deal: each becomes a ``leads`` row and, unless its stage
is mapped to ``deal: none``, a ``deals`` row; both ids are ``amo:<id>``. Status 142 ("Успешно
реализовано") is a won deal and 143 ("Закрыто и не реализовано") a lost one in every account; other
stages go through the stage mapping (:mod:`kassa.sources.crm_mapping`). An empty budget is 0.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kassa.errors import RowError
from kassa.i18n import Translator
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.crm_mapping import (
    CrmMapping,
    UnmappedStages,
    export_rows,
    is_json,
    json_records,
    load_crm_mapping,
    text,
    validated_results,
)
from kassa.sources.helpers.values import epoch_text, number_text, timestamp_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import header_of, read_table
from kassa.sources.validate import LINE

_ = Translator("sources")

WON, LOST = "142", "143"
WON_NAMES = {"успешно реализовано", "closed - won", "closed – won", "successfully realized"}
LOST_NAMES = {"закрыто и не реализовано", "closed - lost", "closed – lost", "closed and not realized"}

UTM_CODES = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

_JSON_HEAD = re.compile(rb'"_embedded"\s*:\s*\{\s*"leads"\s*:')

JSON_LABELS = {
    "lead_id": "id",
    "deal_id": "id",
    "created_at": "created_at",
    "closed_at": "closed_at",
    "status": "status_id",
    "amount": "price",
    "manager": "responsible_user_id",
    "client_id": "_YM_UID",
    "utm_source": "UTM_SOURCE",
    "utm_medium": "UTM_MEDIUM",
    "utm_campaign": "UTM_CAMPAIGN",
}


# UI export headers (Russian amoCRM, English Kommo) per field; names follow third-party importers.
EXPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("ID", "ID сделки", "Id"),
    "stage": ("Этап сделки", "Этап", "Stage", "Lead stage", "Status"),
    "budget": ("Бюджет", "Бюджет ₽", "Бюджет, ₽", "Бюджет руб.", "Бюджет, руб.", "Sale", "Budget"),
    "created": ("Дата создания", "Дата создания сделки", "Created", "Created at", "Date created"),
    "closed": ("Дата закрытия", "Дата закрытия сделки", "Closed", "Closed at", "Date closed"),
    "manager": ("Ответственный", "Ответственный пользователь", "Responsible user", "Responsible"),
    **{c: (c, c.upper(), c.replace("_", " ")) for c in UTM_CODES},
    "client_id": ("_ym_uid", "ym_uid"),
}
# A file is an amoCRM export when its header has an id, "Этап сделки" (Bitrix24 says "Стадия") and a budget.
EXPORT_SIGNATURE = (
    ("id",),
    ("этап сделки", "stage", "lead stage"),
    tuple(n.lower() for n in EXPORT_ALIASES["budget"]),
)
EXPORT_FIELDS = {
    "lead_id": "id",
    "deal_id": "id",
    "status": "stage",
    "amount": "budget",
    "created_at": "created",
    "closed_at": "closed",
    "manager": "manager",
    "client_id": "client_id",
    "phone": "PHONE",
    "email": "EMAIL",
    **{c: c for c in UTM_CODES},
}


def stage_outcome(
    stage_id: str | None, stage_name: str | None, mapping: CrmMapping, unmapped: UnmappedStages, line: int
) -> tuple[str | None, str | None]:
    """(lead status, deal status or ``"none"``) of an amoCRM stage; see the module docstring."""
    rule = mapping.stage(stage_id, stage_name)
    name = (stage_name or "").strip().casefold()
    if stage_id == WON or name in WON_NAMES:
        return (rule.lead if rule else "qualified"), "won"
    if stage_id == LOST or name in LOST_NAMES:
        return (rule.lead if rule else "qualified"), "lost"
    if rule is not None:
        return rule.lead, rule.deal or "open"
    shown = stage_id or stage_name
    if shown is None:
        return None, None  # refused by validate: status is required
    unmapped.add(shown, line)
    return "new", "open"


def _custom_fields(rec: dict[str, Any]) -> list[dict[str, Any]]:
    cfs = rec.get("custom_fields_values")
    return [c for c in cfs if isinstance(c, dict)] if isinstance(cfs, list) else []


def _first_value(cf: dict[str, Any]) -> str | None:
    values = cf.get("values")
    if isinstance(values, list):
        for v in values:
            if isinstance(v, dict) and text(v.get("value")) is not None:
                return text(v.get("value"))
    return None


def custom_field(rec: dict[str, Any], code: str, configured: str | None = None) -> str | None:
    """The value of the custom field with ``field_code`` ``code`` (or the user's field id/name)."""
    for cf in _custom_fields(rec):
        if configured is not None and configured.casefold() in {
            str(cf.get("field_id")).casefold(),
            str(cf.get("field_name") or "").strip().casefold(),
        }:
            return _first_value(cf)
    for cf in _custom_fields(rec):
        if str(cf.get("field_code") or "").upper() == code.upper():
            return _first_value(cf)
    return None


def _contact_value(rec: dict[str, Any], code: str) -> str | None:
    embedded = rec.get("_embedded")
    contacts = embedded.get("contacts") if isinstance(embedded, dict) else None
    if not isinstance(contacts, list):
        return None
    ordered = sorted((c for c in contacts if isinstance(c, dict)), key=lambda c: c.get("is_main") is not True)
    for c in ordered:
        v = custom_field(c, code)
        if v is not None:
            return v
    return None


def customer_of(rec: dict[str, Any]) -> str | None:
    """The CRM customer of a lead: its main contact (else its first), else its company
    (``amo:contact:7``, ``amo:company:3``) from ``_embedded``."""
    embedded = rec.get("_embedded")
    if not isinstance(embedded, dict):
        return None
    for key, kind in (("contacts", "contact"), ("companies", "company")):
        items = embedded.get(key)
        if not isinstance(items, list):
            continue
        ordered = sorted(
            (c for c in items if isinstance(c, dict)), key=lambda c: c.get("is_main") is not True
        )
        for c in ordered:
            ident = text(c.get("id"))
            if ident is not None:
                return f"amo:{kind}:{ident}"
    return None


@SOURCES.register
class AmoCRM:
    name = "amocrm"
    detect_priority = 10
    title = "amoCRM / Kommo leads: API v4 JSON (GET /api/v4/leads) or the CSV/XLSX export → leads + deals"
    spec_url = "https://www.amocrm.ru/developers/content/crm_platform/leads-api"

    def detect(self, path: Path, head: bytes) -> bool:
        if is_json(path, head):
            return _JSON_HEAD.search(head) is not None
        return self._export_header(path, head) is not None

    def _export_header(self, path: Path, head: bytes) -> list[str] | None:
        known = [n for names in EXPORT_ALIASES.values() for n in names]
        header = header_of(path, head, known, min_hits=3)
        if header is None or not all(any(n in header for n in group) for group in EXPORT_SIGNATURE):
            return None
        return header

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        mapping = load_crm_mapping(ctx.mapping)
        if is_json(path):
            return self._read_json(path, ctx, mapping)
        return self._read_export(path, ctx, mapping)

    def _read_export(self, path: Path, ctx: ReadContext, mapping: CrmMapping) -> list[ReadResult]:
        known = [n for names in EXPORT_ALIASES.values() for n in names]
        table = read_table(
            path, known, min_hits=3, format_title=self.title, limits=ctx.settings.import_limits
        )
        export = export_rows(table, EXPORT_ALIASES)
        unmapped = UnmappedStages(column=export.labels.get("stage", "stage"))
        leads: list[dict[str, Any]] = []
        deals: list[dict[str, Any]] = []
        for n, f in export.rows:
            lead_id = f"amo:{f['id']}" if f.get("id") is not None else None
            stage = f.get("stage")
            lead_status, deal_status = stage_outcome(None, stage, mapping, unmapped, n)
            leads.append(
                {
                    LINE: n,
                    "lead_id": lead_id,
                    "created_at": f.get("created"),
                    "client_id": f.get("client_id"),
                    **{c: f.get(c) for c in UTM_CODES},
                    "status": lead_status,
                    "manager": mapping.manager(f.get("manager")),
                    "phone": f.get("PHONE"),
                    "email": f.get("EMAIL"),
                }
            )
            if deal_status != "none":
                deals.append(
                    {
                        LINE: n,
                        "deal_id": lead_id,
                        "lead_id": lead_id,
                        "created_at": f.get("created"),
                        "status": deal_status,
                        "closed_at": f.get("closed") if deal_status in ("won", "lost") else None,
                        "amount": f.get("budget") or "0",
                    }
                )
        labels = {canon: export.labels[key] for canon, key in EXPORT_FIELDS.items() if key in export.labels}
        return validated_results(
            path,
            ctx,
            {"leads": leads, "deals": deals},
            labels=labels,
            convert={"created_at": timestamp_text, "closed_at": timestamp_text, "amount": number_text},
            extra_errors=table.errors + unmapped.warnings(str(path)),
        )

    def _read_json(self, path: Path, ctx: ReadContext, mapping: CrmMapping) -> list[ReadResult]:
        doc = json_records(path, key="_embedded", inner="leads")
        lines, positional = doc.lines("status_id")
        unmapped = UnmappedStages(column="status_id")
        refused: list[RowError] = []
        leads: list[dict[str, Any]] = []
        deals: list[dict[str, Any]] = []
        for n, rec in zip(lines, doc.records, strict=True):
            if not isinstance(rec, dict):
                refused.append(RowError(str(path), n, None, text(rec), _("not a JSON object")))
                continue
            ident = text(rec.get("id"))
            lead_id = f"amo:{ident}" if ident is not None else None
            lead_status, deal_status = stage_outcome(text(rec.get("status_id")), None, mapping, unmapped, n)
            created = text(rec.get("created_at"))
            utm = {c: custom_field(rec, c, mapping.fields.get(c)) for c in UTM_CODES}  # type: ignore[call-overload]
            customer = customer_of(rec)
            leads.append(
                {
                    LINE: n,
                    "lead_id": lead_id,
                    "created_at": created,
                    **utm,
                    "client_id": custom_field(rec, "_YM_UID", mapping.fields.get("client_id")),
                    "status": lead_status,
                    "manager": mapping.manager(text(rec.get("responsible_user_id"))),
                    "phone": _contact_value(rec, "PHONE"),
                    "email": _contact_value(rec, "EMAIL"),
                    "customer_id": customer,
                }
            )
            if deal_status != "none":
                closed = rec.get("closed_at")
                price = rec.get("price_with_minor_units")
                price = rec.get("price") if price is None else price
                deals.append(
                    {
                        LINE: n,
                        "deal_id": lead_id,
                        "lead_id": lead_id,
                        "created_at": created,
                        "status": deal_status,
                        # amoCRM writes 0 or null for "not closed"; an open deal's closed_at means nothing.
                        "closed_at": text(closed) if deal_status in ("won", "lost") and closed != 0 else None,
                        "amount": text(price) or "0",
                        "customer_id": customer,
                    }
                )
        return validated_results(
            path,
            ctx,
            {"leads": leads, "deals": deals},
            labels=JSON_LABELS,
            convert={"created_at": epoch_text, "closed_at": epoch_text},
            extra_errors=refused + unmapped.warnings(str(path)),
            positional=positional,
        )
