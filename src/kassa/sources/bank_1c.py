"""Bank statements in the 1CClientBankExchange text format → canonical ``payments`` (incoming money only).

Spec: 1C "Стандарт обмена с системами «Клиент банка»", versions 1.01–1.03
(https://v8.1c.ru/tekhnologii/obmen-dannymi-i-integratsiya/standarty-i-formaty/standart-obmena-s-sistemami-klient-banka/formaty-obmena/,
field table http://v8.1c.ru/edi/edi_stnd/100/101.htm).

Layout: first line ``1CClientBankExchange``; header ``Key=Value`` lines (``РасчСчет=`` names the
statement's own accounts, repeatable); ``СекцияРасчСчет`` … ``КонецРасчСчет`` balance blocks;
``СекцияДокумент=<вид>`` … ``КонецДокумента`` per payment (any ``вид`` — платежное поручение,
банковский ордер, … — except the ``Выписка`` summary blocks some banks add); ``КонецФайла``. Keys may
come in any order, repeat (the first wins), carry spaces around the value; unknown keys are ignored.
Encoding is sniffed (UTF-8, windows-1251, cp866) — the ``Кодировка=`` line is not trusted. CRLF or LF.

Which documents are income: **the receiver's account (``ПолучательСчет``, else ``ПолучательРасчСчет``)
is one of the statement's own accounts and the payer's is not**. An own-account transfer has both
accounts ours and is not revenue; a payment from us has ours as the payer. When a document has no
receiver account, ``ДатаПоступило`` set and ``ДатаСписано`` empty decides (the bank fills
``ДатаПоступило`` only for money credited to the statement's account). Outgoing documents are skipped,
not refused. A file without any own account is a set of payment orders exported *to* the bank, not a
statement, and is refused; so is one whose every document is paid from its own account with no
``СекцияРасчСчет`` and no ``ДатаПоступило``/``ДатаСписано`` (1C writes ``РасчСчет=`` into payment
orders too; only a bank adds balances and credit/debit dates).

Control totals: each ``СекцияРасчСчет`` is reconciled with the documents (:func:`reconcile`); a
mismatch is a warning that ``--strict`` refuses, so money the statement counts but does not list is
never missed silently. A damaged header date is a warning; an import that loads nothing says why.

Row: ``paid_at`` = ``ДатаПоступило`` (else ``Дата``); ``amount`` = ``Сумма`` (rubles, dot decimals);
``payer_inn`` = ``ПлательщикИНН`` (else the INN written at the start of ``Плательщик``);
``purpose`` = ``НазначениеПлатежа`` verbatim (else its numbered lines joined); ``currency`` from the
ОКВ code in digits 6–8 of our account (810/643 RUB, 840 USD, 978 EUR, 156 CNY; else the business
currency). Invoices are not looked for in the purpose here.

``payment_id`` = ``1c:`` + the first 20 hex digits of SHA-256 over our account, ``Дата``, ``Номер``,
the amount in kopecks, the payer's INN and account. Why: a statement has no payment id of its own;
``Номер`` is the payer's document number, unique only per payer and year; these six fields are what
identify a payment order and they come out the same in every statement that lists it, so a re-export
or an overlapping period replaces instead of doubling.

Errors name the line of the offending field (``Сумма=…``), not only the document's first line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kassa.errors import ImportFailed, RowError
from kassa.i18n import Translator
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.crm_mapping import validated_results
from kassa.sources.helpers.text import decode
from kassa.sources.helpers.values import date_text
from kassa.sources.registry import SOURCES
from kassa.sources.validate import LINE

_ = Translator("sources")

MAGIC = "1CClientBankExchange"
CURRENCY_BY_OKV = {"810": "RUB", "643": "RUB", "840": "USD", "978": "EUR", "156": "CNY"}
SKIPPED_SECTIONS = {"выписка"}
_PLAIN_NUMBER = re.compile(r"^-?\d{1,20}(\.\d{1,10})?$")
CONTROL_TOTALS = ("НачальныйОстаток", "ВсегоПоступило", "ВсегоСписано", "КонечныйОстаток")
HEADER_DATES = ("ДатаСоздания", "ДатаНачала", "ДатаКонца")
_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_INN_IN_NAME = re.compile(r"^\s*(?:ИНН\s*)?(\d{10}|\d{12})\b")


@dataclass
class Document:
    kind: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def get(self, *keys: str) -> str | None:
        for k in keys:
            v = self.fields.get(k, "").strip()
            if v:
                return v
        return None

    def line_of(self, *keys: str) -> int:
        for k in keys:
            if k in self.lines and self.fields.get(k, "").strip():
                return self.lines[k]
        return self.line


@dataclass
class BalanceSection:
    """One ``СекцияРасчСчет`` block: an account's control totals for the statement's period."""

    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Statement:
    accounts: set[str]
    documents: list[Document]
    sections: list[BalanceSection] = field(default_factory=list)
    # Header (and balance block) dates as (field, value, line), checked by header_date_warnings.
    dates: list[tuple[str, str, int]] = field(default_factory=list)


def parse_statement(text: str, path: Path) -> Statement:
    """Split the file into its own accounts and documents; structural faults raise :class:`ImportFailed`."""
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None or lines[first].strip().lstrip("\ufeff") != MAGIC:
        raise ImportFailed(_("{file}, line 1: does not start with 1CClientBankExchange", file=path))
    accounts: set[str] = set()
    docs: list[Document] = []
    sections: list[BalanceSection] = []
    dates: list[tuple[str, str, int]] = []
    doc: Document | None = None
    section: BalanceSection | None = None
    ended = False
    for i in range(first + 1, len(lines)):
        n = i + 1
        line = lines[i].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if key == "СекцияДокумент":
            if doc is not None:
                raise ImportFailed(
                    _(
                        "{file}, line {line}: a new document starts before КонецДокумента of the one at line {start}",
                        file=path,
                        line=n,
                        start=doc.line,
                    )
                )
            doc = Document(kind=value.strip(), line=n)
        elif key == "КонецДокумента":
            if doc is None:
                raise ImportFailed(
                    _("{file}, line {line}: КонецДокумента without СекцияДокумент", file=path, line=n)
                )
            if doc.kind.casefold() not in SKIPPED_SECTIONS:
                docs.append(doc)
            doc = None
        elif key == "СекцияРасчСчет":
            section = BalanceSection(line=n)
            sections.append(section)
        elif key == "КонецРасчСчет":
            section = None
        elif key == "КонецФайла":
            if doc is not None:
                raise ImportFailed(
                    _(
                        "{file}, line {line}: КонецФайла inside the document that starts at line {start}",
                        file=path,
                        line=n,
                        start=doc.line,
                    )
                )
            ended = True
            break  # whatever a bank appends after the end marker is not part of the statement
        elif doc is not None:
            if sep:
                doc.fields.setdefault(key, value)
                doc.lines.setdefault(key, n)
        else:
            if section is not None and sep:
                section.fields.setdefault(key, value.strip())
                section.lines.setdefault(key, n)
            if key in HEADER_DATES and sep:
                dates.append((key, value.strip(), n))
            if key == "РасчСчет" and value.strip():
                # The header's and the balance blocks' РасчСчет are the statement's own accounts.
                accounts.add(value.strip())
    if doc is not None:
        raise ImportFailed(
            _(
                "{file}: the file ends inside the document that starts at line {start}; it may be cut short, export it again",
                file=path,
                start=doc.line,
            )
        )
    if not ended:
        raise ImportFailed(
            _("{file}: no КонецФайла line; the file may be cut short, export it again", file=path)
        )
    if not accounts:
        raise ImportFailed(
            _(
                "{file}: no РасчСчет line, so this is a set of payment orders for the bank, not a statement; "
                "export a statement (выписка) from the bank instead",
                file=path,
            )
        )
    if (
        docs
        and not sections
        and not any(d.get("ДатаПоступило", "ДатаСписано") for d in docs)
        and all(d.get("ПлательщикСчет", "ПлательщикРасчСчет") in accounts for d in docs)
    ):
        # 1C writes РасчСчет= into the header of payment orders too; a bank's statement has the
        # balance blocks or the dates the bank credited or debited each document, and money coming in.
        raise ImportFailed(
            _(
                "{file}: {count} payment order(s) for the bank, not a statement: every document is paid "
                "from {accounts}, with no СекцияРасчСчет balance block and no ДатаПоступило or ДатаСписано; "
                "export a statement (выписка) from the bank instead",
                file=path,
                count=len(docs),
                accounts=", ".join(sorted(accounts)),
            )
        )
    return Statement(accounts=accounts, documents=docs, sections=sections, dates=dates)


def kopecks(v: str | None) -> str:
    """An amount as whole kopecks ("25000" and "25000.00" alike) for payment ids; other text as is.

    Only plain decimals are converted: "1e999999999" would otherwise become a billion-digit integer.
    """
    if v is None or not _PLAIN_NUMBER.match(v):
        return v or ""  # still stable: the same text gives the same id
    return str(int((Decimal(v) * 100).to_integral_value()))


def payment_id(own: str, doc: Document, payer_inn: str | None) -> str:
    parts = [
        own,
        doc.get("Дата") or "",
        doc.get("Номер") or "",
        kopecks(doc.get("Сумма")),
        payer_inn or "",
        doc.get("ПлательщикСчет", "ПлательщикРасчСчет") or "",
    ]
    return "1c:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def is_incoming(doc: Document, own: set[str]) -> bool:
    """See the module docstring: receiver account ours and payer's not; else the credit/debit dates."""
    receiver = doc.get("ПолучательСчет", "ПолучательРасчСчет")
    payer = doc.get("ПлательщикСчет", "ПлательщикРасчСчет")
    if receiver is not None:
        return receiver in own and payer not in own
    return doc.get("ДатаПоступило") is not None and doc.get("ДатаСписано") is None


