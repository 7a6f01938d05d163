"""Offline conversions: which leads and sales an ad platform is told about, from the money trail.

An ad platform optimises for what it is told counts. Told nothing, it optimises for clicks (activity);
told which clicks became a qualified lead, a won deal or a paid one, it bids for more of those
(docs/conversions.md). This module picks those records and the identifier each platform needs to tie
them back to its click:

=========== ================================================ ===============================================
platform    identifier (the first the record has)            documented as
=========== ================================================ ===============================================
metrica     the visit's Metrica ClientID (all digits), else  ``ClientId`` / ``Yclid`` column of the offline
            the ``yclid:`` click id                           conversions CSV (api-protocols.md §2)
google-ads  the ``gclid:`` click id                          ``gclid`` of a click conversion (§6)
meta        the ``fbclid:`` click id, as ``fbc``              ``user_data.fbc`` of a Conversions API event (§6)
=========== ================================================ ===============================================

The identifiers are read from the lead itself (its own ``client_id`` and ``click_id``, as the CRM's form
kept them) and from the visit the lead is linked to (:mod:`kassa.link.visit_lead`). A Metrica ClientID is
a number (the ``_ym_uid`` cookie); GA4's ``user_pseudo_id`` (``123.456``) is not one and is not sent.

Meta matches mostly by SHA-256 of the normalised e-mail and phone; kassa keeps those only as keyed
(HMAC) hashes, from which no SHA-256 can be computed. So a Meta event goes out only with an ``fbc``
unless ``store_personal_data`` is on and the raw value was kept: then the SHA-256 of the normalised
value is added (e-mail: trimmed, lower case; phone: digits only, with the country code) and a lead
with an e-mail or phone but no click id goes out too.

Goals: ``qualified_lead`` — leads in status ``qualified`` created in the period (the time is the
lead's: the CRM export has no time of qualification); ``sale`` — deals won, closed in the period, at
their amount; ``paid`` — won deals paid in full whose last payment falls in the period, at what was
paid.

Every record that is not sent is counted under a reason; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis

from kassa.period import Period
from kassa.settings import Settings

if TYPE_CHECKING:
    from kassa.link.money_trail import MoneyTrail
    from kassa.store import Warehouse

GOALS = ("qualified_lead", "sale", "paid")
PLATFORMS = ("metrica", "google-ads", "meta")
METRICA_CLIENT_ID = re.compile(r"^[0-9]{1,20}$")

# Why a record did not go out (the keys the command prints, in en and ru).
NO_METRICA_ID = "no_metrica_id"  # neither a Metrica ClientID nor a yclid
NO_GCLID = "no_gclid"
NO_FBCLID = "no_fbclid"  # no fbclid, and no e-mail/phone kept raw to hash for Meta
NO_VALUE = "no_value"  # a sale or payment without an amount


@dataclass(frozen=True)
class Conversion:
    """One conversion ready for a platform: ``key`` is what re-sending is recognised by."""

    key: str  # goal:record, e.g. sale:D-1042 (Meta's event_id, Google's order_id)
    goal: str
    record: str  # lead_id or deal_id
    lead_id: str
    at: dt.datetime  # aware, in the business's time zone
    value: float | None
    currency: str
    id_type: str  # CLIENT_ID | YCLID (Metrica); GCLID; FBC | EMAIL_PHONE (Meta)
    id_value: str
    clicked_at: dt.datetime | None = None  # the linked visit's time (Meta's fbc creation time)
    hashed_email: str | None = None
    hashed_phone: str | None = None

    @property
    def unix(self) -> int:
        return int(self.at.timestamp())


@dataclass
class Conversions:
    """What a goal and period give one platform: the conversions and the count not sent, per reason."""

    goal: str
    platform: str
    period: str
    items: list[Conversion] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def candidates(self) -> int:
        return len(self.items) + sum(self.skipped.values())


def _click(value: Any, prefix: str) -> str | None:
    """The value of a ``prefix:value`` click id (as visits and leads keep them), else None."""
    if not isinstance(value, str):
        return None
    head, sep, tail = value.strip().partition(":")
    if sep and head.lower() == prefix and tail.strip():
        return tail.strip()
    return None


def _sha256(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def normalise_email(raw: Any) -> str | None:
    """Meta's normalisation of an e-mail: trimmed, lower case."""
    text = raw.strip().lower() if isinstance(raw, str) else ""
    return text if "@" in text else None


def normalise_phone(raw: Any) -> str | None:
    """Meta's normalisation of a phone: digits only, with the country code (a Russian 8… becomes 7…)."""
    digits = re.sub(r"\D", "", raw) if isinstance(raw, str) else ""
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits if len(digits) >= 10 else None


