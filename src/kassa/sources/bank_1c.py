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
statement, and is refused.

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
class Statement:
    accounts: set[str]
    documents: list[Document]


def parse_statement(text: str, path: Path) -> Statement:
    """Split the file into its own accounts and documents; structural faults raise :class:`ImportFailed`."""
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None or lines[first].strip().lstrip("\ufeff") != MAGIC:
        raise ImportFailed(_("{file}, line 1: does not start with 1CClientBankExchange", file=path))
    accounts: set[str] = set()
    docs: list[Document] = []
    doc: Document | None = None
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
        elif key in ("СекцияРасчСчет", "КонецРасчСчет"):
            continue
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
        elif key == "РасчСчет" and value.strip():
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
    return Statement(accounts=accounts, documents=docs)


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
        for res in results:
            res.errors = [_at_field(e, sources) for e in res.errors]
        return results


def _at_field(e: RowError, sources: dict[int, dict[str, tuple[str, int]]]) -> RowError:
    if e.line is None or e.column is None or e.column not in sources.get(e.line, {}):
        return e
    name, line = sources[e.line][e.column]
    return RowError(e.file, line, name, e.value, e.reason, e.row_kept)