def payer_inn(doc: Document) -> str | None:
    inn = doc.get("ПлательщикИНН")
    if inn is not None:
        return inn
    m = _INN_IN_NAME.match(doc.get("Плательщик") or "")
    return m[1] if m else None


def purpose(doc: Document) -> str | None:
    whole = doc.get("НазначениеПлатежа")
    if whole is not None:
        return whole
    parts = [doc.get(f"НазначениеПлатежа{i}") for i in range(1, 7)]
    return " ".join(p for p in parts if p) or None


def amount(text: str | None) -> Decimal | None:
    """A statement amount (``2681831.46``) as a Decimal; None when empty or not a plain number."""
    if text is None:
        return None
    text = text.strip().replace(",", ".")
    return Decimal(text) if _PLAIN_NUMBER.match(text) else None


def money(v: Decimal) -> str:
    """An amount as the reconciliation messages show it: ``2 681 831.46``."""
    return f"{v:,.2f}".replace(",", " ")


def credited_account(doc: Document, own: set[str]) -> str | None:
    """Which of our accounts the document credits, if any (receiver ours; else ДатаПоступило)."""
    receiver = doc.get("ПолучательСчет", "ПолучательРасчСчет")
    if receiver in own:
        return receiver
    payer = doc.get("ПлательщикСчет", "ПлательщикРасчСчет")
    if payer not in own and len(own) == 1 and doc.get("ДатаПоступило") and not doc.get("ДатаСписано"):
        return next(iter(own))
    return None


