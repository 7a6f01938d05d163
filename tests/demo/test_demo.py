"""The demo company: deterministic, loads cleanly through the importer, and tells exactly its planted story.

The planted facts are checked through ``kassa.metrics.compute`` on a real warehouse, as the diagnosis
and the report will see them. Expected magnitudes come from :data:`kassa.demo.PLANTED` (the plan);
tolerances allow for the traffic noise the generator keeps (Poisson visits, LogNormal daily prices).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import binomtest
from tests.conftest import DemoCompany

from kassa.demo import FILES, FIRST_MONTH, LAST_MONTH, PLANTED, generate, load
from kassa.demo.company import MANAGERS, STREAMS
from kassa.demo.people import inn_is_valid
from kassa.demo.sampling import quota, stratified_uniform
from kassa.errors import KassaError
from kassa.link.money_trail import MoneyTrail
from kassa.metrics.compute import compute
from kassa.sources.validate import normalise_phone
from kassa.store import Warehouse

AI = PLANTED.activity_illusion
BC = PLANTED.busy_channel
SS = PLANTED.sales_slump
SEP, OCT = AI.baseline_month, AI.month
COUNTS = ["visits", "leads", "qualified_leads", "sales"]
METRICS = [
    "cost", "marketing_cost", "impressions", "reach", "clicks", "ctr", "cpc", "posts", *COUNTS, "revenue", "gross_profit",
    "payments", "romi",
]  # fmt: skip
CAMPAIGN_KEYS = ["channel", "campaign"]


class Demo:
    """One loaded demo company and the metric tables the tests read (computed once per module)."""

    def __init__(self, wh: Warehouse, folder: Path) -> None:
        self.wh = wh
        self.folder = folder
        # One computation for every test (each one stitches all 200 000 visits again).
        frame = compute(
            wh, METRICS, by=["campaign", "month"], period=f"{FIRST_MONTH}..{LAST_MONTH}", with_total=False
        ).frame
        # Channels without campaigns (seo, direct, unknown) are named by their channel.
        key = pl.when(pl.col("campaign") == "(not set)").then(pl.col("channel")).otherwise(pl.col("campaign"))
        self.by_month = frame.with_columns(key=key)
        self.managers = compute(
            wh,
            ["leads", "qualified_leads", "sales"],
            by=["manager", "month"],
            period="2026-05..2026-07",
            with_total=False,
        ).frame

    def value(self, campaign: str, month: str, metric: str) -> Any:
        row = self.by_month.filter((pl.col("key") == campaign) & (pl.col("month") == month))
        assert row.height == 1, f"no row for {campaign} {month}"
        return row[metric][0]

    def manager(self, name: str, month: str, metric: str) -> Any:
        return self.managers.filter((pl.col("manager") == name) & (pl.col("month") == month))[metric][0]

    def csv(self, name: str) -> pl.DataFrame:
        return pl.read_csv(self.folder / name, infer_schema=False)


def _open(company: DemoCompany) -> Iterator[Demo]:
    """The session's demo company (tests/conftest.py), read-only: these tests only read it."""
    wh = company.open()
    try:
        yield Demo(wh, company.csv)
    finally:
        wh.close()


@pytest.fixture(scope="module")
def planted(demo_company: Callable[[bool], DemoCompany]) -> Iterator[Demo]:
    yield from _open(demo_company(True))


@pytest.fixture(scope="module")
def healthy(demo_company: Callable[[bool], DemoCompany]) -> Iterator[Demo]:
    yield from _open(demo_company(False))


def _z(before: float, after: float) -> float:
    """Two Poisson counts of equal exposure: z = (after − before) / √(after + before)."""
    return 0.0 if before + after == 0 else (after - before) / math.sqrt(before + after)


# -- determinism and loading ----------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_other_data(planted: Demo, tmp_path: Path) -> None:
    again = generate(tmp_path / "again")
    assert [p.name for p in again] == list(FILES)
    for p in again:
        assert p.read_bytes() == (planted.folder / p.name).read_bytes(), p.name
    other = generate(tmp_path / "other", seed=8)
    assert (tmp_path / "other" / "visits.csv").read_bytes() != (planted.folder / "visits.csv").read_bytes()
    assert len(other) == 6


