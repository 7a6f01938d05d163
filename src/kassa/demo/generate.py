"""Turn the company of :mod:`kassa.demo.company` into seeded random events (:mod:`kassa.demo.tables` writes
them as canonical CSVs).

How a ruble travels (docs/demo.md tells the same story in plain words):

1. **Spend** (paid streams, per day): impressions ~ Poisson(volume × season × weekday share),
   clicks ~ Binomial(impressions, CTR), cost = clicks × CPC × LogNormal(0, 0.05) (daily price noise),
   reach = impressions / frequency.
2. **Visits**: paid ~ Binomial(clicks, 0.82); organic ~ Poisson per day; Telegram and e-mail visits
   follow each post or newsletter after an Exponential delay (mean 6 h and 10 h).
3. **Leads**: a share ``lead_rate`` of the month's visits. 65 % leave the request during that visit (a
   form carries the visit's UTMs and click id; 20 % of them phone instead, and a call reaches the CRM
   without UTMs); the others come back 1–45 days later by typing the address (a direct visit) and
   leave a lead without UTMs, so kassa must find the client's last non-direct visit. Map-listing calls
   have no visit at all (channel ``unknown``).
4. **The CRM**: managers take leads in shares 36/34/30 %; a share ``qualified_share`` of leads is
   qualified 0.5–30 working hours after the first reply (median 12 minutes); 88 % of qualified leads get
   a **deal**, a share ``win_rate × manager skill`` of deals is won, closed 1 + Gamma(2, 6.5) days after
   opening (mean 14 days). Amount = product price × LogNormal(0, 0.2); gross profit of a won deal =
   amount × product margin × (1 + Normal(0, 0.04)).
5. **The bank**: 93 % of won deals are paid, in one payment 0–20 days after the invoice (80 %) or as a
   prepayment (0–3 days) plus the rest (7–20 days); 12 % of bank rows carry no deal id, only the
   invoice number in the purpose.

Shares are drawn as fixed-size random samples per month (:mod:`kassa.demo.sampling`):
every item keeps its probability, but a month's count is its expectation rounded, so a healthy stream
changes from month to month only as much as its traffic does, and the planted stories stand out.

Everything after 2026-10-31 is cut off as an export of 2026-11-01 would be: deals not closed by then
are ``open``, leads not yet decided are ``new``, later payments are not in the bank yet.

Randomness comes in blocks: the traffic of one stream in one month and everything it leads to is
drawn from ``numpy.random.default_rng([seed, stream number, month number])``. Planting a story in
October therefore changes nothing else: the healthy and the planted company are the same company.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy.stats import gamma as gamma_dist

from kassa.demo.company import (
    CALL_SHARE,
    CLICK_TO_VISIT,
    DEAL_SHARE,
    EMAIL_SHARE,
    END,
    HOUR_WEIGHT,
    LEGAL_SHARE,
    MANAGER_SHARE,
    MANAGER_SKILL,
    MANAGERS,
    NEWSLETTER_DAYS,
    NO_DEAL_ID_SHARE,
    PAID_SHARE,
    PHONE_SHARE,
    PLANTED,
    POST_WEEKDAYS,
    PROCESSED,
    PRODUCTS,
    REVISIT_SHARE,
    SAME_SESSION,
    SEASON,
    START,
    STREAMS,
    TWO_PART_SHARE,
    WEEKDAY_WEIGHT,
    Planted,
    SalesSlump,
    Stream,
)
from kassa.demo.people import company_inns, email_draws, phone_draws
from kassa.demo.sampling import quota, quota_choice, stratified_uniform
from kassa.settings import Settings

DAY = 86_400
HOUR = 3_600
MONTHS = list(SEASON)
DAYS = np.arange(np.datetime64(START), np.datetime64(END), dtype="datetime64[D]")
_DAY0 = int(DAYS[0].astype("datetime64[s]").astype(np.int64))
_END_S = int(np.datetime64(END).astype("datetime64[s]").astype(np.int64))
_MONTH_OF_DAY = (DAYS.astype("datetime64[M]") - DAYS[0].astype("datetime64[M]")).astype(np.int64)
_WEEKDAY = (DAYS.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
_DAY_OF_MONTH = (DAYS - DAYS.astype("datetime64[M]")).astype(np.int64) + 1
_MONTH_START_S = np.array([np.datetime64(m, "M").astype("datetime64[s]").astype(np.int64) for m in MONTHS])
_SEASON = np.array([SEASON[m] for m in MONTHS])
_day_weight = np.array(WEEKDAY_WEIGHT)[_WEEKDAY]
# Share of its month's volume each day gets: weekday weight over the month's sum of weights, so every
# month's expectation is exactly volume × season whatever its length (September = October when healthy).
_DAY_SHARE = _day_weight / np.bincount(_MONTH_OF_DAY, weights=_day_weight)[_MONTH_OF_DAY]
_HOUR_P = np.array(HOUR_WEIGHT) / np.sum(HOUR_WEIGHT)
_LAST_DAY_OF_MONTH = np.array([np.flatnonzero(m == _MONTH_OF_DAY)[-1] for m in range(len(SEASON))])
_VAT = np.array(
    [Settings().vat_rate_on(d) for d in DAYS.astype(dt.date)]
)  # default rates: 20 %, 22 % from 2026

# Text options of every stream in one list each, so blocks store numbers and text is written once.
TERMS = [t for s in STREAMS for t in s.terms]
REFERRERS = [r for s in STREAMS for r in s.referrers]
LANDINGS = [p for s in STREAMS for p in s.landing] + ["/"]
_ROOT_PAGE = len(LANDINGS) - 1  # where a returning visitor lands after typing the address


def _offsets(sizes: list[int]) -> list[int]:
    return [int(x) for x in np.r_[0, np.cumsum(sizes)[:-1]]]


_TERM_AT = _offsets([len(s.terms) for s in STREAMS])
_REFERRER_AT = _offsets([len(s.referrers) for s in STREAMS])
_LANDING_AT = _offsets([len(s.landing) for s in STREAMS])

MAX_CYCLE_DAYS = 60  # the longest sales cycle; the Gamma tail beyond it (0.1 % of deals) is cut
PAYMENT_PART = ("full", "prepay", "rest")


@dataclass
class Plan:
    """Monthly multipliers of one stream's expectations (1.0 everywhere in a healthy company)."""

    impressions: np.ndarray
    ctr: np.ndarray
    cpc: np.ndarray
    frequency: np.ndarray
    lead_rate: np.ndarray
    qualified: np.ndarray
    win: np.ndarray
    per_event: np.ndarray
    daily_events: np.ndarray  # bool: posts go out every day this month instead of on POST_WEEKDAYS


