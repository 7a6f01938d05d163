"""The Data page's block of conversions sent to the ad platforms: the latest batches, in both languages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from tests.web.helpers import login

from kassa.store import Warehouse, conversions_log
from kassa.web import create_app


def test_the_data_page_lists_the_batches_sent(users_db: Path) -> None:
    with Warehouse.open(users_db) as wh:
        conversions_log.record(
            wh, platform="metrica", connection="ym", account="24169438", goal="sale", target="order_paid",
            period="2026-10", keys=["sale:D1", "sale:D3"], answer="7", now=dt.datetime(2026, 11, 2, 4, 35),
        )  # fmt: skip
    web = create_app(users_db, users_required=True, warm=False)
    try:
        olga = login(TestClient(web), "olga")
        page = olga.get("/data").text
        assert 'id="conversion-batches"' in page and 'data-key="1"' in page
        assert "sale → order_paid" in page and "2026-11-02 04:35" in page
        listed = olga.get("/data.json").json()["conversions"]
        assert [(b["platform"], b["connection"], b["sent"], b["period"]) for b in listed] == [
            ("metrica", "ym", 2, "2026-10")
        ]
        assert "Конверсии, переданные рекламным системам" in olga.get("/data?lang=ru").text
    finally:
        web.state.dashboard.close()


def test_the_block_says_when_nothing_was_sent(users_db: Path) -> None:
    web = create_app(users_db, users_required=True, warm=False)
    try:
        page = login(TestClient(web), "olga").get("/data").text
        assert "Nothing sent yet: kassa conversions --upload CONNECTION" in page
    finally:
        web.state.dashboard.close()