def test_every_row_loads_through_the_importer(planted: Demo) -> None:
    batches = planted.wh.batches()
    assert sorted(b["kind"] for b in batches) == sorted(
        ["spend", "activities", "visits", "leads", "deals", "payments"]
    )
    for b in batches:
        assert b["rows_rejected"] == 0 and b["rows_loaded"] == b["rows_read"] > 0, b
    # Not even a kept-row warning (an unparsable phone or e-mail) in any file.
    for name in FILES:
        _, results = planted.wh.read_file(planted.folder / name)
        assert [e for r in results for e in r.errors] == [], name
    assert FIRST_MONTH == "2025-10" and LAST_MONTH == "2026-10"


def test_size_and_span(planted: Demo) -> None:
    visits = planted.csv("visits.csv")
    assert 150_000 <= visits.height <= 230_000
    spend = planted.csv("spend.csv")
    assert (spend["date"].min(), spend["date"].max()) == ("2025-10-01", "2026-10-31")
    assert visits["ts"].max() < "2026-11-01"  # an export taken on 2026-11-01


def test_loading_the_same_demo_again_changes_nothing(planted: Demo, tmp_path: Path) -> None:
    db = tmp_path / "twice.duckdb"
    said: list[str] = []
    load(db, plant=False, progress=said.append).close()
    assert said[0] == "generating the demo company (seed 7, healthy)"
    assert all(any(name in line for line in said) for name in FILES)
    with Warehouse.open(db) as wh:
        before = wh.fingerprint()
    load(db, plant=False).close()
    with Warehouse.open(db) as wh:
        assert wh.fingerprint() == before
        assert len(wh.batches()) == 6


def test_a_warehouse_with_other_data_is_refused_untouched(make_warehouse: Any, tmp_path: Path) -> None:
    wh = make_warehouse(
        {"spend.csv": "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,x,10,1,5\n"}
    )
    before = wh.fingerprint()
    wh.close()
    with pytest.raises(KassaError, match="already holds other data"):
        load(tmp_path / "w.duckdb")
    with Warehouse.open(tmp_path / "w.duckdb") as again:
        assert again.fingerprint() == before


def test_generate_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    with pytest.raises(KassaError, match="is a file"):
        generate(f)


# -- planted fact 1: the activity illusion ------------------------------------------------------------


def test_activity_metrics_of_the_lookalike_campaign_all_improve(planted: Demo) -> None:
    c = AI.campaign

    def change(metric: str) -> float:
        return planted.value(c, OCT, metric) / planted.value(c, SEP, metric) - 1

    # Plan: CPC × (1 − 0.15); each day's price also has LogNormal(0, 0.05) noise, ~1 % over a month.
    assert change("cpc") == pytest.approx(AI.cpc_change, abs=0.03)
    # Plan: reach = impressions / frequency; impressions ×1.30 and frequency ×0.65 -> ×2.0.
    assert planted.value(c, OCT, "reach") / planted.value(c, SEP, "reach") == pytest.approx(
        AI.reach_ratio, abs=0.1
    )
    # Plan: CTR × 1.20 (clicks ~ Binomial(impressions, CTR): ±2 % noise on ~6 000 clicks).
    assert change("ctr") == pytest.approx(AI.ctr_change, abs=0.04)
    # Plan: clicks and visits × 1.30 × 1.20 = ×1.56.
    assert AI.clicks_change == pytest.approx(0.56)
    assert change("clicks") == pytest.approx(AI.clicks_change, abs=0.08)
    assert change("visits") == pytest.approx(AI.clicks_change, abs=0.08)