def plan_for(stream: Stream, plant: bool, planted: Planted = PLANTED) -> Plan:
    """The multipliers that plant the stories (docs/demo.md, "The planted story")."""
    one = np.ones(len(MONTHS))
    p = Plan(
        impressions=one.copy(),
        ctr=one.copy(),
        cpc=one.copy(),
        frequency=one.copy(),
        lead_rate=one.copy(),
        qualified=one.copy(),
        win=one.copy(),
        per_event=one.copy(),
        daily_events=np.zeros(len(MONTHS), dtype=bool),
    )
    if not plant:
        return p
    ai, bc = planted.activity_illusion, planted.busy_channel
    if stream.key == ai.campaign:
        m = MONTHS.index(ai.month)
        p.impressions[m] = 1 + ai.impressions_change
        p.ctr[m] = 1 + ai.ctr_change
        p.cpc[m] = 1 + ai.cpc_change
        p.frequency[m] = (1 + ai.impressions_change) / ai.reach_ratio  # reach = impressions / frequency
        # Leads per visit fall so that leads rise only by leads_change while visits follow clicks.
        p.lead_rate[m] = (1 + ai.leads_change) / (1 + ai.clicks_change)
        p.qualified[m] = (1 + ai.qualified_leads_change) / (1 + ai.leads_change)
        p.win[m] = 1 + ai.win_rate_change
    if stream.key == bc.campaign:
        m = MONTHS.index(bc.month)
        p.daily_events[m] = True
        p.per_event[m] = bc.visits_per_post / stream.per_event
        p.lead_rate[m] = 1 + bc.lead_rate_change
        p.win[m] = 1 + bc.win_rate_change
    return p


