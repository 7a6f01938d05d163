"""The schedule's editor on the Data page: an owner rewrites only kassa.yaml's ``schedule:`` block (the
other keys and comments stay byte for byte), a bad block names its line and field and leaves the file as it
was, only owners may edit, and the running server takes the new schedule — saved there or edited by hand —
on its next pass. Real warehouse files, the real app, the real kassa.yaml."""

from __future__ import annotations

import os
import shutil

from fastapi.testclient import TestClient
from tests.diagnose.test_alerts import NOW
from tests.web.helpers import login

from kassa.settings import load_settings
from kassa.store import journal
from kassa.web import create_app
from kassa.web.users import users_path

BEFORE = """# the company's settings
timezone: Europe/Moscow   # where the business is
schedule:
  # kept in the editor
  jobs:
    - {name: checks, kind: alerts, at: daily 09:00}

# who gets the digest
digest:
  recipients:
    - {name: anna, channel: telegram, chat_id: 12345}
currency: RUB
"""
NEW_BLOCK = "schedule:\r\n  jobs:\r\n    - name: digest\r\n      kind: digest\r\n      at: daily 10:00\r\n      to: [anna]\r\n"
JSON = {"Accept": "application/json"}


def token(web, client: TestClient) -> str:
    return str(web.state.dashboard.sessions.read(client.cookies.get("kassa_session"))["csrf"])


def app_with(golden_db, users_file, text: str | None):
    path = golden_db.parent / "kassa.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o640)
    shutil.copy(users_file, users_path(golden_db))
    settings = load_settings(path) if text is not None else None
    return create_app(golden_db, settings, users_required=True, warm=False), path


def test_an_owner_saves_the_schedule_and_the_next_pass_runs_the_new_job(golden_db, users_file):
    web, path = app_with(golden_db, users_file, BEFORE)
    try:
        dash = web.state.dashboard
        olga = login(TestClient(web), "olga")
        page = olga.get("/data/schedule")
        assert page.status_code == 200 and "# kept in the editor" in page.text and "anna" not in page.text
        assert "/data/schedule" in olga.get("/data").text  # the link to the editor
        r = olga.post("/data/schedule/save", data={"csrf": token(web, olga), "text": NEW_BLOCK}, headers=JSON)
        assert r.status_code == 200 and r.json() == {"saved": "kassa.yaml", "jobs": ["digest"]}
        after = path.read_text(encoding="utf-8")
        assert after == BEFORE.replace(
            "  # kept in the editor\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n",
            "  jobs:\n    - name: digest\n      kind: digest\n      at: daily 10:00\n      to: [anna]\n",
        )
        assert os.stat(path).st_mode & 0o777 == 0o640
        assert [j.name for j in dash.wh.settings.schedule.jobs] == ["digest"]
        assert dash.wh.settings.digest.recipients[0].name == "anna"
        outcomes = dash.scheduler(NOW).run_due()  # the next pass: the new job is seen
        assert [(o.job, o.what) for o in outcomes] == [("digest", "added")]
        assert dash.locked(lambda wh: journal.last_run(wh, "checks")) is None
    finally:
        web.state.dashboard.close()


def test_a_bad_block_names_line_and_field_and_leaves_the_file(golden_db, users_file):
    web, path = app_with(golden_db, users_file, BEFORE)
    try:
        olga = login(TestClient(web), "olga")
        csrf = token(web, olga)
        bad = "schedule:\n  jobs:\n    - name: d\n      kind: digest\n      at: monthly 31 09:00\n"
        checked = olga.post("/data/schedule/check", data={"csrf": csrf, "text": bad}, headers=JSON).json()
        [p] = checked["problems"]
        assert (p["line"], p["field"]) == (5, "schedule.jobs[0].at") and "1 … 28" in p["message"]
        stranger = "schedule:\n  jobs:\n    - {name: d, kind: digest, at: daily 09:00, to: [boris]}\n"
        r = olga.post("/data/schedule/save", data={"csrf": csrf, "text": stranger}, headers=JSON)
        [p] = r.json()["problems"]
        assert r.status_code == 422 and p["line"] == 3 and p["field"] == "schedule.jobs[0].to[0]"
        assert "boris is no recipient (recipients: anna)" in p["message"]
        other = olga.post("/data/schedule/save", data={"csrf": csrf, "text": "timezone: UTC\n"}, headers=JSON)
        assert other.status_code == 422 and other.json()["problems"][0]["field"] == "timezone"
        html = olga.post("/data/schedule/save", data={"csrf": csrf, "text": bad})
        assert html.status_code == 422 and "line 5" in html.text and "schedule.jobs[0].at" in html.text
        ru = olga.post("/data/schedule/save?lang=ru", data={"csrf": csrf, "text": bad})
        assert ru.status_code == 422 and "Изменить расписание" in ru.text
        assert path.read_text(encoding="utf-8") == BEFORE
        # The file changed by hand since the editor opened it: the save is refused, not lost over it.
        opened_on = olga.get("/data/schedule").text.split('name="opened_on" value="')[1].split('"')[0]
        path.write_text(BEFORE + "lookback_days: 60\n", encoding="utf-8")
        late = olga.post(
            "/data/schedule/save",
            data={"csrf": csrf, "text": NEW_BLOCK, "opened_on": opened_on},
            headers=JSON,
        )
        assert late.status_code == 422 and "changed since" in late.json()["problems"][0]["message"]
    finally:
        web.state.dashboard.close()