def _records(wh: Warehouse, trail: MoneyTrail, goal: str, period: Period) -> list[dict[str, Any]]:
    """The goal's records in the period with the lead's and the linked visit's identifiers."""
    start, end = period.start_ts(), period.end_ts()  # end exclusive
    leads = trail.leads
    lt = leads.select(
        l_lead=leads.lead_id,
        l_client=leads.client_id,
        l_click=leads.click_id,
        l_visit=leads.link_visit_id,
        l_status=leads.status,
        l_created=leads.created_at,
        l_email=leads.email if "email" in leads.columns else ibis.null("string"),
        l_phone=leads.phone if "phone" in leads.columns else ibis.null("string"),
    )
    v = wh.table("visits")
    vt = v.select(v_id=v.visit_id, v_client=v.client_id, v_click=v.click_id, v_ts=v.ts)
    if goal == "qualified_lead":
        rec = lt.filter((lt.l_status == "qualified") & (lt.l_created >= start) & (lt.l_created < end))
        rec = rec.mutate(
            r_id=rec.l_lead, r_at=rec.l_created, r_value=ibis.null("float64"), r_cur=ibis.null("string")
        )
    else:
        d = trail.deal_status
        if goal == "sale":
            d = d.filter((d.status == "won") & (d.closed_at >= start) & (d.closed_at < end))
            d = d.select(
                r_id=d.deal_id, r_lead=d.lead_id, r_at=d.closed_at, r_value=d.amount, r_cur=d.currency
            )
        else:
            d = d.filter(
                (d.status == "won")
                & (d.paid_state == "paid")
                & (d.last_paid_at >= start)
                & (d.last_paid_at < end)
            )
            d = d.select(
                r_id=d.deal_id, r_lead=d.lead_id, r_at=d.last_paid_at, r_value=d.paid, r_cur=d.currency
            )
        rec = d.left_join(lt, d.r_lead == lt.l_lead)
    rec = rec.left_join(vt, rec.l_visit == vt.v_id)
    out = rec.select(
        "r_id",
        "r_at",
        "r_value",
        "r_cur",
        "l_lead",
        "l_client",
        "l_click",
        "l_email",
        "l_phone",
        "v_client",
        "v_click",
        "v_ts",
    ).order_by("r_at", "r_id")
    rows: list[dict[str, Any]] = out.to_pyarrow().to_pylist()
    return rows


def build(
    wh: Warehouse,
    trail: MoneyTrail,
    goal: str,
    platform: str,
    period: Period,
    settings: Settings | None = None,
) -> Conversions:
    """The conversions of ``goal`` in ``period`` that ``platform`` can tie to its clicks (module docstring)."""
    if goal not in GOALS:
        raise ValueError(f"goal {goal!r}: use one of {', '.join(GOALS)}")
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r}: use one of {', '.join(PLATFORMS)}")
    st = settings or wh.settings
    zone = zoneinfo.ZoneInfo(st.timezone)
    found = Conversions(goal, platform, str(period))
    for r in _records(wh, trail, goal, period):
        value = r["r_value"]
        if goal != "qualified_lead" and value is None:
            found.skipped[NO_VALUE] += 1
            continue
        at = r["r_at"].replace(tzinfo=zone)
        clicked = r["v_ts"].replace(tzinfo=zone) if r["v_ts"] is not None else None
        clicks = (r["l_click"], r["v_click"])
        common = dict(
            key=f"{goal}:{r['r_id']}",
            goal=goal,
            record=str(r["r_id"]),
            lead_id=str(r["l_lead"] or ""),
            at=at,
            value=None if value is None else float(value),
            currency=(r["r_cur"] or st.currency).upper(),
            clicked_at=clicked,
        )
        if platform == "metrica":
            client = next(
                (
                    str(c).strip()
                    for c in (r["v_client"], r["l_client"])
                    if c and METRICA_CLIENT_ID.match(str(c).strip())
                ),
                None,
            )
            yclid = next((y for c in clicks if (y := _click(c, "yclid"))), None)
            if client:
                found.items.append(Conversion(id_type="CLIENT_ID", id_value=client, **common))
            elif yclid:
                found.items.append(Conversion(id_type="YCLID", id_value=yclid, **common))
            else:
                found.skipped[NO_METRICA_ID] += 1
        elif platform == "google-ads":
            gclid = next((g for c in clicks if (g := _click(c, "gclid"))), None)
            if gclid:
                found.items.append(Conversion(id_type="GCLID", id_value=gclid, **common))
            else:
                found.skipped[NO_GCLID] += 1
        else:
            fbclid = next((f for c in clicks if (f := _click(c, "fbclid"))), None)
            email = phone = None
            if st.store_personal_data:
                email = _sha256(normalise_email(r["l_email"]))
                phone = _sha256(normalise_phone(r["l_phone"]))
            if fbclid:
                # fbc = fb.1.<creation time in ms>.<fbclid> (Meta's parameter guide): the click's time.
                made = clicked or at
                fbc = f"fb.1.{int(made.timestamp() * 1000)}.{fbclid}"
                found.items.append(
                    Conversion(id_type="FBC", id_value=fbc, hashed_email=email, hashed_phone=phone, **common)
                )
            elif email or phone:
                found.items.append(
                    Conversion(
                        id_type="EMAIL_PHONE", id_value="", hashed_email=email, hashed_phone=phone, **common
                    )
                )
            else:
                found.skipped[NO_FBCLID] += 1
    return found


def to_row(c: Conversion, target: str) -> dict[str, Any]:
    """A conversion as the plain row the uploads and exports take (connectors sit above link)."""
    return {
        "key": c.key,
        "target": target,
        "id_type": c.id_type,
        "id_value": c.id_value,
        "unix": c.unix,
        "at": c.at,
        "value": c.value,
        "currency": c.currency,
        "hashed_email": c.hashed_email,
        "hashed_phone": c.hashed_phone,
    }
