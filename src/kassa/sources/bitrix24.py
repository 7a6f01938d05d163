"""Bitrix24 CRM leads and deals: REST ``crm.lead.list`` / ``crm.deal.list`` JSON, and the CSV/XLSX export.

Spec: https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-list.html (and ``crm-lead-list``).

**REST JSON** — the response body ``{"result": [...], "total": N, "next": 50}``, or a JSON array of
such pages. Every value is a string. Leads have ``STATUS_ID`` (and ``STATUS_SEMANTIC_ID``), deals
``STAGE_ID`` (``NEW``, ``C1:PREPARATION``, ``WON``/``LOSE`` or ``C<n>:WON``/``C<n>:LOSE``; and
``STAGE_SEMANTIC_ID`` P/S/F), ``OPPORTUNITY``, ``CURRENCY_ID``, ``DATE_CREATE`` (ISO 8601 with the
portal's offset), ``CLOSEDATE``, ``DATE_MODIFY``, ``LEAD_ID``, ``ASSIGNED_BY_ID``, ``UTM_SOURCE`` …
``UTM_TERM``, and the multi-fields ``PHONE``/``EMAIL`` (``[{"VALUE": …}]``) when selected. A record
with ``STAGE_ID`` is a deal, one with ``STATUS_ID`` a lead. Errors name the JSON record: ``line`` is
the 1-based position of the record in the file's ``result`` lists.

**Export** (CRM → Лиды/Сделки → Экспорт в CSV/Excel) — Russian headers (``ID``, ``Стадия сделки`` /
``Статус``, ``Сумма``, ``Валюта``, ``Дата создания``, ``Дата изменения``, ``Предполагаемая дата
закрытия``, ``Ответственный``, ``ID лида``, UTM columns, phone/e-mail columns) or the REST field codes
as headers. No official column list exists; see docs/sources.md.

Ids: ``b24:lead:<ID>`` and ``b24:deal:<ID>``. A deal without ``LEAD_ID`` (Bitrix24's "CRM without
leads" mode, or a deal entered by hand) is its own lead: it also becomes a ``leads`` row
``b24:deal:<ID>`` with the deal's UTMs, as amoCRM's leads are. Statuses: the semantic flags and
``WON``/``LOSE``/``JUNK``/``CONVERTED`` need no mapping; other stage codes go through the stage
mapping (:mod:`kassa.sources.crm_mapping`). A won or lost deal's ``closed_at`` is ``CLOSEDATE``
(else ``DATE_MODIFY``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

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
from kassa.sources.helpers.values import number_text, timestamp_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import header_of, read_table
from kassa.sources.validate import LINE

_ = Translator("sources")

# Bitrix24's built-in lead statuses (crm_status ENTITY_ID=STATUS) and open deal stages of pipeline 0.
LEAD_STATUSES = {
    "NEW": "new",
    "IN_PROCESS": "new",
    "PROCESSED": "new",
    "CONVERTED": "qualified",
    "JUNK": "junk",
}
OPEN_DEAL_STAGES = {"NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE"}

# Fail stages of pipeline 0 besides LOSE ("Анализ причины провала").
LOST_DEAL_STAGES = {"LOSE", "APOLOGY"}
# The default names the export shows instead of codes (Russian portal) [from memory of Bitrix24's
# defaults; custom names go through the mapping].
STAGE_NAMES = {
    "сделка успешна": "WON",
    "сделка провалена": "LOSE",
    "анализ причины провала": "APOLOGY",
    "новая": "NEW",
    "подготовка документов": "PREPARATION",
    "счёт на предоплату": "PREPAYMENT_INVOICE",
    "счет на предоплату": "PREPAYMENT_INVOICE",
    "в работе": "EXECUTING",
    "финальный счёт": "FINAL_INVOICE",
    "финальный счет": "FINAL_INVOICE",
}
STATUS_NAMES = {
    "не обработан": "NEW",
    "в работе": "IN_PROCESS",
    "обработан": "PROCESSED",
    "качественный лид": "CONVERTED",
    "некачественный лид": "JUNK",
}

UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

# Export headers per REST field: the Russian UI titles [from memory], and the codes themselves.
EXPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "ID": ("ID",),
    "STAGE_ID": ("Стадия сделки", "STAGE_ID"),
    "STATUS_ID": ("Статус лида", "Статус", "Стадия", "STATUS_ID"),
    "TITLE": ("Название сделки", "Название лида", "TITLE"),
    "OPPORTUNITY": ("Сумма", "Сумма сделки", "Возможная сумма сделки", "OPPORTUNITY"),
    "CURRENCY_ID": ("Валюта", "CURRENCY_ID"),
    "DATE_CREATE": ("Дата создания", "Создан", "DATE_CREATE"),
    "DATE_MODIFY": ("Дата изменения", "Изменен", "Изменён", "DATE_MODIFY"),
    "CLOSEDATE": ("Предполагаемая дата закрытия", "Дата закрытия", "CLOSEDATE"),
    "LEAD_ID": ("ID лида", "Лид", "LEAD_ID"),
    "ASSIGNED_BY_ID": ("Ответственный", "ASSIGNED_BY_ID"),
    "UTM_SOURCE": ("Рекламная система", "UTM Source", "utm_source", "UTM_SOURCE"),
    "UTM_MEDIUM": ("Тип трафика", "UTM Medium", "utm_medium", "UTM_MEDIUM"),
    "UTM_CAMPAIGN": ("Обозначение рекламной кампании", "UTM Campaign", "utm_campaign", "UTM_CAMPAIGN"),
    "UTM_CONTENT": ("Содержание кампании", "UTM Content", "utm_content", "UTM_CONTENT"),
    "UTM_TERM": ("Условие поиска кампании", "UTM Term", "utm_term", "UTM_TERM"),
    # [from memory of the export's titles; the codes themselves always work]
    "CONTACT_ID": ("Контакт: ID", "ID контакта", "CONTACT_ID"),
    "COMPANY_ID": ("Компания: ID", "ID компании", "COMPANY_ID"),
}
_DEAL_HEADERS = {"стадия сделки", "stage_id"}
_LEAD_HEADERS = {"название лида", "статус лида", "status_id"}
_FIELD_OF = {
    "lead_id": "ID",
    "deal_id": "ID",
    "created_at": "DATE_CREATE",
    "closed_at": "CLOSEDATE",
    "amount": "OPPORTUNITY",
    "currency": "CURRENCY_ID",
    "manager": "ASSIGNED_BY_ID",
    "phone": "PHONE",
    "email": "EMAIL",
    "customer_id": "CONTACT_ID",
    **{c: c.upper() for c in UTM},
}

_JSON_HEAD = re.compile(rb'"result"\s*:\s*\[')
_FIELDS_HEAD = re.compile(rb'"(STAGE_ID|STATUS_ID)"\s*:')

JSON_LABELS = {
    "lead_id": "ID",
    "deal_id": "ID",
    "created_at": "DATE_CREATE",
    "closed_at": "CLOSEDATE",
    "amount": "OPPORTUNITY",
    "currency": "CURRENCY_ID",
    "manager": "ASSIGNED_BY_ID",
    "utm_source": "UTM_SOURCE",
    "utm_medium": "UTM_MEDIUM",
    "utm_campaign": "UTM_CAMPAIGN",
}


def lead_outcome(
    code: str | None, semantic: str | None, mapping: CrmMapping, unmapped: UnmappedStages, line: int
) -> str | None:
    """kassa's lead status of a Bitrix24 lead status: the mapping, the semantic flag, then built-in codes."""
    rule = mapping.stage(code)
    if rule is not None:
        return rule.lead
    if semantic == "S":
        return "qualified"
    if semantic == "F":
        return "junk"
    if code is None:
        return None
    if code.upper() in LEAD_STATUSES:
        return LEAD_STATUSES[code.upper()]
    if semantic != "P":
        unmapped.add(code, line)
    return "new"


