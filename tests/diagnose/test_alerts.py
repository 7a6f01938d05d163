"""Golden tests of the alerts: a small hand-made company (real DuckDB file) where each alert's numbers are
worked out by hand below, and the same company healthy, where none fires.

The last complete day is 2026-11-14 (the check runs on 2026-11-15 09:00 Moscow); the last week is
11-08..11-14 and the four weeks before it 10-11..11-07.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kassa.diagnose.alerts import check
from kassa.settings import Settings
from kassa.store.connections import Connection, Connections

DAY = dt.date(2026, 11, 14)
NOW = dt.datetime(2026, 11, 15, 6, 0, tzinfo=dt.UTC)  # 09:00 in Moscow


def days(first: str, last: str) -> list[dt.date]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


def company(broken: bool) -> dict[str, str]:
    spend = ["date,channel,campaign,impressions,clicks,cost"]
    visits = ["visit_id,client_id,ts,utm_source,utm_medium,utm_campaign,referrer,click_id"]
    leads = [
        "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager,first_response_at"
    ]
    deals = ["deal_id,lead_id,created_at,status,closed_at,amount"]
    payments = ["payment_id,paid_at,amount,deal_id"]
    n = 0

    def visit(day: dt.date, source: str, campaign: str, click: str = "") -> None:
        nonlocal n
        n += 1
        visits.append(f"v{n},c{n},{day} 10:00,{source},cpc,{campaign},,{click}")

    # ya_search (yandex_direct): 1 000 a day and a qualified lead a day for four weeks (level 1 000 per
    # qualified lead); broken, the last week costs 2 000 a day and brings one qualified lead.
    for d in days("2026-10-11", "2026-11-14"):
        last_week = d >= dt.date(2026, 11, 8)
        spend.append(f"{d},yandex_direct,ya_search,1000,50,{2000 if broken and last_week else 1000}")
        # 25 visits a day; broken, the last two days come without yclid (auto-tagging switched off).
        for i in range(25):
            untagged = broken and d >= dt.date(2026, 11, 13)
            visit(d, "yandex", "ya_search", "" if untagged else f"yclid:{d:%m%d}{i}")
        if not last_week or not broken or d == DAY:
            leads.append(f"Lq{d:%m%d},{d} 11:00,,yandex,cpc,ya_search,qualified,Vera,{d} 11:20")
            if not broken:  # healthy, each qualified lead gets its deal the next day
                deals.append(f"Dq{d:%m%d},Lq{d:%m%d},{d + dt.timedelta(days=1)} 10:00,open,,5000")
    # ya_broken: spends 1 500 a day from 11-12 while its visits stop (tags lost); healthy, visits go on.
    for d in days("2026-11-10", "2026-11-14"):
        if d >= dt.date(2026, 11, 12):
            spend.append(f"{d},yandex_direct,ya_broken,500,20,1500")
        if d < dt.date(2026, 11, 12) or not broken:
            visit(d, "yandex", "ya_broken", f"yclid:b{d:%d}")
    # vk_wide: 1 000 a day from 11-01; broken, only junk leads; healthy, a qualified one on 11-12.
    for d in days("2026-11-01", "2026-11-14"):
        spend.append(f"{d},vk_ads,vk_wide,3000,30,1000")
        visit(d, "vk", "vk_wide")
        leads.append(f"Lv{d:%m%d},{d} 12:00,,vk,cpc,vk_wide,junk,Vera,{d} 12:10")
    if not broken:
        leads.append("Lvq,2026-11-12 13:00,,vk,cpc,vk_wide,qualified,Vera,2026-11-12 13:05")
    # Leads without a source: none in the four weeks before; broken, 8 of the last week's (with vk_wide's
    # 7 junk and ya_search's 1 qualified lead: 8 of 16). Answered after 3 hours (broken) or 10 minutes.
    for i in range(8 if broken else 0):
        d = dt.date(2026, 11, 8 + i % 7)
        leads.append(f"Lu{i},{d} 09:00,nobody{i},,,,new,Vera,{d} 12:00")
    if not broken:
        leads.append("Lu0,2026-11-10 09:00,,yandex,cpc,ya_search,new,Vera,2026-11-10 09:10")
    # Boris: 9 of 10 deals won in 09-20..10-17, then 1 of 10 won (broken) or 9 of 10 (healthy); all paid.
    for i in range(20):
        recent = i >= 10
        closed = (
            dt.date(2026, 10, 20) + dt.timedelta(days=i - 10)
            if recent
            else dt.date(2026, 9, 22) + dt.timedelta(days=i)
        )
        won = (i % 10 == 0) if (recent and broken) else (i % 10 != 0)
        leads.append(f"Lb{i},{closed - dt.timedelta(days=5)} 10:00,,yandex,cpc,ya_search,qualified,Boris,")
        deals.append(
            f"Db{i},Lb{i},{closed - dt.timedelta(days=4)} 10:00,{'won' if won else 'lost'},{closed} 15:00,10000"
        )
        if won:
            payments.append(f"Pb{i},{closed + dt.timedelta(days=2)} 10:00,10000,Db{i}")
    # Anna: two deals won in October; broken, unpaid (50 000); healthy, paid.
    for i, (closed, amount) in enumerate((("2026-10-20", 30000), ("2026-10-25", 20000))):
        leads.append(f"La{i},2026-10-10 10:00,,yandex,cpc,ya_search,qualified,Anna,2026-10-10 10:05")
        deals.append(f"Da{i},La{i},2026-10-12 10:00,won,{closed} 12:00,{amount}")
        if not broken:
            payments.append(f"Pa{i},{closed} 18:00,{amount},Da{i}")
    return {
        "spend.csv": "\n".join(spend),
        "visits.csv": "\n".join(visits),
        "leads.csv": "\n".join(leads),
        "deals.csv": "\n".join(deals),
        "payments.csv": "\n".join(payments),
    }


def connections(db: Path, broken: bool) -> list[Connection]:
    conns = Connections(db)
    conns.save(Connection(name="d", service="yandex-direct"), "token-never-shown")
    last_ok = dt.datetime(2026, 11, 13, 8, 0) if broken else dt.datetime(2026, 11, 15, 7, 0)
    conns.record(
        "d",
        through=last_ok.date() - dt.timedelta(days=1),
        outcome={"at": last_ok.astimezone().isoformat(), "ok": True},
    )
    return conns.all()


@pytest.fixture
def broken(make_warehouse):
    return make_warehouse(company(True))


def by_kind(found):
    return {a.kind: a for a in found.alerts}


def test_each_alert_fires_on_the_broken_company(broken, tmp_path):
    found = check(broken, DAY, connections=connections(tmp_path / "w.duckdb", True), now=NOW)
    got = by_kind(found)
    assert sorted(got) == sorted(
        [
            "spend_without_visits",
            "click_ids_missing",
            "unsourced_leads",
            "sync_stale",
            "unanswered_leads",
            "qualified_waiting",
            "win_rate_falling",
            "cpql_above",
            "zero_qualified",
            "unpaid_won",
        ]
    ), [a.key for a in found.alerts]
    a = got["spend_without_visits"]  # 11-12..11-14 at 1 500 a day, no visit
    assert (a.subject, a.since, a.money, a.who) == ("ya_broken", dt.date(2026, 11, 12), 4500, "marketing")
    a = got[
        "click_ids_missing"
    ]  # 50 of ya_search's visits on 11-13..14 untagged; ya_broken's 11-10..11 tagged
    assert (a.subject, a.since, a.facts["count"], a.facts["total"]) == (
        "yandex_direct",
        dt.date(2026, 11, 13),
        50,
        50,
    )
    assert a.money == 2000 * 2 + 1500 * 2  # the platform's spend of those days
    a = got["unsourced_leads"]
    assert (a.facts["count"], a.facts["total"], a.facts["before"]) == (8, 16, 0.0)
    assert a.since == dt.date(2026, 11, 8)
    a = got["sync_stale"]  # last ok 11-13 08:00 local, now 11-15 09:00 Moscow
    assert a.subject == "d" and a.facts["hours"] >= 36 and a.who == "marketing"
    a = got["unanswered_leads"]  # the 8 unsourced leads answered after 3 hours
    assert (a.facts["count"], a.since, a.who) == (8, dt.date(2026, 11, 8), "sales")
    a = got["qualified_waiting"]  # ya_search's 28 qualified leads of 10-11..11-07, no deal
    assert (a.facts["count"], a.since, a.who) == (28, dt.date(2026, 10, 11), "sales")
    a = got["win_rate_falling"]
    assert (a.subject, a.facts["won"], a.facts["closed"], a.facts["before"]) == ("Boris", 1, 10, 0.9)
    assert a.money == pytest.approx((0.9 - 0.1) * 10 * 10000)
    # 14 000 for 1 qualified lead, against 28 000 for 38 (28 of ya_search's own, 10 of Boris's deals' leads)
    a = got["cpql_above"]
    assert (a.subject, a.facts["cpql"]) == ("ya_search", 14000)
    assert a.facts["level"] == pytest.approx(28000 / 38) and a.money == pytest.approx(14000 - 28000 / 38)
    a = got["zero_qualified"]  # vk_wide: 14 days at 1 000, junk only
    assert (a.subject, a.since, a.money) == ("vk_wide", dt.date(2026, 11, 1), 14000)
    a = got["unpaid_won"]
    assert (a.subject, a.since, a.money, a.facts["count"], a.who) == (
        "Anna",
        dt.date(2026, 10, 20),
        50000,
        2,
        "owner",
    )
    assert found.notes == []


def test_none_fires_on_the_healthy_company(make_warehouse, tmp_path):
    wh = make_warehouse(company(False))
    found = check(wh, DAY, connections=connections(tmp_path / "w.duckdb", False), now=NOW)
    assert [a.key for a in found.alerts] == []


def test_messages_say_what_since_money_and_whose_move_in_both_languages(broken, tmp_path):
    got = by_kind(check(broken, DAY))
    en = got["unpaid_won"].message("en", "RUB")
    ru = got["unpaid_won"].message("ru", "RUB")
    assert "Anna" in en and "2026-10-20" in en and "50,000" in en and en.endswith("Whose move: owner.")
    assert "Anna" in ru and "2026-10-20" in ru and "50" in ru and ru.endswith("Чей ход: собственник.")
    for a in got.values():
        assert "{" not in a.message("ru", "RUB") and a.message("ru", "RUB") != a.message("en", "RUB")


def test_without_answer_times_the_check_says_so(make_warehouse):
    files = company(True)
    files["leads.csv"] = "\n".join(line.rsplit(",", 1)[0] for line in files["leads.csv"].splitlines())
    found = check(make_warehouse(files, settings=Settings()), DAY)
    assert "unanswered_leads" not in by_kind(found)
    assert any("first_response_at" in n for n in found.notes)
