"""Alerts that name who must act: tracking broke, sales stalled, money leak, cash gap (docs/schedule.md).

Each check reads the warehouse as of the last complete day ``day`` (yesterday in the business's time
zone) and the week ending on it, with its threshold from ``alerts:`` in kassa.yaml
(:class:`kassa.settings.AlertSettings`), and returns :class:`Alert` s: what happened, since when, how
much money is at stake and whose move it is. Whether an alert is new, still open or recovered is kept in
the warehouse (:mod:`kassa.store.journal`), by :func:`kassa.notify.alerting.check_and_tell`.

Data the checks need but the warehouse may lack: the first answer to a lead (``first_response_at``) —
without any, the unanswered-leads check says so in :attr:`Check.notes` instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis

from kassa.diagnose.significance import benjamini_hochberg, poisson_rate_test, proportion_test
from kassa.i18n import Translator, fmt_money, fmt_percent
from kassa.link.channels import visits_with_channel
from kassa.metrics.compute import base_tables
from kassa.settings import AlertSettings

if TYPE_CHECKING:
    from kassa.store import Warehouse
    from kassa.store.connections import Connection

_ = Translator("alerts")
Who = Literal["marketing", "sales", "owner"]
Family = Literal["tracking", "sales", "money", "cash"]
WHO: dict[Family, Who] = {"tracking": "marketing", "sales": "sales", "money": "marketing", "cash": "owner"}
HISTORY_DAYS = 90  # how far back leads and deals are read: a quarter is what a small business remembers


@dataclass(frozen=True)
class Alert:
    kind: str
    family: Family
    subject: str  # the campaign, manager or connection, as people name it ("" for the whole business)
    since: dt.date
    money: float | None  # at stake, in the business currency (None: cannot be said)
    facts: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None  # for an agency's scope

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def who(self) -> Who:
        return WHO[self.family]

    def message(self, lang: str, currency: str) -> str:
        """What happened, since when, the money at stake and whose move, in ``lang``."""
        f = dict(self.facts)
        f["subject"] = self.subject
        f["since"] = self.since.isoformat()
        f["money"] = fmt_money(self.money or 0, currency, lang)
        for k in ("cpql", "level"):
            if k in f:
                f[k] = fmt_money(f[k], currency, lang)
        for k in ("share", "before", "after"):
            if k in f:
                f[k] = fmt_percent(f[k], lang)
        text = _(TEMPLATES[self.kind], lang, **f)
        return f"{text} {_('Whose move: {who}.', lang, who=_(WHO_WORDS[self.who], lang))}"

    def to_json(self, lang: str, currency: str) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "family": self.family,
            "title": _(TITLES[self.family], lang),
            "subject": self.subject,
            "channel": self.channel,
            "since": self.since.isoformat(),
            "money": self.money,
            "who": self.who,
            "who_text": _(WHO_WORDS[self.who], lang),
            "message": self.message(lang, currency),
        }


# Written as ``_("…")`` (English at import) so tests/test_i18n.py finds every msgid; translated when sent.
TITLES: dict[Family, str] = {
    "tracking": _("Tracking broke"),
    "sales": _("Sales stalled"),
    "money": _("Money leak"),
    "cash": _("Cash gap"),
}
WHO_WORDS = {"marketing": _("marketing"), "sales": _("sales"), "owner": _("owner")}
TEMPLATES = {
    "spend_without_visits": _(
        "Campaign {subject} ({channel}) has spent {money} since {since} and brought no visit "
        "at all: its UTM tags or the site's counter are broken."
    ),
    "unsourced_leads": _(
        "{share} of last week's leads ({count} of {total}) have no source, against {before} "
        "in the {weeks} weeks before (since {since}): check the forms' UTM fields and the CRM integration."
    ),
    "click_ids_missing": _(
        "{share} of {subject} visits since {since} came without a click id ({count} of "
        "{total}): is auto-tagging off? {money} of spend may go unattributed."
    ),
    "sync_stale": _(
        "Connection {subject} has not synced for {hours} hours (data through {through}, since "
        "{since}): check its token, then run kassa sync {subject}."
    ),
    "unanswered_leads": _(
        "{count} new lead(s) since {since} were not answered within {minutes} minutes; "
        "about {money} of sales at stake."
    ),
    "qualified_waiting": _(
        "{count} qualified lead(s) have waited more than {days} days without a deal, the "
        "oldest since {since}; about {money} at stake."
    ),
    "win_rate_falling": _(
        "{subject}'s win rate fell to {after} in the last 4 weeks (since {since}) from "
        "{before} before ({won} of {closed} deals won), beyond chance; about {money} of deals at stake."
    ),
    "cpql_above": _(
        "A qualified lead from {subject} ({channel}) cost {cpql} last week (since {since}) against "
        "{level} in the {weeks} weeks before: {money} more than at that level."
    ),
    "zero_qualified": _(
        "Campaign {subject} ({channel}) has spent {money} since {since} and brought no qualified lead."
    ),
    "unpaid_won": _(
        "{count} won deal(s) of {subject} are unpaid more than {days} days after winning, the "
        "oldest since {since}: {money} outstanding."
    ),
}


@dataclass
class Check:
    """One run of every check: the alerts, and what could not be checked (in words)."""

    day: dt.date
    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rows(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def _midnight(day: dt.date, plus: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=plus), dt.time())


def _day(v: Any) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def check(
    wh: Warehouse,
    day: dt.date,
    *,
    connections: list[Connection] | None = None,
    now: dt.datetime | None = None,
) -> Check:
    """Every alert as of the last complete day ``day``; ``connections`` for the sync check (with ``now``)."""
    st = wh.settings.alerts
    out = Check(day)
    # The stitched trail the metrics read, built once per open warehouse (the dashboard's pages share it).
    trail = base_tables(wh, wh.settings).chain
    start = day - dt.timedelta(days=HISTORY_DAYS)
    spend = _rows(
        wh.table("spend")
        .filter((ibis._.date >= start) & (ibis._.date <= day))
        .group_by(["date", "channel", "campaign"])
        .aggregate(cost=ibis._.cost.sum())
    )
    leads = _rows(
        trail.leads.filter(
            (ibis._.created_at >= _midnight(start)) & (ibis._.created_at < _midnight(day, 1))
        ).select("lead_id", "created_at", "status", "manager", "first_response_at", "channel", "campaign")
    )
    deals = _rows(
        trail.deal_status.select(
            "deal_id", "lead_id", "status", "closed_at", "amount", "outstanding", "manager"
        )
    )
    with_deal = {d["lead_id"] for d in deals}
    for lead in leads:
        lead["qualified"] = lead["status"] == "qualified" or lead["lead_id"] in with_deal
    won = [d for d in deals if d["status"] == "won"]
    value = sum(d["amount"] or 0 for d in won) / max(1, len(leads))  # sales a lead brings, on average
    _tracking(wh, st, day, spend, leads, out)
    _sales(st, day, leads, deals, value, out)
    _money(st, day, spend, leads, out)
    _cash(st, day, won, out)
    if connections is not None and now is not None:
        _stale(st, connections, now, out)
    return out


def _runs_back(day: dt.date, bad: set[dt.date], limit: int = 30) -> dt.date:
    """The first day of the run of ``bad`` days that ends on ``day``."""
    first = day
    while first - dt.timedelta(days=1) in bad and (day - first).days < limit:
        first -= dt.timedelta(days=1)
    return first


def _tracking(
    wh: Warehouse,
    st: AlertSettings,
    day: dt.date,
    spend: list[dict[str, Any]],
    leads: list[dict[str, Any]],
    out: Check,
) -> None:
    first = day - dt.timedelta(days=30)
    visits = visits_with_channel(
        wh.table("visits").filter((ibis._.ts >= _midnight(first)) & (ibis._.ts < _midnight(day, 1))),
        wh.settings,
    )
    blank = visits.click_id.isnull() | (visits.click_id.strip() == "")
    per_day = _rows(
        visits.mutate(d=visits.ts.date(), no_id=blank.cast("int64"))
        .group_by(["d", "channel", "utm_campaign"])
        .aggregate(n=ibis._.count(), no_id=ibis._.no_id.sum())
    )
    seen = {(r["d"], (r["utm_campaign"] or "").strip().lower()) for r in per_day}
    # Spend without visits: every day of the run had cost and not one visit tagged with the campaign.
    by_campaign: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(dict)
    for r in spend:
        if r["date"] >= first and (r["cost"] or 0) > 0:
            by_campaign[(r["channel"], r["campaign"])][r["date"]] = r["cost"]
    for (channel, campaign), days in by_campaign.items():
        bad = {d for d in days if (d, campaign.strip().lower()) not in seen}
        if day in bad and days[day] >= st.spend_without_visits_min_cost:
            since = _runs_back(day, bad)
            money = sum(c for d, c in days.items() if since <= d <= day)
            out.alerts.append(
                Alert(
                    "spend_without_visits", "tracking", campaign, since, money, {"channel": channel}, channel
                )
            )
    # Visits of an auto-tagging platform without a click id.
    platform: dict[str, dict[dt.date, tuple[int, int]]] = defaultdict(dict)
    for r in per_day:
        if r["channel"] in st.click_id_channels:
            n, k = platform[r["channel"]].get(r["d"], (0, 0))
            platform[r["channel"]][r["d"]] = (n + r["n"], k + r["no_id"])
    for channel, days_seen in platform.items():
        bad = {
            d
            for d, (n, k) in days_seen.items()
            if n >= st.click_ids_min_visits and k / n >= st.click_ids_missing_share
        }
        if day not in bad:
            continue
        since = _runs_back(day, bad)
        n = sum(v[0] for d, v in days_seen.items() if since <= d <= day)
        k = sum(v[1] for d, v in days_seen.items() if since <= d <= day)
        money = sum(r["cost"] or 0 for r in spend if r["channel"] == channel and since <= r["date"] <= day)
        facts = {"share": k / n, "count": k, "total": n}
        out.alerts.append(Alert("click_ids_missing", "tracking", channel, since, money, facts, channel))
    # The share of leads without a source jumping: last week against the weeks before.
    week = day - dt.timedelta(days=6)
    before_start = week - dt.timedelta(days=28)
    now_leads = [x for x in leads if _day(x["created_at"]) >= week]
    old_leads = [x for x in leads if before_start <= _day(x["created_at"]) < week]
    k2 = sum(1 for x in now_leads if x["channel"] == "unknown")
    k1 = sum(1 for x in old_leads if x["channel"] == "unknown")
    n2, n1 = len(now_leads), len(old_leads)
    if n2 >= st.unsourced_leads_min_leads and n1:
        s2, s1 = k2 / n2, k1 / n1
        if s2 - s1 >= st.unsourced_leads_jump and proportion_test(k2, n2, k1, n1).p_value <= st.alpha:
            facts = {"share": s2, "before": s1, "count": k2, "total": n2, "weeks": 4}
            out.alerts.append(Alert("unsourced_leads", "tracking", "", week, None, facts))


def _sales(
    st: AlertSettings,
    day: dt.date,
    leads: list[dict[str, Any]],
    deals: list[dict[str, Any]],
    value: float,
    out: Check,
) -> None:
    week = day - dt.timedelta(days=6)
    if not any(x["first_response_at"] is not None for x in leads):
        out.notes.append(  # English here (a msgid: translated where it is shown)
            _(
                "unanswered leads: the CRM data has no first answer times (first_response_at), so they were "
                "not checked; add that column to the CRM export"
            )
        )
    else:
        limit = dt.timedelta(minutes=st.response_minutes)
        late = [
            x
            for x in leads
            if _day(x["created_at"]) >= week
            and x["status"] != "junk"
            and (x["first_response_at"] is None or x["first_response_at"] - x["created_at"] > limit)
        ]
        if len(late) >= st.unanswered_min_leads:
            since = min(_day(x["created_at"]) for x in late)
            facts = {"count": len(late), "minutes": f"{st.response_minutes:g}"}
            out.alerts.append(Alert("unanswered_leads", "sales", "", since, len(late) * value, facts))
    with_deal = {d["lead_id"] for d in deals}
    waiting = [
        x
        for x in leads
        if x["status"] == "qualified"
        and x["lead_id"] not in with_deal
        and _day(x["created_at"]) <= day - dt.timedelta(days=st.qualified_waiting_days)
    ]
    if len(waiting) >= st.qualified_waiting_min_leads:
        since = min(_day(x["created_at"]) for x in waiting)
        facts = {"count": len(waiting), "days": st.qualified_waiting_days}
        out.alerts.append(Alert("qualified_waiting", "sales", "", since, len(waiting) * value, facts))
    # A manager's win rate: closed deals of the last 4 weeks against the weeks before, Fisher's test, BH.
    recent = day - dt.timedelta(days=27)
    first = day - dt.timedelta(days=7 * st.win_rate_weeks - 1)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # won, closed after; won, closed before
    amounts: dict[str, list[float]] = defaultdict(list)
    for d in deals:
        if d["status"] not in ("won", "lost") or d["closed_at"] is None or not d["manager"]:
            continue
        closed = _day(d["closed_at"])
        if not first <= closed <= day:
            continue
        t = tally[d["manager"]]
        i = 0 if closed >= recent else 2
        t[i] += d["status"] == "won"
        t[i + 1] += 1
        amounts[d["manager"]].append(d["amount"] or 0)
    tested = [
        (m, t, proportion_test(t[0], t[1], t[2], t[3]).p_value)
        for m, t in sorted(tally.items())
        if t[1] and t[3] and t[0] / t[1] < t[2] / t[3]
    ]
    qs = benjamini_hochberg([p for _, _, p in tested])
    for (manager, t, _p), q in zip(tested, qs, strict=True):
        if q > st.alpha:
            continue
        before, after = t[2] / t[3], t[0] / t[1]
        avg = sum(amounts[manager]) / len(amounts[manager])
        facts = {"before": before, "after": after, "won": t[0], "closed": t[1]}
        money = (before - after) * t[1] * avg
        out.alerts.append(Alert("win_rate_falling", "sales", manager, recent, money, facts))


def _money(
    st: AlertSettings, day: dt.date, spend: list[dict[str, Any]], leads: list[dict[str, Any]], out: Check
) -> None:
    week = day - dt.timedelta(days=6)
    level_start = week - dt.timedelta(days=7 * st.cpql_weeks)
    cost: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])  # last week, level weeks
    for r in spend:
        i = 0 if r["date"] >= week else (1 if r["date"] >= level_start else None)
        if i is not None:
            cost[(r["channel"], r["campaign"])][i] += r["cost"] or 0
    ql: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for x in leads:
        if not x["qualified"]:
            continue
        d = _day(x["created_at"])
        i = 0 if d >= week else (1 if d >= level_start else None)
        if i is not None:
            ql[(x["channel"], x["campaign"])][i] += 1
    for key, (c_now, c_before) in sorted(cost.items()):
        k_now, k_before = ql[key]
        if not (k_now and k_before and c_now and c_before):
            continue
        cpql, level = c_now / k_now, c_before / k_before
        if cpql < level * (1 + st.cpql_margin):
            continue
        # Fewer qualified leads per ruble than before, beyond chance (the rates' exact test).
        if poisson_rate_test(k_before, c_before, k_now, c_now).p_value > st.alpha:
            continue
        facts = {"channel": key[0], "cpql": cpql, "level": level, "weeks": st.cpql_weeks}
        out.alerts.append(Alert("cpql_above", "money", key[1], week, c_now - k_now * level, facts, key[0]))
    # Spending with no qualified lead for N days.
    since = day - dt.timedelta(days=st.zero_qualified_days - 1)
    last_ql: dict[tuple[str, str], dt.date] = {}
    for x in leads:
        if x["qualified"]:
            k = (x["channel"], x["campaign"])
            last_ql[k] = max(last_ql.get(k, dt.date.min), _day(x["created_at"]))
    spent: dict[tuple[str, str], dict[dt.date, float]] = defaultdict(dict)
    for r in spend:
        if (r["cost"] or 0) > 0:
            spent[(r["channel"], r["campaign"])][r["date"]] = r["cost"]
    for key, days in sorted(spent.items()):
        after = last_ql.get(key, dt.date.min)
        if after >= since or not any(d >= since for d in days):
            continue
        first = max(after + dt.timedelta(days=1), min(days))
        total = sum(c for d, c in days.items() if d >= first)
        if total >= st.zero_qualified_min_cost:
            out.alerts.append(
                Alert("zero_qualified", "money", key[1], first, total, {"channel": key[0]}, key[0])
            )


def _cash(st: AlertSettings, day: dt.date, won: list[dict[str, Any]], out: Check) -> None:
    late = day - dt.timedelta(days=st.unpaid_days)
    by_manager: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in won:
        if d["closed_at"] is not None and _day(d["closed_at"]) <= late and (d["outstanding"] or 0) > 0.005:
            by_manager[d["manager"] or "—"].append(d)
    for manager, ds in sorted(by_manager.items()):
        since = min(_day(d["closed_at"]) for d in ds)
        money = sum(d["outstanding"] for d in ds)
        facts = {"count": len(ds), "days": st.unpaid_days}
        out.alerts.append(Alert("unpaid_won", "cash", manager, since, money, facts))


def _stale(st: AlertSettings, connections: list[Connection], now: dt.datetime, out: Check) -> None:
    for c in connections:
        last = c.last_sync or {}
        at = dt.datetime.fromisoformat(last["at"]).astimezone() if last.get("at") else None
        ok_at = at if last.get("ok") else None
        through = c.cursor
        if ok_at is None and through is not None:
            ok_at = dt.datetime.combine(through + dt.timedelta(days=1), dt.time()).astimezone()
        if ok_at is None:
            continue  # never synced: nothing to go stale yet (kassa connections says so)
        hours = (now - ok_at).total_seconds() / 3600
        if hours > st.sync_stale_hours:
            facts = {"hours": int(hours), "through": str(through or "—")}
            since = ok_at.date()
            out.alerts.append(Alert("sync_stale", "tracking", c.name, since, None, facts))
