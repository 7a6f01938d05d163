"""The Bank of Russia's official daily exchange rates (roubles per unit), from its XML scripts.

Two requests (https://www.cbr.ru/development/SXML/):

* ``XML_daily.asp?date_req=dd/mm/yyyy`` — every currency's rate on a day, with the Bank's own code per
  currency: ``<ValCurs Date="04.04.2025"><Valute ID="R01235"><CharCode>USD</CharCode>
  <Nominal>1</Nominal><Value>83,2406</Value>…``; kassa reads it for the codes;
* ``XML_dynamic.asp?date_req1=…&date_req2=…&VAL_NM_RQ=R01235`` — one currency's rates over a range:
  ``<ValCurs ID="R01235"><Record Date="02.10.2026" Id="R01235"><Nominal>1</Nominal>
  <Value>81,5000</Value></Record>…``.

Answers are windows-1251 XML (the declaration says so), values have a decimal comma, and a value is
for ``Nominal`` units (100 JPY, 100 AMD, 10 000 VND): the rate per unit is ``Value / Nominal``. A
record's date is the day the rate is in force (the Bank sets one per working day; the one set on a
Saturday holds until Tuesday). Bad parameters come back as HTTP 200 with the text "Error in
parameters", which is refused as "not XML" with that excerpt.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from kassa.connectors.http import Service, excerpt, get, parse_xml
from kassa.connectors.rates import DailyRate

BASE_URL = "https://www.cbr.ru/scripts"
NAME = "Bank of Russia"
HOME = "RUB"

_NUMBER = re.compile(r"^\d+(?:,\d+)?$")
_DAY = "%d.%m.%Y"


def service(
    base_url: str | None = None, *, attempts: int = 4, backoff: float = 1.0, timeout: float = 30.0
) -> Service:
    return Service(
        name=NAME, base_url=base_url or BASE_URL, attempts=attempts, backoff=backoff, timeout=timeout
    )


def _text(svc: Service, request: str, el: ET.Element, field: str, where: str) -> str:
    value = el.findtext(field)
    if value is None or not value.strip():
        raise svc.error(request, f"{where}: field {field!r} is missing")
    return value.strip()


def _per_unit(svc: Service, request: str, el: ET.Element, where: str) -> float:
    raw = _text(svc, request, el, "Value", where)
    if not _NUMBER.match(raw):
        raise svc.error(request, f"{where}: field 'Value' is not a number with a decimal comma ({raw!r})")
    nominal = _text(svc, request, el, "Nominal", where)
    if not nominal.isdigit() or int(nominal) == 0:
        raise svc.error(request, f"{where}: field 'Nominal' is not a positive whole number ({nominal!r})")
    return float(raw.replace(",", ".")) / int(nominal)


def _root(svc: Service, request: str, body: bytes | None) -> ET.Element:
    assert body is not None  # asked without ``empty``: every answer has a body
    root = parse_xml(svc, request, body)
    if root.tag != "ValCurs":
        raise svc.error(request, f"expected a <ValCurs> answer, got <{root.tag}>: {excerpt(body)}")
    return root


def currency_codes(svc: Service, day: dt.date) -> dict[str, str]:
    """The Bank's code of each currency it quotes on ``day`` (``{"USD": "R01235", …}``)."""
    request, body = get(svc, "XML_daily.asp", {"date_req": day.strftime("%d/%m/%Y")})
    root = _root(svc, request, body)
    codes: dict[str, str] = {}
    for valute in root.iter("Valute"):
        code = valute.get("ID")
        where = f"<Valute ID={code!r}>"
        char = _text(svc, request, valute, "CharCode", where)
        if not code:
            raise svc.error(request, f"<Valute> of {char}: attribute 'ID' is missing")
        codes[char.upper()] = code
    return codes


def daily_rates(svc: Service, currency: str, code: str, first: dt.date, last: dt.date) -> list[DailyRate]:
    """Roubles per one unit of ``currency`` (the Bank's ``code``) on each day it set a rate in the range."""
    params = {
        "date_req1": first.strftime("%d/%m/%Y"),
        "date_req2": last.strftime("%d/%m/%Y"),
        "VAL_NM_RQ": code,
    }
    request, body = get(svc, "XML_dynamic.asp", params)
    root = _root(svc, request, body)
    out = []
    for rec in root.iter("Record"):
        raw_day = rec.get("Date", "")
        try:
            day = dt.datetime.strptime(raw_day, _DAY).date()
        except ValueError:
            raise svc.error(request, f"<Record>: attribute 'Date' is not dd.mm.yyyy ({raw_day!r})") from None
        out.append(DailyRate(day, currency, _per_unit(svc, request, rec, f"<Record Date={raw_day!r}>")))
    return out