def test_its_qualified_leads_fall_significantly_and_sales_and_revenue_do_not_grow(planted: Demo) -> None:
    c = AI.campaign
    sep_q, oct_q = planted.value(c, SEP, "qualified_leads"), planted.value(c, OCT, "qualified_leads")
    # Plan: October traffic's qualified leads ×0.60 (a few September visits' leads created in October
    # keep the old quality).
    assert oct_q / sep_q - 1 == pytest.approx(AI.qualified_leads_change, abs=0.08)
    # Equal exposure (same season index), so under "no change" October's share of the two months' count
    # is Binomial(n, 1/2): the drop must be significant at 1 %.
    assert binomtest(oct_q, sep_q + oct_q, 0.5, alternative="less").pvalue < 0.01
    assert planted.value(c, OCT, "leads") >= planted.value(c, SEP, "leads")  # more leads: CPL looks better
    assert planted.value(c, OCT, "sales") <= planted.value(c, SEP, "sales")
    assert planted.value(c, OCT, "revenue") <= planted.value(c, SEP, "revenue")
    assert planted.value(c, OCT, "cost") > planted.value(c, SEP, "cost")  # paying more for it
    assert planted.value(c, OCT, "romi") < planted.value(c, SEP, "romi")


# -- planted fact 2: the busy Telegram channel ---------------------------------------------------------


def test_telegram_posts_more_than_twice_as_often_without_more_sales(planted: Demo) -> None:
    c = BC.campaign
    # The schedule is fixed: Mon/Wed/Fri in September 2026 (13 days), every day of October (31).
    assert (planted.value(c, SEP, "posts"), planted.value(c, OCT, "posts")) == (13, 31)
    assert planted.value(c, OCT, "posts") / planted.value(c, SEP, "posts") == pytest.approx(BC.posts_ratio)
    assert planted.value(c, OCT, "visits") > planted.value(c, SEP, "visits")
    assert planted.value(c, OCT, "leads") < planted.value(c, SEP, "leads")
    assert planted.value(c, OCT, "sales") <= planted.value(c, SEP, "sales")
    assert planted.value(c, OCT, "revenue") <= planted.value(c, SEP, "revenue")


# -- planted fact 3: one manager stops closing deals ----------------------------------------------------


def test_one_manager_stops_closing_in_june_while_his_leads_keep_coming(planted: Demo) -> None:
    m = SS.manager
    assert SS.month == "2026-06" and m in MANAGERS
    assert planted.manager(m, "2026-06", "sales") <= 2  # ~0: 3 % of his would-be wins slip through
    for month in ("2026-05", "2026-07"):
        assert planted.manager(m, month, "sales") >= 15
    # His qualified leads are as usual: June's season index is 0.75 against May's 0.80.
    assert planted.manager(m, "2026-06", "qualified_leads") >= 0.8 * planted.manager(
        m, "2026-05", "qualified_leads"
    )
    for other in MANAGERS:
        if other != m:
            assert planted.manager(other, "2026-06", "sales") >= 15


def test_the_slumping_manager_also_answers_slower_that_month(planted: Demo) -> None:
    leads = planted.csv("leads.csv").with_columns(
        pl.col("created_at", "first_response_at").str.to_datetime("%Y-%m-%d %H:%M:%S"),
    )
    minutes = leads.with_columns(
        wait=(pl.col("first_response_at") - pl.col("created_at")).dt.total_minutes(),
        month=pl.col("created_at").dt.strftime("%Y-%m"),
    ).filter(pl.col("wait").is_not_null())
    median = minutes.group_by("manager", "month").agg(pl.col("wait").median())

    def wait(manager: str, month: str) -> float:
        return float(median.filter((pl.col("manager") == manager) & (pl.col("month") == month))["wait"][0])

    # Replies are delayed ×6 in June (plus nights waiting for 09:00, which both months share).
    assert wait(SS.manager, "2026-06") > 3 * wait(SS.manager, "2026-05")
    assert wait(MANAGERS[0], "2026-06") < 2 * wait(MANAGERS[0], "2026-05")


# -- the healthy company ----------------------------------------------------------------------------------


