"""The Alerts page (and its JSON twin) lists what the alerts job sends, an agency only its channels'; the
Data page shows the schedule's jobs and runs. Real warehouse files and the real app."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient
from tests.diagnose.test_alerts import NOW, company
from tests.web.helpers import login

from kassa.settings import load_settings
from kassa.web import create_app
from kassa.web.pages.alerts import alerts_page
from kassa.web.users import users_path


def test_alerts_page_owner_sees_all_an_agency_its_channels(tmp_path, make_warehouse, users_file):
    make_warehouse(company(True)).close()
    db = tmp_path / "w.duckdb"
    shutil.copy(users_file, users_path(db))
    web = create_app(db, users_required=True, warm=False)
    try:
        dash = web.state.dashboard
        owner = alerts_page(dash, None, "en", now=NOW)
        assert owner["day"] == "2026-11-14"
        assert {a["kind"] for a in owner["alerts"]} >= {"unpaid_won", "win_rate_falling", "zero_qualified"}
        agency = alerts_page(dash, ["vk_ads"], "ru", now=NOW)
        assert [(a["kind"], a["subject"]) for a in agency["alerts"]] == [("zero_qualified", "vk_wide")]
        assert "Чей ход: маркетинг." in agency["alerts"][0]["message"] and agency["notes"] == []
        olga, vika = login(TestClient(web), "olga"), login(TestClient(web), "vika")
        page = olga.get("/alerts")
        assert page.status_code == 200 and "<h1>Alerts</h1>" in page.text
        twin = vika.get("/alerts.json")
        assert twin.status_code == 200 and twin.json()["page"] == "alerts"
        assert all(a["channel"] == "vk_ads" for a in twin.json()["alerts"])
    finally:
        web.state.dashboard.close()


def test_the_data_page_shows_the_jobs_and_their_runs(golden_db, users_file):
    (golden_db.parent / "kassa.yaml").write_text(
        "schedule:\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n", encoding="utf-8"
    )
    shutil.copy(users_file, users_path(golden_db))
    web = create_app(
        golden_db, load_settings(golden_db.parent / "kassa.yaml"), users_required=True, warm=False
    )
    try:
        dash = web.state.dashboard
        dash.scheduler(NOW).run_due()  # seen: added
        dash.scheduler(NOW.replace(day=16)).run_due()  # 11-16 06:00 UTC is after 09:00 Moscow: ran
        olga = login(TestClient(web), "olga")
        shown = olga.get("/data.json").json()["schedule"]
        assert shown["timezone"] == "Europe/Moscow"
        [job] = shown["jobs"]
        assert (job["job"], job["kind"], job["at"], job["last_outcome"]) == (
            "checks",
            "alerts",
            "daily 09:00",
            "ok",
        )
        assert [r["outcome"] for r in shown["runs"]] == ["ok", "added"]
        html = olga.get("/data").text
        assert 'id="schedule"' in html and 'data-key="checks"' in html and 'id="runs"' in html
    finally:
        web.state.dashboard.close()