def test_only_owners_edit_and_the_form_needs_its_token(golden_db, users_file):
    web, path = app_with(golden_db, users_file, BEFORE)
    try:
        for name in ("mark", "vika", "ivan"):
            c = login(TestClient(web), name)
            assert c.get("/data/schedule").status_code == 403, name
            for url in ("/data/schedule/check", "/data/schedule/save"):
                r = c.post(url, data={"csrf": token(web, c), "text": NEW_BLOCK}, headers=JSON)
                assert r.status_code == 403, (name, url)
        olga = login(TestClient(web), "olga")
        r = olga.post("/data/schedule/save", data={"csrf": "guessed", "text": NEW_BLOCK}, headers=JSON)
        assert r.status_code == 403 and path.read_text(encoding="utf-8") == BEFORE
        assert "/data/schedule" not in login(TestClient(web), "mark").get("/data").text
    finally:
        web.state.dashboard.close()


def test_without_kassa_yaml_the_save_creates_one_with_just_the_schedule(golden_db, users_file):
    web, path = app_with(golden_db, users_file, None)
    try:
        olga = login(TestClient(web), "olga")
        assert "kind: alerts" in olga.get("/data/schedule").text  # a starter job
        block = "schedule:\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n"
        r = olga.post("/data/schedule/save", data={"csrf": token(web, olga), "text": block}, headers=JSON)
        assert r.status_code == 200 and path.read_text(encoding="utf-8") == block
        assert [j.name for j in web.state.dashboard.wh.settings.schedule.jobs] == ["checks"]
    finally:
        web.state.dashboard.close()


def test_a_hand_edit_is_taken_and_a_broken_one_keeps_the_last_good_schedule(golden_db, users_file):
    web, path = app_with(golden_db, users_file, BEFORE)
    try:
        dash = web.state.dashboard
        assert dash.reload_schedule() is False  # unchanged since the start
        path.write_text(BEFORE.replace("name: checks", "name: morning"), encoding="utf-8")
        os.utime(path, ns=(0, 10**18))  # a later time, whatever the file system's resolution
        assert dash.reload_schedule() is True
        assert [j.name for j in dash.wh.settings.schedule.jobs] == ["morning"]
        assert [(o.job, o.what) for o in dash.scheduler(NOW).run_due()] == [("morning", "added")]
        path.write_text(BEFORE.replace("at: daily 09:00", "at: daily 25:00"), encoding="utf-8")
        os.utime(path, ns=(0, 2 * 10**18))
        assert dash.reload_schedule() is False
        assert [j.name for j in dash.wh.settings.schedule.jobs] == ["morning"]
        olga = login(TestClient(web), "olga")
        shown = olga.get("/data.json").json()["schedule"]
        assert f"{path}:6: field schedule.jobs[0].at" in shown["error"]
        assert 'id="schedule-error"' in olga.get("/data").text
        ru = olga.get("/data?lang=ru").text
        assert "kassa.yaml изменён, но не читается" in ru
        path.write_text(BEFORE, encoding="utf-8")
        os.utime(path, ns=(0, 3 * 10**18))
        assert dash.reload_schedule() is True and dash.schedule_error is None
        assert dash.wh.settings.schedule.jobs[0].at == "daily 09:00"
    finally:
        web.state.dashboard.close()
