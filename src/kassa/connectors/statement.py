"""What every bank connector shares: a statement's operations, written as the 1CClientBankExchange
statement the bank's own "export to 1C" would be, for the 1C statement reader.

Why that format (and not a CSV of kassa's own): the payments a sync loads must be **the same rows**
the 1C statement importer (:mod:`kassa.sources.bank_1c`) loads for the same operations — the same
``payment_id`` (our account, document date, number, amount in kopecks, payer's INN and account), the
same rule for which operations are income, the same currency from our account's ОКВ digits. Handing the
reader the very format it reads makes that true by construction, and a statement synced from the API
and one imported from a file for overlapping days replace each other instead of doubling.

A document per operation (``СекцияДокумент=Платежное поручение``): an incoming one with the
counterparty as the payer (``Плательщик…``), our account as the receiver and the credited day as
``ДатаПоступило``; an outgoing one the other way round with ``ДатаСписано``. Line breaks inside a
value (a purpose written on several lines) become spaces: the format is one ``Key=Value`` per line,
and a bank's own 1C export writes the purpose on one line too.

Amounts come as JSON numbers (Tochka's ``amount`` is a float; ../shared/research/api-protocols.md, top):
they are read with ``json.loads(..., parse_float=Decimal)``, i.e. from the JSON text, never through a
binary float, and an amount with a fraction of a kopeck is refused rather than rounded.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kassa.sources.bank_1c import MAGIC

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
_ACCOUNT = re.compile(r"^\d{20}$")
KOPECK = Decimal("0.01")


@dataclass(frozen=True)
class Operation:
    """One operation of a statement, in the bank's words mapped to a payment order's fields."""

    incoming: bool  # money credited to our account (Credit), else debited (Debit)
    day: dt.date  # the day the bank credited or debited it
    date: dt.date  # the payment order's own date (1C ``Дата``)
    number: str  # the payment order's number (1C ``Номер``)
    amount: Decimal  # in the account's currency, > 0
    purpose: str = ""
    name: str = ""  # the counterparty's
    inn: str = ""
    kpp: str = ""
    account: str = ""  # the counterparty's account
    bic: str = ""


def loads(body: bytes) -> Any:
    """A JSON answer with every number as an exact Decimal (floats from their text, not via float)."""
    return json.loads(body, parse_float=Decimal, parse_int=Decimal)


def amount(value: Any) -> Decimal | None:
    """A positive amount in whole kopecks from a JSON number or a numeric string; None when it is not."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        d = Decimal(value.strip().replace(",", ".")) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not d.is_finite() or d <= 0 or d != d.quantize(KOPECK):
        return None
    return d.quantize(KOPECK)


def is_account(text: str) -> bool:
    return bool(_ACCOUNT.match(text))


def _one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value).strip()


def _day(d: dt.date) -> str:
    return d.strftime("%d.%m.%Y")


def exchange_text(account: str, since: dt.date, until: dt.date, operations: list[Operation]) -> bytes:
    """The statement of ``account`` for ``since..until`` as 1CClientBankExchange text (UTF-8)."""
    out = [MAGIC, "ВерсияФормата=1.03", "Кодировка=Windows", "Получатель=kassa",
           f"ДатаНачала={_day(since)}", f"ДатаКонца={_day(until)}", f"РасчСчет={account}",
           "СекцияРасчСчет", f"ДатаНачала={_day(since)}", f"ДатаКонца={_day(until)}",
           f"РасчСчет={account}", "КонецРасчСчет"]  # fmt: skip
    for op in operations:
        them = {"Счет": op.account, "ИНН": op.inn, "КПП": op.kpp, "": op.name, "БИК": op.bic}
        payer, receiver = ("Плательщик", "Получатель") if op.incoming else ("Получатель", "Плательщик")
        out += ["СекцияДокумент=Платежное поручение", f"Номер={_one_line(op.number)}",
                f"Дата={_day(op.date)}", f"Сумма={op.amount:.2f}"]  # fmt: skip
        for key, value in them.items():
            if value:
                out.append(f"{payer}{key}={_one_line(value)}")
                if key == "Счет":
                    out.append(f"{payer}РасчСчет={_one_line(value)}")
        out += [f"{receiver}Счет={account}", f"{receiver}РасчСчет={account}"]
        out.append(f"{'ДатаПоступило' if op.incoming else 'ДатаСписано'}={_day(op.day)}")
        out.append(f"НазначениеПлатежа={_one_line(op.purpose)}")
        out.append("КонецДокумента")
    out.append("КонецФайла")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")