def test_the_healthy_company_has_none_of_the_planted_facts(healthy: Demo) -> None:
    c = AI.campaign
    assert healthy.value(c, OCT, "cpc") / healthy.value(c, SEP, "cpc") - 1 == pytest.approx(0, abs=0.04)
    assert healthy.value(c, OCT, "reach") / healthy.value(c, SEP, "reach") == pytest.approx(1, abs=0.1)
    assert abs(_z(healthy.value(c, SEP, "qualified_leads"), healthy.value(c, OCT, "qualified_leads"))) < 2
    assert (healthy.value(BC.campaign, SEP, "posts"), healthy.value(BC.campaign, OCT, "posts")) == (13, 13)
    for m in MANAGERS:
        assert healthy.manager(m, "2026-06", "sales") >= 15


@pytest.mark.slow  # the demo company, asked for by name (tests/conftest.py marks the others)
@pytest.mark.parametrize("mode", ["healthy", "planted"])
def test_unplanted_campaigns_move_only_by_noise_from_september_to_october(
    mode: str, request: pytest.FixtureRequest
) -> None:
    demo: Demo = request.getfixturevalue(mode)
    planted_campaigns = {AI.campaign, BC.campaign} if mode == "planted" else set()
    swings = []
    for campaign in demo.by_month["key"].unique().sort():
        if campaign in planted_campaigns:
            continue
        for metric in COUNTS:
            z = _z(demo.value(campaign, SEP, metric), demo.value(campaign, OCT, metric))
            if abs(z) >= 2:
                swings.append((campaign, metric, round(z, 1)))
        if demo.value(campaign, SEP, "clicks"):
            assert demo.value(campaign, OCT, "cpc") / demo.value(campaign, SEP, "cpc") - 1 == pytest.approx(
                0, abs=0.05
            )
    assert swings == []


def test_planting_changes_nothing_but_the_planted_months_and_campaigns(planted: Demo, healthy: Demo) -> None:
    keys = [*CAMPAIGN_KEYS, "month"]
    a = planted.by_month.sort(keys)
    b = healthy.by_month.sort(keys)
    # Every month before October: the same, campaign by campaign and metric by metric (float sums: to
    # 1e-9), except the sales-slump month and the next (its lost deals' payments would have come then).
    before = ~pl.col("month").is_in([SS.month, "2026-07", OCT])
    assert_frame_equal(a.filter(before), b.filter(before), check_exact=False, rel_tol=1e-9)
    # October: the same except the two planted campaigns, and direct visits (more look-alike visitors
    # also come back later by typing the address).
    others = ~pl.col("key").is_in([AI.campaign, BC.campaign]) & (pl.col("month") == OCT)
    cols = [c for c in a.columns if c != "visits"]
    assert_frame_equal(
        a.filter(others).select(cols), b.filter(others).select(cols), check_exact=False, rel_tol=1e-9
    )
    # June: only the slumping manager's sales differ.
    for m in MANAGERS:
        same = planted.manager(m, "2026-06", "sales") == healthy.manager(m, "2026-06", "sales")
        assert same == (m != SS.manager)


# -- a believable business ------------------------------------------------------------------------------


def test_money_is_in_a_believable_range(planted: Demo) -> None:
    year = (
        planted.by_month.filter(pl.col("month") < OCT)
        .group_by("key")
        .agg(pl.col("cost", "clicks", "marketing_cost", "gross_profit", "revenue", "sales").sum())
    )
    by_key = {r["key"]: r for r in year.iter_rows(named=True)}
    for search in ("ydx_search_brand", "ydx_search_generic"):
        assert 20 <= by_key[search]["cost"] / by_key[search]["clicks"] <= 80  # CPC, ₽
    # Every sale has a gross profit, so ROMI = (Σ gross profit − Σ marketing cost) / Σ marketing cost.
    romi = {
        k: (r["gross_profit"] - r["marketing_cost"]) / r["marketing_cost"]
        for k, r in by_key.items()
        if r["marketing_cost"]
    }
    assert romi["ydx_search_generic"] > 1 and romi["ydx_search_brand"] > 1  # search pays
    assert romi["ydx_network_lookalike"] < 1 and romi["vk_interests_dacha"] < 1  # network barely does
    assert 20_000 <= year["revenue"].sum() / year["sales"].sum() <= 90_000  # average check, ₽
    monthly = planted.by_month.group_by("month").agg(pl.col("marketing_cost").sum())
    assert monthly.height == 13 and monthly["marketing_cost"].is_between(300_000, 600_000).all()