# -- time ---------------------------------------------------------------------------------------------


def _month_of(ts: np.ndarray) -> np.ndarray:
    return np.searchsorted(_MONTH_START_S, ts, side="right") - 1


def _times_of_day(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """A second within each given day, hours drawn from the daily traffic profile."""
    hour = rng.choice(24, size=day.size, p=_HOUR_P)
    return _DAY0 + day * DAY + hour * HOUR + rng.integers(0, HOUR, size=day.size)


def _working_time(ts: np.ndarray) -> np.ndarray:
    """The same moment, or 09:00 of the next working morning when it falls outside 09:00–20:00."""
    into = (ts - _DAY0) % DAY
    midnight = ts - into
    return np.where(
        into >= 20 * HOUR, midnight + DAY + 9 * HOUR, np.where(into < 9 * HOUR, midnight + 9 * HOUR, ts)
    )


def _days_ahead(
    rng: np.random.Generator, ts: np.ndarray, days: np.ndarray, first_hour: int, hours: int
) -> np.ndarray:
    """``days`` whole days after the day of ``ts``, at a random time from ``first_hour`` within ``hours``."""
    midnight = ts - (ts - _DAY0) % DAY
    return midnight + days * DAY + first_hour * HOUR + rng.integers(0, hours * HOUR, size=ts.size)


def _sales_cycles(rng: np.random.Generator, created: np.ndarray, won: np.ndarray) -> np.ndarray:
    """Whole days from opening to closing each deal: 1 + ⌊G⌋, G ~ Gamma(shape 2, scale 6.5 days), at most 60.

    A deal opened with L days left in its month closes within that month with probability
    P(1 + ⌊G⌋ ≤ L) = F(L), F the Gamma CDF. Which deals do is chosen by :func:`quota` (so the won deals
    closing in the month number ΣF(L) rounded), then G is drawn from the matching part of the
    distribution, F⁻¹(U(0, F(L))) or F⁻¹(U(F(L), 1)): each deal's cycle keeps its Gamma law exactly.
    """
    day = (created - _DAY0) // DAY
    left = _LAST_DAY_OF_MONTH[_MONTH_OF_DAY[np.minimum(day, DAYS.size - 1)]] - day
    f = gamma_dist.cdf(left, 2.0, scale=6.5)
    inside = quota(rng, f, won.astype(np.int64))
    u = rng.random(created.size)
    q = np.where(inside, u * f, f + u * (1 - f))
    g = gamma_dist.ppf(np.clip(q, 0.0, 1 - 1e-12), 2.0, scale=6.5)
    g = np.where(inside, np.minimum(g, np.maximum(left - 1e-9, 0)), np.maximum(g, left))
    return 1 + np.floor(np.minimum(g, MAX_CYCLE_DAYS - 1)).astype(np.int64)


# -- one block: a stream's traffic of one month and all it leads to ----------------------------------

Arrays = dict[str, np.ndarray]


@dataclass
class Block:
    """Rows (as numpy columns) one stream contributes from the traffic of one month."""

    spend: Arrays
    activities: Arrays
    visits: Arrays
    leads: Arrays
    deals: Arrays
    payments: Arrays


def _spend(
    index: int, stream: Stream, plan: Plan, m: int, days: np.ndarray, rng: np.random.Generator
) -> Arrays:
    impressions = rng.poisson(stream.impressions * _SEASON[m] * plan.impressions[m] * _DAY_SHARE[days])
    clicks = rng.binomial(impressions, stream.ctr * plan.ctr[m])
    cost = np.round(clicks * stream.cpc * plan.cpc[m] * rng.lognormal(0.0, 0.05, size=days.size), 2)
    reach_noise = rng.lognormal(0.0, 0.03, size=days.size)
    if stream.vat_included:
        # VK Ads reports spend with VAT; the metric layer takes it out again with the rate of the day.
        cost = np.round(cost * (1 + _VAT[days]), 2)
    reach = np.full(days.size, -1, dtype=np.int64)  # -1: the platform reports no reach
    if stream.frequency is not None:
        reach = np.round(impressions / (stream.frequency * plan.frequency[m]) * reach_noise).astype(np.int64)
    return {
        "day": days,
        "stream": np.full(days.size, index),
        "impressions": impressions,
        "clicks": clicks,
        "cost": cost,
        "reach": reach,
    }


def _arrivals(
    index: int, stream: Stream, plan: Plan, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, Arrays, Arrays]:
    """Timestamps of the month's own visits of the stream (sorted), its spend rows and activity rows."""
    days = np.flatnonzero(m == _MONTH_OF_DAY)
    none: Arrays = {}
    if stream.kind == "paid":
        spend = _spend(index, stream, plan, m, days, rng)
        per_day = rng.binomial(spend["clicks"], CLICK_TO_VISIT)
        return np.sort(_times_of_day(rng, np.repeat(days, per_day))), spend, none
    if stream.kind == "organic":
        per_day = rng.poisson(stream.visits * _SEASON[m] * _DAY_SHARE[days])
        return np.sort(_times_of_day(rng, np.repeat(days, per_day))), none, none
    # pulse: a post or newsletter, then visits trickling in after it
    if stream.event_kind == "post":
        on = np.isin(_WEEKDAY[days], POST_WEEKDAYS) | plan.daily_events[m]
        delay_mean = 6 * HOUR
    else:
        on = np.isin(_DAY_OF_MONTH[days], NEWSLETTER_DAYS)
        delay_mean = 10 * HOUR
    event_day = days[on]
    event_ts = _DAY0 + event_day * DAY + rng.integers(10 * HOUR, 19 * HOUR, size=event_day.size)
    per_event = rng.poisson(stream.per_event * plan.per_event[m] * _SEASON[m], size=event_day.size)
    after = np.repeat(event_ts, per_event) + rng.exponential(delay_mean, size=per_event.sum()).astype(
        np.int64
    )
    background = _times_of_day(
        rng, np.repeat(days, rng.poisson(stream.visits * _SEASON[m] * _DAY_SHARE[days]))
    )
    ts = np.sort(np.concatenate([after, background]))
    return ts[ts < _END_S], none, {"day": event_day, "stream": np.full(event_day.size, index)}


@dataclass
class _Arrivals:
    """The leads of a block as they reach the CRM, before anyone answers them (one item per lead)."""

    created_at: np.ndarray
    client: np.ndarray  # the visitor's key; -1 for a call with no visit behind it
    has_utm: np.ndarray  # a form that carried the visit's UTMs
    called: np.ndarray  # a phone call in the same session
    click: np.ndarray  # the click id the form sent; -1 none


def _offline_leads(stream: Stream, m: int, rng: np.random.Generator) -> _Arrivals:
    """Map-listing calls: leads without any visit (channel ``unknown``), during working hours."""
    days = np.flatnonzero(m == _MONTH_OF_DAY)
    day = np.repeat(days, rng.poisson(stream.leads_per_month * _SEASON[m] * _DAY_SHARE[days]))
    lead_ts = np.sort(_DAY0 + day * DAY + rng.integers(9 * HOUR, 20 * HOUR, size=day.size))
    n_leads = lead_ts.size
    return _Arrivals(
        created_at=lead_ts,
        client=np.full(n_leads, -1),
        has_utm=np.zeros(n_leads, dtype=bool),
        called=np.ones(n_leads, dtype=bool),
        click=np.full(n_leads, -1),
    )


def _visits_and_leads(
    index: int, stream: Stream, plan: Plan, m: int, rng: np.random.Generator, key0: int
) -> tuple[Arrays, Arrays, Arrays, _Arrivals]:
    """The month's spend or activities, its visits (with the direct returns they lead to) and its leads.

    A share ``lead_rate`` of visitors leaves a lead: in the same session (a form with UTMs, or a call), or
    1–45 days later after coming back direct; some visitors who never ask come back direct once anyway.
    """
    arrivals, spend, activities = _arrivals(index, stream, plan, m, rng)
    n = arrivals.size
    client = key0 + np.arange(n)  # every arrival is a new visitor (a returning one comes back direct)
    li = np.flatnonzero(quota(rng, np.full(n, stream.lead_rate * plan.lead_rate[m])))
    same = rng.random(li.size) < SAME_SESSION
    called = rng.random(li.size) < CALL_SHARE
    gap = 1 + np.minimum(np.floor(rng.lognormal(np.log(2.0), 0.9, size=li.size)), 45).astype(np.int64)
    back_ts = _days_ahead(rng, arrivals[li], gap, 8, 15)
    lead_ts_all = np.where(same, arrivals[li], back_ts) + rng.integers(120, 1500, size=li.size)
    # Visitors who never asked for anything, yet came back once by typing the address.
    is_lead = np.zeros(n, dtype=bool)
    is_lead[li] = True
    rv = np.flatnonzero((rng.random(n) < REVISIT_SHARE) & ~is_lead)
    rv_ts = _days_ahead(rng, arrivals[rv], rng.integers(1, 15, size=rv.size), 8, 15)

    def pick(count: int, at: int) -> np.ndarray:
        return at + rng.integers(0, count, size=n) if count else np.full(n, -1)

    click = rng.integers(10**16, 10**17, size=n) if stream.click_id else np.full(n, -1)
    suffix = rng.integers(0, 10**9, size=n)
    returning = np.concatenate([li[~same], rv])
    ts = np.concatenate([arrivals, back_ts[~same], rv_ts])
    own = np.r_[np.ones(n, dtype=bool), np.zeros(returning.size, dtype=bool)]
    who = np.r_[np.arange(n), returning]
    keep_visit = ts < _END_S
    visits = {
        "ts": ts,
        "client": client[who],
        "first_ts": arrivals[who],
        "suffix": suffix[who],
        "stream": np.where(own, index, -1),  # -1: a direct visit of a returning client
        "term": np.where(own, pick(len(stream.terms), _TERM_AT[index])[who], -1),
        "referrer": np.where(own, pick(len(stream.referrers), _REFERRER_AT[index])[who], -1),
        "landing": np.where(own, pick(len(stream.landing), _LANDING_AT[index])[who], _ROOT_PAGE),
        "click": np.where(own, click[who], -1),
    }
    visits = {k: v[keep_visit] for k, v in visits.items()}
    keep = lead_ts_all < _END_S
    has_utm = (same & ~called)[keep] & bool(stream.utm_source)
    leads = _Arrivals(
        created_at=lead_ts_all[keep],
        client=client[li][keep],
        has_utm=has_utm,
        called=(same & called)[keep],
        # A form sends the click id with the UTMs (Direct's yclid); a call or a later visit does not.
        click=np.where(has_utm, click[li][keep], -1),
    )
    return spend, activities, visits, leads


def _crm_leads(
    rng: np.random.Generator,
    index: int,
    stream: Stream,
    plan: Plan,
    m: int,
    key0: int,
    new: _Arrivals,
    slump: SalesSlump | None,
) -> tuple[Arrays, np.ndarray, np.ndarray, np.ndarray]:
    """The CRM's lead rows: a manager, the first reply, qualification; and for the deals that follow,
    each lead's decision time, its manager and whether it was decided qualified before the export."""
    n_leads = new.created_at.size
    lead_ts = new.created_at
    manager = quota_choice(rng, MANAGER_SHARE, np.zeros(n_leads, dtype=np.int64))
    processed = rng.random(n_leads) < PROCESSED
    delay = rng.lognormal(np.log(12 * 60), 1.0, size=n_leads)  # seconds to the first reply, median 12 min
    response = _working_time(lead_ts) + delay.astype(np.int64)
    decision = _working_time(response + rng.integers(HOUR // 2, 30 * HOUR, size=n_leads))
    if slump is not None:
        # Only the reply shows it: decisions and deals keep their times, so the slump changes nothing
        # but this manager's replies and wins.
        slow = (manager == MANAGERS.index(slump.manager)) & (_month_of(lead_ts) == MONTHS.index(slump.month))
        response = np.where(
            slow, _working_time(lead_ts) + (delay * slump.response_slowdown).astype(np.int64), response
        )
    qualified = quota(rng, np.full(n_leads, stream.qualified_share * plan.qualified[m]))
    decided = processed & (decision < _END_S)
    leads: Arrays = {
        "lead_key": key0 + np.arange(n_leads),
        "created_at": lead_ts,
        "client": new.client,
        "stream": np.where(new.has_utm, index, -1),  # whose UTMs the lead carries; -1: none
        "status": np.where(~decided, 0, np.where(qualified, 1, 2)),
        "manager": manager,
        "has_phone": new.called | (rng.random(n_leads) < PHONE_SHARE),
        "has_email": rng.random(n_leads) < EMAIL_SHARE,
        "first_response_at": np.where(processed & (response < _END_S), response, -1),
        "click": new.click,
        **phone_draws(rng, n_leads),
        **email_draws(rng, n_leads),
    }
    return leads, decision, manager, decided & qualified


@dataclass
class _Deals:
    """The deals of a block as drawn (one item per deal), before the bank and the CSV columns."""

    lead: np.ndarray  # index of the deal's lead in the block
    created: np.ndarray
    won: np.ndarray  # after the planted sales slump
    won_as_drawn: np.ndarray  # before it: the slump does not change who pays
    closed: np.ndarray
    is_closed: np.ndarray
    cohort: np.ndarray  # closing month × won: the groups quotas are drawn in
    product: np.ndarray
    amount: np.ndarray
    margin: np.ndarray


def _deals(
    rng: np.random.Generator,
    stream: Stream,
    plan: Plan,
    m: int,
    decision: np.ndarray,
    manager: np.ndarray,
    qualified: np.ndarray,
    slump: SalesSlump | None,
) -> _Deals:
    """Deals of the qualified leads: who wins, when each closes, what it sells and for how much."""
    d = np.flatnonzero(quota(rng, DEAL_SHARE * qualified))
    nd = d.size
    created = decision[d]
    dm = manager[d]
    won = quota(rng, stream.win_rate * plan.win[m] * np.array(MANAGER_SKILL)[dm])
    # Won and lost deals get the full spread of sales cycles, and the deals closed in each month the
    # full product mix: a month's sales and revenue follow its leads, not the luck of a few big deals.
    cycle = _sales_cycles(rng, created, won)
    closed = _days_ahead(rng, created, cycle, 10, 8)
    is_closed = closed < _END_S
    closed_month = np.where(is_closed, _month_of(closed), len(MONTHS))
    cohort = closed_month * 2 + won
    product = quota_choice(rng, stream.mix, cohort)
    price = np.array([p.price for p in PRODUCTS])[product]
    amount = np.round(price * rng.lognormal(0.0, 0.2, size=nd) / 100) * 100
    margin = np.array([p.margin for p in PRODUCTS])[product] * (1 + rng.normal(0.0, 0.04, size=nd))
    slump_draw = rng.random(nd)
    won_as_drawn = won.copy()
    if slump is not None:
        # The manager stopped calling back: deals that would have been won that month were lost.
        in_slump = (dm == MANAGERS.index(slump.manager)) & (closed_month == MONTHS.index(slump.month))
        won &= ~(in_slump & (slump_draw >= slump.won_kept))
    return _Deals(d, created, won, won_as_drawn, closed, is_closed, cohort, product, amount, margin)


def _bank(rng: np.random.Generator, deals: _Deals, key0: int) -> tuple[Arrays, np.ndarray]:
    """The payments of the won deals that reached the bank before the export, and the INN each deal's
    customer pays from (-1 for a private person)."""
    nd = deals.lead.size
    amount = deals.amount
    paid = quota(rng, PAID_SHARE * deals.won_as_drawn)
    two_part = rng.random(nd) < TWO_PART_SHARE
    # Days from invoice to payment: Exponential(mean 4 days) quantiles, at most 20 days.
    single_day = np.minimum(np.floor(-4.0 * np.log1p(-stratified_uniform(rng, deals.cohort))), 20).astype(
        np.int64
    )
    prepay_day = rng.integers(0, 4, size=nd)
    rest_day = rng.integers(7, 21, size=nd)
    prepay_share = rng.choice(np.array([0.3, 0.5, 0.7]), size=nd)
    legal = rng.random(nd) < LEGAL_SHARE
    inn = company_inns(rng, nd)
    no_id = rng.random((nd, 2)) < NO_DEAL_ID_SHARE
    t1 = _days_ahead(rng, deals.closed, np.where(two_part, prepay_day, single_day), 9, 9)
    t2 = _days_ahead(rng, deals.closed, rest_day, 9, 9)
    first_amount = np.where(two_part, np.round(amount * prepay_share), amount).astype(np.int64)

    won_closed = deals.won & deals.is_closed
    deal_key = key0 + np.arange(nd)
    first = won_closed & paid
    rest = first & two_part
    payments: Arrays = {
        "deal_key": np.r_[deal_key[first], deal_key[rest]],
        "paid_at": np.r_[t1[first], t2[rest]],
        "amount": np.r_[first_amount[first], (amount.astype(np.int64) - first_amount)[rest]],
        "part": np.r_[np.where(two_part, 1, 0)[first], np.full(int(rest.sum()), 2)],
        "no_id": np.r_[no_id[first, 0], no_id[rest, 1]],
    }
    in_bank = payments["paid_at"] < _END_S
    return {k: v[in_bank] for k, v in payments.items()}, np.where(legal & won_closed, inn, -1)


def _deal_rows(deals: _Deals, key0: int, payer_inn: np.ndarray) -> Arrays:
    """The CRM's deal rows as numpy columns (-1 = no value)."""
    won_closed = deals.won & deals.is_closed
    return {
        "deal_key": key0 + np.arange(deals.lead.size),
        "lead_key": key0 + deals.lead,
        "created_at": deals.created,
        "status": np.where(~deals.is_closed, 0, np.where(deals.won, 1, 2)),
        "closed_at": np.where(deals.is_closed, deals.closed, -1),
        "amount": deals.amount.astype(np.int64),
        "gross_profit": np.where(won_closed, np.round(deals.amount * deals.margin), -1).astype(np.int64),
        "product": deals.product,
        "payer_inn": payer_inn,  # a company's requisites in the CRM
    }


def simulate_block(
    index: int, stream: Stream, m: int, seed: int, plant: bool, planted: Planted = PLANTED
) -> Block:
    """The rows of stream ``index`` born from the traffic of month ``m``, drawn from ``default_rng([seed, index, m])``.

    A block holds the month's spend or activities and visits, the leads those visits brought (some are
    created early the next month), their deals and payments whenever they happen. Planting a story in
    one month therefore leaves every other block — every other month of every stream — untouched.

    The steps draw from one generator in a fixed order — visits and leads, the CRM's leads, deals, the
    bank — so the same seed always gives the same company.
    """
    rng = np.random.default_rng([seed, index, m])
    plan = plan_for(stream, plant, planted)
    key0 = (index * 100 + m) * 1_000_000  # unique per block; replaced by readable ids after the final sort
    slump = planted.sales_slump if plant else None
    spend: Arrays = {}
    activities: Arrays = {}
    visits: Arrays = {}
    if stream.kind == "offline":
        arrivals = _offline_leads(stream, m, rng)
    else:
        spend, activities, visits, arrivals = _visits_and_leads(index, stream, plan, m, rng, key0)
    leads, decision, manager, qualified = _crm_leads(rng, index, stream, plan, m, key0, arrivals, slump)
    deals = _deals(rng, stream, plan, m, decision, manager, qualified, slump)
    payments, payer_inn = _bank(rng, deals, key0)
    return Block(spend, activities, visits, leads, _deal_rows(deals, key0, payer_inn), payments)