def debited_account(doc: Document, own: set[str]) -> str | None:
    """Which of our accounts the document debits, if any (payer ours; else ДатаСписано)."""
    payer = doc.get("ПлательщикСчет", "ПлательщикРасчСчет")
    if payer in own:
        return payer
    receiver = doc.get("ПолучательСчет", "ПолучательРасчСчет")
    if receiver not in own and len(own) == 1 and doc.get("ДатаСписано") and not doc.get("ДатаПоступило"):
        return next(iter(own))
    return None


def reconcile(st: Statement, file: str) -> list[RowError]:
    """Each balance block's control totals against the documents (see docs/sources.md, bank_1c).

    ВсегоПоступило vs the documents crediting the account, ВсегоСписано vs those debiting it, and
    НачальныйОстаток + ВсегоПоступило − ВсегоСписано vs КонечныйОстаток. Mismatches are warnings that
    ``--strict`` refuses: money the statement counts but the file does not list is money kassa
    would silently miss.
    """
    credited: dict[str, Decimal] = {}
    debited: dict[str, Decimal] = {}
    for doc in st.documents:
        value = amount(doc.get("Сумма"))
        if value is None:
            # The document's amount is refused (and named) row by row; no total can be checked then.
            return []
        if (to := credited_account(doc, st.accounts)) is not None:
            credited[to] = credited.get(to, Decimal(0)) + value
        if (of := debited_account(doc, st.accounts)) is not None:
            debited[of] = debited.get(of, Decimal(0)) + value
    out: list[RowError] = []
    for sec in st.sections:
        account = sec.fields.get("РасчСчет", "")
        totals = {k: amount(sec.fields.get(k)) for k in CONTROL_TOTALS}
        for key, listed, what in (
            ("ВсегоПоступило", credited.get(account, Decimal(0)), _("credited to the account")),
            ("ВсегоСписано", debited.get(account, Decimal(0)), _("debited from the account")),
        ):
            said = totals[key]
            if said is None or said == listed:
                continue
            out.append(
                RowError(
                    file,
                    sec.lines.get(key, sec.line),
                    key,
                    sec.fields.get(key),
                    _(
                        "account {account}: the statement says {key}={said} but its documents {what} "
                        "total {listed}; documents are missing — the file is an excerpt, was "
                        "filtered at export (by counterparty or kind of document), or is broken; export "
                        "the full statement for the period again",
                        account=account,
                        key=key,
                        said=money(said),
                        what=what,
                        listed=money(listed),
                    )
                    if listed < said
                    else _(
                        "account {account}: the statement says {key}={said} but its documents {what} "
                        "total {listed}, more than the statement counts; the file is broken or "
                        "joins several statements: export the statement for the period again",
                        account=account,
                        key=key,
                        said=money(said),
                        what=what,
                        listed=money(listed),
                    ),
                    row_kept=True,
                    refused_when_strict=True,
                )
            )
        opening, came, went, closing = (totals[k] for k in CONTROL_TOTALS)
        if None not in (opening, came, went, closing):
            assert opening is not None and came is not None and went is not None and closing is not None
            if opening + came - went != closing:
                out.append(
                    RowError(
                        file,
                        sec.lines.get("КонечныйОстаток", sec.line),
                        "КонечныйОстаток",
                        sec.fields.get("КонечныйОстаток"),
                        _(
                            "account {account}: НачальныйОстаток {opening} + ВсегоПоступило {came} − "
                            "ВсегоСписано {went} = {expected}, but КонечныйОстаток is {closing}; the "
                            "balance block does not add up, the file may be broken: export it again",
                            account=account,
                            opening=money(opening),
                            came=money(came),
                            went=money(went),
                            expected=money(opening + came - went),
                            closing=money(closing),
                        ),
                        row_kept=True,
                        refused_when_strict=True,
                    )
                )
    return out