def test_vk_reports_spend_with_vat_and_kassa_shows_it_net(planted: Demo) -> None:
    spend = planted.csv("spend.csv")
    assert set(spend.filter(channel="vk_ads")["vat_included"]) == {"true"}
    assert set(spend.filter(pl.col("channel") != "vk_ads")["vat_included"]) == {"false"}
    # VK in October 2026 (VAT 22 % all month): kassa's cost is the file's cost / 1.22.
    october = spend.filter((pl.col("channel") == "vk_ads") & pl.col("date").str.starts_with(OCT))
    gross = october["cost"].cast(pl.Float64).sum()
    shown = planted.by_month.filter((pl.col("channel") == "vk_ads") & (pl.col("month") == OCT))["cost"].sum()
    assert shown == pytest.approx(gross / 1.22, abs=0.01)


def test_leads_without_utm_need_the_last_non_direct_visit(planted: Demo) -> None:
    leads = planted.csv("leads.csv")
    no_utm = leads.filter(pl.col("utm_source").is_null() & pl.col("client_id").is_not_null())
    # Organic and direct leads never carry UTMs; of the others 35 % come back later and 13 % phone.
    assert 0.4 <= no_utm.height / leads.height <= 0.65
    # The client's very last visit before such a lead was often a direct one (they came back by typing
    # the address), yet kassa credits the marketing visit before it.
    visits = planted.csv("visits.csv").select("client_id", "ts", "utm_source", "referrer")
    last = (
        no_utm.select("lead_id", "client_id", "created_at")
        .join(visits, on="client_id")
        .filter(pl.col("ts") <= pl.col("created_at"))
        .sort("ts")
        .group_by("lead_id")
        .last()
        .filter(pl.col("utm_source").is_null() & pl.col("referrer").is_null())
    )
    wh = planted.wh
    stitched = MoneyTrail(wh).leads.select("lead_id", "channel", "link_method").to_polars()
    credited = last.join(stitched, on="lead_id").filter(pl.col("channel") != "direct")
    assert credited.height >= 300
    assert set(credited["link_method"]) == {"client_id"}
    # Leads that never visited (calls from map listings) stay "unknown", never "direct".
    calls = stitched.join(leads.filter(pl.col("client_id").is_null()).select("lead_id"), on="lead_id")
    assert calls.height > 100
    # …unless the caller is a known customer: the same phone or e-mail on an earlier lead links the call
    # to that customer's visits (docs/linking.md); such calls say so in link_method.
    linked = calls.filter(pl.col("channel") != "unknown")
    assert set(linked["link_method"]) <= {"contact"} and linked.height < calls.height / 10
    assert set(calls.filter(pl.col("channel") == "unknown")["link_method"]) == {"none"}


def test_contacts_look_real_and_normalise(planted: Demo) -> None:
    leads = planted.csv("leads.csv")
    phones = leads["phone"].drop_nulls()
    assert 0.85 <= phones.len() / leads.height <= 0.97
    assert all(re.fullmatch(r"\+79\d{9}", normalise_phone(p, "RU") or "") for p in phones)
    assert {p[:2] for p in phones} == {"+7", "89"}  # written the ways CRMs receive them
    emails = leads["email"].drop_nulls()
    assert all(re.fullmatch(r"[a-z][a-z.]*\d*@[a-z]+\.(ru|com)", e) for e in emails)
    assert set(leads["manager"]) == set(MANAGERS)
    inns = planted.csv("payments.csv")["payer_inn"].drop_nulls()
    assert inns.len() > 100 and all(inn_is_valid(i) for i in inns)
    assert inn_is_valid("7707083893") and not inn_is_valid("7707083894")  # Sberbank's INN, and one digit off


