"""Turn the company of :mod:`kassa.demo.company` into seeded random events, written as canonical CSVs.

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

Shares are drawn as fixed-size random samples per month (:func:`quota`, :func:`stratified_uniform`):
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import gamma as gamma_dist

from kassa.demo.company import (
    CALL_SHARE,
    CLICK_TO_VISIT,
    DEAL_SHARE,
    EMAIL_SHARE,
    END,
    FIRST_INVOICE,
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
    Stream,
)
from kassa.demo.people import company_inns, email_draws, email_text, phone_draws, phone_text
from kassa.errors import KassaError
from kassa.settings import Settings

FILES = ("spend.csv", "activities.csv", "visits.csv", "leads.csv", "deals.csv", "payments.csv")

DAY = 86_400
HOUR = 3_600
MONTHS = list(SEASON)
_DAYS = np.arange(np.datetime64(START), np.datetime64(END), dtype="datetime64[D]")
_DAY0 = int(_DAYS[0].astype("datetime64[s]").astype(np.int64))
_END_S = int(np.datetime64(END).astype("datetime64[s]").astype(np.int64))
_MONTH_OF_DAY = (_DAYS.astype("datetime64[M]") - _DAYS[0].astype("datetime64[M]")).astype(np.int64)
_WEEKDAY = (_DAYS.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
_DAY_OF_MONTH = (_DAYS - _DAYS.astype("datetime64[M]")).astype(np.int64) + 1
_MONTH_START_S = np.array([np.datetime64(m, "M").astype("datetime64[s]").astype(np.int64) for m in MONTHS])
_SEASON = np.array([SEASON[m] for m in MONTHS])
_day_weight = np.array(WEEKDAY_WEIGHT)[_WEEKDAY]
# Share of its month's volume each day gets: weekday weight over the month's sum of weights, so every
# month's expectation is exactly volume × season whatever its length (September = October when healthy).
_DAY_SHARE = _day_weight / np.bincount(_MONTH_OF_DAY, weights=_day_weight)[_MONTH_OF_DAY]
_HOUR_P = np.array(HOUR_WEIGHT) / np.sum(HOUR_WEIGHT)
_LAST_DAY_OF_MONTH = np.array([np.flatnonzero(m == _MONTH_OF_DAY)[-1] for m in range(len(SEASON))])
_VAT = np.array(
    [Settings().vat_rate_on(d) for d in _DAYS.astype(dt.date)]
)  # default rates: 20 %, 22 % from 2026

# Text options of every stream in one list each, so blocks store numbers and text is written once.
_TERMS = [t for s in STREAMS for t in s.terms]
_REFERRERS = [r for s in STREAMS for r in s.referrers]
_LANDINGS = [p for s in STREAMS for p in s.landing] + ["/"]
_ROOT_PAGE = len(_LANDINGS) - 1  # where a returning visitor lands after typing the address


def _offsets(sizes: list[int]) -> list[int]:
    return [int(x) for x in np.r_[0, np.cumsum(sizes)[:-1]]]


_TERM_AT = _offsets([len(s.terms) for s in STREAMS])
_REFERRER_AT = _offsets([len(s.referrers) for s in STREAMS])
_LANDING_AT = _offsets([len(s.landing) for s in STREAMS])

MAX_CYCLE_DAYS = 60  # the longest sales cycle; the Gamma tail beyond it (0.1 % of deals) is cut
LEAD_STATUS = ("new", "qualified", "junk")
DEAL_STATUS = ("open", "won", "lost")
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


# -- sampling -----------------------------------------------------------------------------------------


def quota(rng: np.random.Generator, p: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli(pᵢ) draws whose number within each group is Σpᵢ rounded up or down (systematic sampling).

    Items are put in random order within their group; with one uniform start ``u`` per group, item *i* is
    drawn when an integer falls in ``(u + Σ_{j<i} pⱼ, u + Σ_{j≤i} pⱼ]``, which happens with probability
    exactly pᵢ (Madow 1949, systematic sampling with unequal probabilities). Each item keeps its own
    chance, but a month's count does not scatter binomially around it.
    """
    n = p.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    g0 = np.zeros(n, dtype=np.int64) if group is None else group
    order = np.lexsort((rng.random(n), g0))
    ps, g = p[order], g0[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    lengths = np.diff(np.r_[starts, n])
    cs = np.cumsum(ps)
    c = cs - np.repeat(cs[starts] - ps[starts], lengths) + np.repeat(rng.random(starts.size), lengths)
    out = np.empty(n, dtype=bool)
    out[order] = np.floor(c) > np.floor(c - ps)
    return out


def stratified_uniform(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """One Uniform(0, 1) value per item, evenly spread within each group (stratified sampling).

    Within a group of n items in random order, item j gets (j + u) / n with one uniform u per group:
    each value is still uniform, but a group's values cover (0, 1) evenly, so quantiles drawn from them
    (a product, a sales cycle) follow their distribution closely even in a group of ten.
    """
    n = group.size
    if n == 0:
        return np.zeros(0)
    order = np.lexsort((rng.random(n), group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    lengths = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, lengths)
    out = np.empty(n)
    out[order] = (position + np.repeat(rng.random(starts.size), lengths)) / np.repeat(lengths, lengths)
    return out


def quota_choice(rng: np.random.Generator, shares: tuple[float, ...], group: np.ndarray) -> np.ndarray:
    """A category per item with the given shares; each group's counts are n·share rounded up or down."""
    cum = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cum, stratified_uniform(rng, group), side="right"), len(shares) - 1)


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
    left = _LAST_DAY_OF_MONTH[_MONTH_OF_DAY[np.minimum(day, _DAYS.size - 1)]] - day
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


def simulate_block(
    index: int, stream: Stream, m: int, seed: int, plant: bool, planted: Planted = PLANTED
) -> Block:
    """The rows of stream ``index`` born from the traffic of month ``m``, drawn from ``default_rng([seed, index, m])``.

    A block holds the month's spend or activities and visits, the leads those visits brought (some are
    created early the next month), their deals and payments whenever they happen. Planting a story in
    one month therefore leaves every other block — every other month of every stream — untouched.
    """
    rng = np.random.default_rng([seed, index, m])
    plan = plan_for(stream, plant, planted)
    key0 = (index * 100 + m) * 1_000_000  # unique per block; replaced by readable ids after the final sort

    # -- visits and the leads they bring -------------------------------------------------------------
    spend: Arrays = {}
    activities: Arrays = {}
    visits: Arrays = {}
    if stream.kind == "offline":
        days = np.flatnonzero(m == _MONTH_OF_DAY)
        day = np.repeat(days, rng.poisson(stream.leads_per_month * _SEASON[m] * _DAY_SHARE[days]))
        lead_ts = np.sort(_DAY0 + day * DAY + rng.integers(9 * HOUR, 20 * HOUR, size=day.size))
        n_leads = lead_ts.size
        lead_client = np.full(n_leads, -1)
        lead_has_utm = np.zeros(n_leads, dtype=bool)
        lead_called = np.ones(n_leads, dtype=bool)
        lead_click = np.full(n_leads, -1)
    else:
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
        lead_ts = lead_ts_all[keep]
        lead_client = client[li][keep]
        lead_has_utm = (same & ~called)[keep] & bool(stream.utm_source)
        lead_called = (same & called)[keep]
        # A form sends the click id with the UTMs (Direct's yclid); a call or a later visit does not.
        lead_click = np.where(lead_has_utm, click[li][keep], -1)
        n_leads = lead_ts.size

    # -- the CRM: managers, qualification, deals ------------------------------------------------------
    manager = quota_choice(rng, MANAGER_SHARE, np.zeros(n_leads, dtype=np.int64))
    processed = rng.random(n_leads) < PROCESSED
    delay = rng.lognormal(np.log(12 * 60), 1.0, size=n_leads)  # seconds to the first reply, median 12 min
    response = _working_time(lead_ts) + delay.astype(np.int64)
    decision = _working_time(response + rng.integers(HOUR // 2, 30 * HOUR, size=n_leads))
    slump = planted.sales_slump if plant else None
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
        "client": lead_client,
        "stream": np.where(lead_has_utm, index, -1),  # whose UTMs the lead carries; -1: none
        "status": np.where(~decided, 0, np.where(qualified, 1, 2)),
        "manager": manager,
        "has_phone": lead_called | (rng.random(n_leads) < PHONE_SHARE),
        "has_email": rng.random(n_leads) < EMAIL_SHARE,
        "first_response_at": np.where(processed & (response < _END_S), response, -1),
        "click": lead_click,
        **phone_draws(rng, n_leads),
        **email_draws(rng, n_leads),
    }

    d = np.flatnonzero(quota(rng, DEAL_SHARE * (decided & qualified)))
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

    # -- the bank -----------------------------------------------------------------------------------
    paid = quota(rng, PAID_SHARE * won_as_drawn)
    two_part = rng.random(nd) < TWO_PART_SHARE
    # Days from invoice to payment: Exponential(mean 4 days) quantiles, at most 20 days.
    single_day = np.minimum(np.floor(-4.0 * np.log1p(-stratified_uniform(rng, cohort))), 20).astype(np.int64)
    prepay_day = rng.integers(0, 4, size=nd)
    rest_day = rng.integers(7, 21, size=nd)
    prepay_share = rng.choice(np.array([0.3, 0.5, 0.7]), size=nd)
    legal = rng.random(nd) < LEGAL_SHARE
    inn = company_inns(rng, nd)
    no_id = rng.random((nd, 2)) < NO_DEAL_ID_SHARE
    t1 = _days_ahead(rng, closed, np.where(two_part, prepay_day, single_day), 9, 9)
    t2 = _days_ahead(rng, closed, rest_day, 9, 9)
    first_amount = np.where(two_part, np.round(amount * prepay_share), amount).astype(np.int64)

    won_closed = won & is_closed
    deal_key = key0 + np.arange(nd)
    deals: Arrays = {
        "deal_key": deal_key,
        "lead_key": key0 + d,
        "created_at": created,
        "status": np.where(~is_closed, 0, np.where(won, 1, 2)),
        "closed_at": np.where(is_closed, closed, -1),
        "amount": amount.astype(np.int64),
        "gross_profit": np.where(won_closed, np.round(amount * margin), -1).astype(np.int64),
        "product": product,
        "payer_inn": np.where(legal & won_closed, inn, -1),  # a company's requisites in the CRM
    }
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
    payments = {k: v[in_bank] for k, v in payments.items()}
    return Block(spend, activities, visits, leads, deals, payments)


# -- the whole company --------------------------------------------------------------------------------


def _frame(parts: list[Arrays]) -> pl.DataFrame:
    parts = [p for p in parts if p]
    return pl.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def _stamp(col: str) -> pl.Expr:
    """Seconds since the epoch (local time of the business) -> naive datetime; -1 means "no value"."""
    c = pl.col(col)
    return pl.when(c >= 0).then(pl.from_epoch(c, time_unit="s")).alias(col)


def _text(col: str, options: Sequence[str | None], name: str | None = None) -> pl.Expr:
    """Index column -> its text in ``options``; -1 means "no value"."""
    c = pl.col(col)
    return (
        pl.when(c >= 0)
        .then(pl.lit(pl.Series(list(options), dtype=pl.String)).gather(c.clip(0)))
        .alias(name or col)
    )


def _stream_text(field: str, col: str = "stream") -> pl.Expr:
    """A stream's text attribute (``utm_source``, ``channel``…) for a stream index column; -1 or "" -> no value."""
    return _text(col, [getattr(s, field) or None for s in STREAMS], field)


def build_tables(seed: int = 7, plant: bool = True) -> dict[str, pl.DataFrame]:
    """The six canonical tables of the demo company as Polars frames, in the column order of the CSVs."""
    blocks = [simulate_block(i, s, m, seed, plant) for i, s in enumerate(STREAMS) for m in range(len(MONTHS))]

    spend = (
        _frame([b.spend for b in blocks])
        .with_columns(
            date=pl.lit(pl.Series(_DAYS)).gather(pl.col("day")),
            channel=_stream_text("channel"),
            campaign=_stream_text("utm_campaign"),
            reach=pl.when(pl.col("reach") >= 0).then(pl.col("reach")),
            vat_included=pl.lit(pl.Series([s.vat_included for s in STREAMS])).gather(pl.col("stream")),
        )
        .sort("date", "channel", "campaign")
    )
    activities = (
        _frame([b.activities for b in blocks])
        .with_columns(
            date=pl.lit(pl.Series(_DAYS)).gather(pl.col("day")),
            channel=_stream_text("channel"),
            kind=_stream_text("event_kind"),
            count=pl.lit(1, dtype=pl.Int64),
            cost=pl.lit(pl.Series([s.event_cost for s in STREAMS])).gather(pl.col("stream")),
            campaign=_stream_text("utm_campaign"),
        )
        .sort("date", "channel", "kind")
    )

    visits = _frame([b.visits for b in blocks]).sort("ts", "client", "stream")
    # Metrica's ClientID: the first visit's Unix time followed by nine random digits.
    visits = visits.with_columns(
        client_id=pl.concat_str(
            pl.col("first_ts").cast(pl.String), pl.col("suffix").cast(pl.String).str.zfill(9)
        )
    )
    client_ids = visits.select("client", "client_id").unique("client")
    if client_ids["client_id"].n_unique() != client_ids.height:
        raise KassaError(
            f"demo generator: two visitors got the same client id with seed {seed}; try another seed"
        )
    visits = visits.with_columns(
        visit_id=(pl.int_range(pl.len()) + 7_300_000_000).cast(pl.String),
        ts=_stamp("ts"),
        utm_source=_stream_text("utm_source"),
        utm_medium=_stream_text("utm_medium"),
        utm_campaign=_stream_text("utm_campaign"),
        utm_term=_text("term", _TERMS),
        referrer=_text("referrer", _REFERRERS),
        landing_page=_text("landing", _LANDINGS),
        click_id=pl.when(pl.col("click") >= 0).then(
            pl.concat_str(_stream_text("click_id"), pl.lit(":"), pl.col("click").cast(pl.String))
        ),
    )

    leads = (
        _frame([b.leads for b in blocks])
        .sort("created_at", "lead_key")
        .join(client_ids, on="client", how="left", maintain_order="left")
        .with_columns(
            lead_id=pl.format("L-{}", pl.int_range(pl.len()) + 10_001),
            created_at=_stamp("created_at"),
            first_response_at=_stamp("first_response_at"),
            utm_source=_stream_text("utm_source"),
            utm_medium=_stream_text("utm_medium"),
            utm_campaign=_stream_text("utm_campaign"),
            status=_text("status", LEAD_STATUS),
            manager=_text("manager", MANAGERS),
            phone=pl.when(pl.col("has_phone")).then(phone_text()),
            email=pl.when(pl.col("has_email")).then(email_text()),
            click_id=pl.when(pl.col("click") >= 0).then(
                pl.concat_str(_stream_text("click_id"), pl.lit(":"), pl.col("click").cast(pl.String))
            ),
        )
    )

    deals = (
        _frame([b.deals for b in blocks])
        .sort("created_at", "deal_key")
        .join(leads.select("lead_key", "lead_id"), on="lead_key", how="left", maintain_order="left")
        .with_columns(deal_id=pl.format("D-{}", pl.int_range(pl.len()) + 5_001))
    )
    # Invoices are issued when a deal is won, numbered in that order.
    invoices = (
        deals.filter(pl.col("status") == 1)
        .sort("closed_at", "deal_key")
        .select("deal_key", invoice_no=pl.int_range(pl.len()) + FIRST_INVOICE)
    )
    deals = deals.join(invoices, on="deal_key", how="left", maintain_order="left")

    payments = (
        _frame([b.payments for b in blocks])
        .sort("paid_at", "deal_key", "part")
        .join(
            deals.select("deal_key", "deal_id", "invoice_no", "closed_at", "product", "payer_inn"),
            on="deal_key",
            how="left",
            maintain_order="left",
        )
    )
    what = _text("product", [p.title_ru for p in PRODUCTS], "what")
    opening = _text(
        "part", ("Оплата по счету № ", "Предоплата по счету № ", "Доплата по счету № "), "opening"
    )
    invoice_date = pl.from_epoch(pl.col("closed_at"), time_unit="s").dt.strftime("%d.%m.%Y")
    payments = payments.with_columns(
        payment_id=pl.format("P-{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(6)),
        paid_at=_stamp("paid_at"),
        purpose=pl.concat_str(
            opening,
            pl.col("invoice_no").cast(pl.String),
            pl.lit(" от "),
            invoice_date,
            pl.lit(" за "),
            what,
            pl.lit(". НДС не облагается"),
        ),
        invoice=pl.when(~pl.col("no_id")).then(pl.col("invoice_no").cast(pl.String)),
        deal_id=pl.when(~pl.col("no_id")).then(pl.col("deal_id")),
        payer_inn=pl.when(pl.col("payer_inn") >= 0).then(pl.col("payer_inn").cast(pl.String)),
    )
    deals = deals.with_columns(
        created_at=_stamp("created_at"),
        closed_at=_stamp("closed_at"),
        status=_text("status", DEAL_STATUS),
        gross_profit=pl.when(pl.col("gross_profit") >= 0).then(pl.col("gross_profit")),
        invoice=pl.col("invoice_no").cast(pl.String),
        payer_inn=pl.when(pl.col("payer_inn") >= 0).then(pl.col("payer_inn").cast(pl.String)),
    )

    return {
        "spend": spend.select(
            "date", "channel", "campaign", "impressions", "clicks", "cost", "reach", "vat_included"
        ),
        "activities": activities.select("date", "channel", "kind", "count", "cost", "campaign"),
        "visits": visits.select(
            "visit_id",
            "client_id",
            "ts",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "referrer",
            "landing_page",
            "click_id",
        ),
        "leads": leads.select(
            "lead_id",
            "created_at",
            "client_id",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "status",
            "manager",
            "phone",
            "email",
            "first_response_at",
            "click_id",
        ),
        "deals": deals.select(
            "deal_id",
            "lead_id",
            "created_at",
            "status",
            "closed_at",
            "amount",
            "gross_profit",
            "invoice",
            "payer_inn",
        ),
        "payments": payments.select(
            "payment_id", "paid_at", "amount", "deal_id", "invoice", "payer_inn", "purpose"
        ),
    }


def write_tables(tables: dict[str, pl.DataFrame], folder: Path) -> list[Path]:
    """Write the frames as kassa canonical CSVs (UTF-8, ISO dates, dot decimals, empty = no value)."""
    paths = []
    for name in FILES:
        path = folder / name
        tables[name.removesuffix(".csv")].write_csv(
            path,
            line_terminator="\n",
            null_value="",
            float_precision=2,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%d %H:%M:%S",
        )
        paths.append(path)
    return paths
