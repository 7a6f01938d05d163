"""Whole-period report rows spread over their days: hand-computed whole units that add up exactly."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kassa.sources.helpers.periods import report_period, spread_over_days
from kassa.sources.validate import LINE

D = dt.date


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("27 January 2026 - 23 February 2026", (D(2026, 1, 27), D(2026, 2, 23))),
        ('"July 8, 2025 - July 31, 2025"', (D(2025, 7, 8), D(2025, 7, 31))),
        ("March 27, 2026 - April 23, 2026", (D(2026, 3, 27), D(2026, 4, 23))),
        ("01.03.2026 - 31.03.2026", (D(2026, 3, 1), D(2026, 3, 31))),
        ("1 марта 2026 г. – 31 марта 2026 г.", (D(2026, 3, 1), D(2026, 3, 31))),
        ("Sep 1, 2026 — Sep 30, 2026", (D(2026, 9, 1), D(2026, 9, 30))),
        ("All time", None),
        ("31.03.2026 - 01.03.2026", None),  # backwards
        ("30.02.2026 - 31.03.2026", None),  # no such day
        ("Campaign report", None),
    ],
)
def test_a_report_period_is_read_as_each_interface_writes_it(text, period):
    assert report_period(text) == period


def rows(*items: tuple[int, str, str, int, int, float]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                LINE: line,
                "date": dt.date.fromisoformat(day),
                "channel": "google_ads",
                "campaign": campaign,
                "impressions": impressions,
                "clicks": clicks,
                "cost": cost,
                "reach": 7,
            }
            for line, day, campaign, impressions, clicks, cost in items
        ],
        schema_overrides={"reach": pl.Int64},
    )


def stops(*items: tuple[int, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {LINE: [i for i, _ in items], "__stop": [dt.date.fromisoformat(s) for _, s in items]},
        schema={LINE: pl.Int64, "__stop": pl.Date},
    )


def test_a_month_row_becomes_thirty_days_that_add_up_to_it():
    got, refused = spread_over_days(
        rows((4, "2026-11-01", "brand", 4040, 908, 1353.24)), stops((4, "2026-11-30"))
    )
    assert refused == [] and got.height == 30
    got = got.sort("date")
    # 908 = 30 × 30 + 8: the first 8 days get 31; 4040 = 30 × 134 + 20; 1353.24 / 30 = 45.108 exactly
    assert got["clicks"].to_list() == [31] * 8 + [30] * 22
    assert got["impressions"].to_list() == [135] * 20 + [134] * 10
    assert got["cost"].to_list() == [pytest.approx(45.108)] * 30
    assert got["clicks"].sum() == 908 and got["impressions"].sum() == 4040
    assert got["cost"].sum() == pytest.approx(1353.24, abs=1e-9)
    assert got["reach"].null_count() == 30  # people are not a sum over days
    assert set(got["spread_from"]) == {D(2026, 11, 1)} and set(got["spread_to"]) == {D(2026, 11, 30)}


def test_a_refund_spreads_negative_and_a_day_row_stays_a_day_row():
    got, refused = spread_over_days(
        rows((2, "2026-11-01", "a", 0, 0, -0.07), (3, "2026-11-05", "b", 10, 1, 5.0)),
        stops((2, "2026-11-03"), (3, "2026-11-05")),
    )
    a = got.filter(pl.col("campaign") == "a").sort("date")
    # -70 000 millionths over 3 days: 23 334, 23 333, 23 333
    assert a["cost"].to_list() == [
        pytest.approx(-0.023334),
        pytest.approx(-0.023333),
        pytest.approx(-0.023333),
    ]
    b = got.filter(pl.col("campaign") == "b")
    assert b.height == 1 and b["spread_from"].to_list() == [None] and b["reach"].to_list() == [7]
    assert refused == []


def test_a_range_over_a_day_the_file_gives_is_refused_not_counted_twice():
    got, refused = spread_over_days(
        rows(
            (2, "2026-11-01", "a", 10, 1, 1.0),
            (3, "2026-11-01", "a", 20, 2, 2.0),  # 1–2 November, overlapping line 2's day
            (4, "2026-11-01", "b", 20, 2, 2.0),  # the same range as line 5: parts of one row, kept
            (5, "2026-11-01", "b", 40, 4, 4.0),
        ),
        stops((3, "2026-11-02"), (4, "2026-11-02"), (5, "2026-11-02")),
    )
    assert refused == [3]
    assert got.filter(pl.col("campaign") == "a").height == 1
    assert got.filter(pl.col("campaign") == "b")["cost"].sum() == pytest.approx(6.0)