def deal_outcome(
    code: str | None, semantic: str | None, mapping: CrmMapping, unmapped: UnmappedStages, line: int
) -> tuple[str | None, str | None]:
    """(lead status, deal status or ``"none"``) of a Bitrix24 deal stage."""
    rule = mapping.stage(code)
    base = (code or "").rsplit(":", 1)[-1].upper()
    if base == "WON" or semantic == "S":
        return (rule.lead if rule else "qualified"), "won"
    if base in LOST_DEAL_STAGES or semantic == "F":
        return (rule.lead if rule else "qualified"), "lost"
    if rule is not None:
        return rule.lead, rule.deal or "open"
    if code is None:
        return None, None
    if semantic != "P" and base not in OPEN_DEAL_STAGES:
        unmapped.add(code, line)
    return "new", "open"


def _multi(rec: dict[str, Any], key: str) -> str | None:
    v = rec.get(key)
    if isinstance(v, list):
        for item in v:
            if isinstance(item, dict) and text(item.get("VALUE")) is not None:
                return text(item.get("VALUE"))
        return None
    return text(v)


def _present(v: str | None) -> str | None:
    # Bitrix writes "0" for "no linked lead".
    return None if v in (None, "0") else v


def customer_of(f: dict[str, str | None]) -> str | None:
    """The CRM customer of a lead or deal: its contact, else its company (``b24:contact:7``)."""
    contact, company = _present(f.get("CONTACT_ID")), _present(f.get("COMPANY_ID"))
    if contact is not None:
        return f"b24:contact:{contact}"
    return f"b24:company:{company}" if company is not None else None