def header_date_warnings(st: Statement, file: str) -> list[RowError]:
    """Header and balance-block dates that are not dd.mm.yyyy calendar dates: named, not ignored."""
    out = []
    for key, value, line in st.dates:
        m = _DATE.match(value)
        valid = False
        if m:
            try:
                dt.date(int(m[3]), int(m[2]), int(m[1]))
                valid = True
            except ValueError:
                pass
        if value and not valid:
            out.append(
                RowError(
                    file,
                    line,
                    key,
                    value,
                    _(
                        "a damaged date in the statement's header: not a dd.mm.yyyy date; the period it states is unknown"
                    ),
                    row_kept=True,
                )
            )
    return out


def nothing_loaded(st: Statement, file: str) -> RowError:
    """Why a statement loaded no payment: how many documents it read and why each kind was skipped."""
    own = st.accounts
    between = sum(1 for d in st.documents if credited_account(d, own) and debited_account(d, own))
    outgoing = sum(1 for d in st.documents if debited_account(d, own) and not credited_account(d, own))
    other = len(st.documents) - between - outgoing
    return RowError(
        file,
        None,
        None,
        None,
        _(
            "read {count} document(s) and loaded no payment: {outgoing} outgoing (paid from {accounts}), "
            "{between} between own accounts, {other} neither credited to nor debited from the statement's "
            "accounts; only money coming in from others is revenue",
            count=len(st.documents),
            outgoing=outgoing,
            accounts=", ".join(sorted(own)),
            between=between,
            other=other,
        ),
        row_kept=True,
    )


