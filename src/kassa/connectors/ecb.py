"""The European Central Bank's euro foreign exchange reference rates, from its SDMX data API.

One request for every currency and the whole range (https://data.ecb.europa.eu/help/api/data):
``/service/data/EXR/D.USD+JPY.EUR.SP00.A?startPeriod=2026-09-01&endPeriod=2026-10-31&format=csvdata``
answers CSV, one row per currency and day the ECB published a rate (working days of TARGET2):

    KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,…
    EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2026-09-03,1.1615,A,…

``OBS_VALUE`` is units of the currency per **one euro** (1 EUR = 1.1615 USD); kassa stores euros per
unit, so the monthly rate is ``1 / mean(OBS_VALUE)`` — the inverse of the ECB's own monthly average.
A range with no observations is answered with HTTP 404 ("No results found"): no rates, not an error.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

from kassa.connectors.http import Service, excerpt, get
from kassa.connectors.rates import DailyRate, MonthlyRate, monthly_means

BASE_URL = "https://data-api.ecb.europa.eu/service"
NAME = "European Central Bank"
HOME = "EUR"

NEEDED = ("CURRENCY", "TIME_PERIOD", "OBS_VALUE")


def service(
    base_url: str | None = None, *, attempts: int = 4, backoff: float = 1.0, timeout: float = 30.0
) -> Service:
    return Service(
        name=NAME, base_url=base_url or BASE_URL, attempts=attempts, backoff=backoff, timeout=timeout
    )


def daily_rates(svc: Service, currencies: list[str], first: dt.date, last: dt.date) -> list[DailyRate]:
    """Units of each currency per euro on each day the ECB published one in the range (as published)."""
    path = f"data/EXR/D.{'+'.join(sorted(currencies))}.EUR.SP00.A"
    params = {"startPeriod": first.isoformat(), "endPeriod": last.isoformat(), "format": "csvdata"}
    request, body = get(svc, path, params, empty=404)
    if body is None:
        return []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise svc.error(request, "the answer is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
    if missing:
        raise svc.error(
            request, f"the answer is not SDMX CSV: no column {', '.join(missing)} in {excerpt(text)}"
        )
    out = []
    for line, row in enumerate(reader, start=2):
        where = f"line {line}"
        raw_day, raw_value = row["TIME_PERIOD"] or "", (row["OBS_VALUE"] or "").strip()
        try:
            day = dt.date.fromisoformat(raw_day)
        except ValueError:
            raise svc.error(
                request, f"{where}: field 'TIME_PERIOD' is not YYYY-MM-DD ({raw_day!r})"
            ) from None
        if raw_value == "":
            continue  # a day the ECB published no rate for this currency
        try:
            value = float(raw_value)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise svc.error(request, f"{where}: field 'OBS_VALUE' is not a positive number ({raw_value!r})")
        out.append(DailyRate(day, (row["CURRENCY"] or "").strip().upper(), value))
    return out


def monthly_rates(daily: list[DailyRate]) -> list[MonthlyRate]:
    """Euros per unit for each month: the inverse of the month's mean of the published rates."""
    return monthly_means(daily, invert=True)