@SOURCES.register
class Bitrix24:
    name = "bitrix24"
    detect_priority = 20
    title = "Bitrix24 leads and deals: REST crm.lead.list / crm.deal.list JSON or the CSV/XLSX export → leads, deals"
    spec_url = "https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-list.html"

    def detect(self, path: Path, head: bytes) -> bool:
        if is_json(path, head):
            return _JSON_HEAD.search(head) is not None and _FIELDS_HEAD.search(head) is not None
        header = header_of(path, head, _KNOWN, min_hits=3)
        return header is not None and "id" in header and bool(set(header) & (_DEAL_HEADERS | _LEAD_HEADERS))

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        mapping = load_crm_mapping(ctx.mapping)
        if not is_json(path):
            return self._read_export(path, ctx, mapping)
        doc = json_records(path, key="result")
        # A deal list's records each have one STAGE_ID, a lead list's one STATUS_ID: their lines are the records'.
        deal_list = any(isinstance(r, dict) and "STAGE_ID" in r for r in doc.records)
        lines, positional = doc.lines("STAGE_ID" if deal_list else "STATUS_ID")
        refused: list[RowError] = []
        dicts: list[tuple[int, dict[str, Any]]] = []
        for n, rec in zip(lines, doc.records, strict=True):
            if not isinstance(rec, dict):
                refused.append(RowError(str(path), n, None, text(rec), _("not a JSON object")))
            elif "STAGE_ID" not in rec and "STATUS_ID" not in rec:
                refused.append(
                    RowError(
                        str(path), n, "STAGE_ID", None, _("neither STAGE_ID (a deal) nor STATUS_ID (a lead)")
                    )
                )
            else:
                dicts.append((n, {str(k).upper(): v for k, v in rec.items()}))
        return self._build(
            path, ctx, mapping, [(n, {k: _field(r, k) for k in r}, r) for n, r in dicts], refused, positional
        )

    def _read_export(self, path: Path, ctx: ReadContext, mapping: CrmMapping) -> list[ReadResult]:
        table = read_table(
            path, _KNOWN, min_hits=3, format_title=self.title, limits=ctx.settings.import_limits
        )
        is_deal = bool(set(table.frame.columns) & _DEAL_HEADERS)
        # A deals export has no lead status column (and a leads export's "Стадия" is the status).
        aliases = {k: v for k, v in EXPORT_ALIASES.items() if k != ("STATUS_ID" if is_deal else "STAGE_ID")}
        export = export_rows(table, aliases)
        stage_key, names = ("STAGE_ID", STAGE_NAMES) if is_deal else ("STATUS_ID", STATUS_NAMES)
        records = []
        for n, f in export.rows:
            # Default stage names become their codes; other names stay names (the mapping may name them).
            shown = f.get(stage_key)
            f[stage_key] = names.get(shown.casefold(), shown) if shown is not None else None
            records.append((n, f, f))
        labels = {c: export.labels[k] for c, k in _FIELD_OF.items() if k in export.labels}
        labels.update({k: export.labels[k] for k in ("STAGE_ID", "STATUS_ID") if k in export.labels})
        labels["status"] = export.labels.get(stage_key, stage_key)
        return self._build(
            path,
            ctx,
            mapping,
            records,
            table.errors,
            False,
            labels,
            convert={"created_at": timestamp_text, "closed_at": timestamp_text, "amount": number_text},
        )

    def _build(
        self,
        path: Path,
        ctx: ReadContext,
        mapping: CrmMapping,
        records: list[tuple[int, dict[str, str | None], dict[str, Any]]],
        refused: list[RowError],
        positional: bool,
        labels: dict[str, str] = JSON_LABELS,
        convert: dict[str, Callable[[pl.Expr], pl.Expr]] | None = None,
    ) -> list[ReadResult]:
        """Leads and deals rows from records of REST field codes (``f``: text values; ``raw``: multi-fields)."""
        unmapped_deals = UnmappedStages(column=labels.get("STAGE_ID", "STAGE_ID"))
        unmapped_leads = UnmappedStages(column=labels.get("STATUS_ID", "STATUS_ID"), with_deal=False)
        leads: list[dict[str, Any]] = []
        deals: list[dict[str, Any]] = []
        for n, f, raw in records:
            ident = f.get("ID")
            utm = {c: f.get(mapping.fields.get(c, c).upper()) for c in UTM}  # type: ignore[call-overload]
            manager = mapping.manager(f.get("ASSIGNED_BY_ID"))
            client = f.get(mapping.fields["client_id"].upper()) if "client_id" in mapping.fields else None
            contact = {
                "phone": _multi(raw, "PHONE"),
                "email": _multi(raw, "EMAIL"),
                "customer_id": customer_of(f),
            }
            if "STAGE_ID" in f:
                lead_status, deal_status = deal_outcome(
                    f.get("STAGE_ID"), f.get("STAGE_SEMANTIC_ID"), mapping, unmapped_deals, n
                )
                deal_id = f"b24:deal:{ident}" if ident is not None else None
                linked = _present(f.get("LEAD_ID"))
                lead_id = f"b24:lead:{linked}" if linked is not None else deal_id
                if linked is None:
                    leads.append(
                        {
                            LINE: n,
                            "lead_id": deal_id,
                            "created_at": f.get("DATE_CREATE"),
                            "client_id": client,
                            **utm,
                            "status": lead_status,
                            "manager": manager,
                            **contact,
                        }
                    )
                if deal_status != "none":
                    closed = deal_status in ("won", "lost")
                    deals.append(
                        {
                            LINE: n,
                            "deal_id": deal_id,
                            "lead_id": lead_id,
                            "created_at": f.get("DATE_CREATE"),
                            "status": deal_status,
                            "closed_at": (f.get("CLOSEDATE") or f.get("DATE_MODIFY")) if closed else None,
                            "amount": f.get("OPPORTUNITY") or "0",
                            "currency": f.get("CURRENCY_ID"),
                            "customer_id": contact["customer_id"],
                        }
                    )
            else:
                status = lead_outcome(
                    f.get("STATUS_ID"), f.get("STATUS_SEMANTIC_ID"), mapping, unmapped_leads, n
                )
                leads.append(
                    {
                        LINE: n,
                        "lead_id": f"b24:lead:{ident}" if ident is not None else None,
                        "created_at": f.get("DATE_CREATE"),
                        "client_id": client,
                        **utm,
                        "status": status,
                        "manager": manager,
                        **contact,
                    }
                )
        rows = {k: v for k, v in (("leads", leads), ("deals", deals)) if v} or {"leads": []}
        return validated_results(
            path,
            ctx,
            rows,
            labels=labels,
            extra_errors=refused + unmapped_leads.warnings(str(path)) + unmapped_deals.warnings(str(path)),
            positional=positional,
            convert=convert,
        )


_KNOWN = [n for names in EXPORT_ALIASES.values() for n in names]


def _field(rec: dict[str, Any], key: str) -> str | None:
    v = rec.get(key)
    return None if isinstance(v, list) else text(v)
