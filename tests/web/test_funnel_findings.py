"""Findings about a whole channel (dimension "channel": the channel is the finding's value) are placed on
that channel's row and shown to an agency of that channel — on the demo company, whose October has
channel-level findings (VK Ads' average check) next to campaign-level ones."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import DemoCompany
from tests.web.helpers import PASSWORD, login

from kassa.web import create_app
from kassa.web.users import UserStore


@pytest.mark.slow  # the demo company
def test_a_channel_finding_reaches_its_channels_row_and_its_agency(
    demo_company: Callable[[bool], DemoCompany], tmp_path: Path
) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_company(True).db, db)
    users = UserStore.for_db(db)
    users.add("olga", PASSWORD, "owner", None)
    users.add("vika", PASSWORD, "agency", ["vk_ads"])
    app = create_app(db, users_required=True, warm=False)
    try:
        owner = login(TestClient(app), "olga").get("/funnel.json?period=2026-10").json()
        whole = [f for f in owner["findings"] if f["dimension"] == "channel"]
        assert whole and all(f["channel"] == f["value"] for f in whole)
        assert any(f["value"] == "vk_ads" for f in whole)
        agency = login(TestClient(app), "vika").get("/funnel.json?period=2026-10").json()
        seen = {(f["dimension"], f["value"]) for f in agency["findings"]}
        assert ("channel", "vk_ads") in seen
        assert all(f["channel"] == "vk_ads" for f in agency["findings"])
    finally:
        app.state.dashboard.close()