@SOURCES.register
class Bank1C:
    name = "bank_1c"
    detect_priority = 30
    title = "Bank statement, 1CClientBankExchange text (windows-1251) → payments (incoming only)"
    spec_url = "https://v8.1c.ru/tekhnologii/obmen-dannymi-i-integratsiya/standarty-i-formaty/standart-obmena-s-sistemami-klient-banka/formaty-obmena/"

    def detect(self, path: Path, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(MAGIC.encode())

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        text, _encoding = decode(path.read_bytes())
        st = parse_statement(text, path)
        rows: list[dict[str, Any]] = []
        # Where each canonical value came from: errors then name the field and its own line.
        sources: dict[int, dict[str, tuple[str, int]]] = {}
        for doc in st.documents:
            if not is_incoming(doc, st.accounts):
                continue
            own = doc.get("ПолучательСчет", "ПолучательРасчСчет") or min(st.accounts)
            inn = payer_inn(doc)
            paid_key = "ДатаПоступило" if doc.get("ДатаПоступило") else "Дата"
            rows.append(
                {
                    LINE: doc.line,
                    "payment_id": payment_id(own, doc, inn),
                    "paid_at": doc.get(paid_key),
                    "amount": doc.get("Сумма"),
                    "payer_inn": inn,
                    "purpose": purpose(doc),
                    "currency": CURRENCY_BY_OKV.get(own[5:8]) if len(own) == 20 else None,
                }
            )
            sources[doc.line] = {
                "paid_at": (paid_key, doc.line_of(paid_key)),
                "amount": ("Сумма", doc.line_of("Сумма")),
                "payer_inn": ("ПлательщикИНН", doc.line_of("ПлательщикИНН")),
                "purpose": ("НазначениеПлатежа", doc.line_of("НазначениеПлатежа")),
                "payment_id": ("Номер", doc.line_of("Номер")),
            }
        results = validated_results(path, ctx, {"payments": rows}, convert={"paid_at": date_text})
        file = str(path)
        checks = header_date_warnings(st, file) + reconcile(st, file)
        if not rows:
            checks.append(nothing_loaded(st, file))
        for res in results:
            res.errors = checks + [_at_field(e, sources) for e in res.errors]
        return results


def _at_field(e: RowError, sources: dict[int, dict[str, tuple[str, int]]]) -> RowError:
    if e.line is None or e.column is None or e.column not in sources.get(e.line, {}):
        return e
    name, line = sources[e.line][e.column]
    return RowError(e.file, line, name, e.value, e.reason, e.row_kept, e.refused_when_strict)