def test_the_money_trail_has_gaps_to_match(planted: Demo) -> None:
    deals = planted.csv("deals.csv")
    payments = planted.csv("payments.csv").with_columns(pl.col("amount").cast(pl.Int64))
    won = deals.filter(status="won")
    # Every won deal has an invoice; gross profit is on every won deal and on no other.
    assert won["invoice"].null_count() == 0 and won["gross_profit"].null_count() == 0
    assert deals.filter(pl.col("status") != "won")["gross_profit"].null_count() == deals.height - won.height
    purpose = payments["purpose"].str.extract(r"по счету № (\d+) от (\d\d\.\d\d\.\d{4})", 1)
    assert purpose.null_count() == 0
    no_deal = payments.filter(pl.col("deal_id").is_null())
    assert 0.07 <= no_deal.height / payments.height <= 0.17  # plan: 12 %
    # ... yet each of them names a real invoice of a won deal in its purpose.
    numbers = no_deal["purpose"].str.extract(r"№ (\d+)", 1)
    assert numbers.is_in(won["invoice"].implode()).all()
    # Two-part payments never exceed the deal; some won deals are never paid.
    with_deal = (
        payments.with_columns(deal=pl.col("purpose").str.extract(r"№ (\d+)", 1))
        .group_by("deal")
        .agg(pl.col("amount").sum(), pl.len().alias("parts"))
    )
    joined = with_deal.join(
        won.select(pl.col("invoice").alias("deal"), pl.col("amount").cast(pl.Int64).alias("deal_amount")),
        on="deal",
    )
    assert (joined["amount"] <= joined["deal_amount"]).all()
    assert joined.filter(pl.col("parts") == 2).height > 50
    paid_share = joined.height / won.height
    assert 0.85 <= paid_share <= 0.95  # plan: 93 %, minus invoices paid after 2026-10-31


def test_deals_take_days_to_weeks_and_the_export_cuts_them_off(planted: Demo) -> None:
    deals = planted.csv("deals.csv").with_columns(
        pl.col("created_at", "closed_at").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )
    closed = deals.filter(pl.col("closed_at").is_not_null())
    days = (closed["closed_at"] - closed["created_at"]).dt.total_days()
    # Cycle 1 + Gamma(2, 6.5): mean 1 + 13 = 14 days (less the share censored at 2026-10-31).
    assert 10 <= days.mean() <= 16 and days.min() >= 0 and days.max() <= 90
    open_deals = deals.filter(status="open")
    assert open_deals.height > 50 and (open_deals["created_at"].dt.strftime("%Y-%m") >= "2026-09").all()
    assert open_deals["closed_at"].null_count() == open_deals.height


# -- the sampling helpers ---------------------------------------------------------------------------------


def test_quota_draws_the_rounded_expectation_in_each_group() -> None:
    rng = np.random.default_rng(1)
    group = np.repeat([0, 1, 2], 10)
    p = np.r_[np.full(10, 0.3), np.full(10, 0.55), np.full(10, 0.0)]
    for _ in range(50):
        drawn = np.bincount(group, weights=quota(rng, p, group), minlength=3)
        # Σp per group: 10 × 0.3 = 3 exactly; 10 × 0.55 = 5.5 -> 5 or 6; 0.
        assert drawn[0] == 3 and drawn[1] in (5, 6) and drawn[2] == 0


def test_quota_keeps_each_items_probability() -> None:
    rng = np.random.default_rng(2)
    p = np.array([0.05, 0.2, 0.5, 0.9, 0.35, 0.6])
    reps = 20_000
    hits = sum(quota(rng, p).astype(int) for _ in range(reps))
    # Each frequency within 4 standard errors √(p(1−p)/reps) of its p.
    assert np.all(np.abs(hits / reps - p) <= 4 * np.sqrt(p * (1 - p) / reps))


def test_stratified_uniform_spreads_each_group_evenly() -> None:
    rng = np.random.default_rng(3)
    u = stratified_uniform(rng, np.zeros(10, dtype=np.int64))
    # Ten values: exactly one in each tenth of (0, 1).
    assert sorted(np.floor(u * 10).astype(int)) == list(range(10))


def test_streams_are_named_as_the_channel_rules_classify_them(planted: Demo) -> None:
    channels = set(planted.by_month["channel"])
    assert {s.channel for s in STREAMS} == channels
    assert {"yandex_direct", "vk_ads", "telegram", "seo", "direct", "email", "unknown"} == channels
