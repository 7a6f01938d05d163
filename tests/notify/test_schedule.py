"""The schedule with a controllable clock: a job missed while asleep runs once, a failed one is retried with
back-off and then the owners are told, two processes never run the same job together, and a crash mid-job
leaves a record the next run recovers from. Real warehouse files, real subprocesses, the fake Direct and
Telegram servers; nothing of kassa's is replaced."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.connectors.fake_direct import fake_direct
from tests.connectors.test_sync import ROWS, TOKEN, connect
from tests.notify.fake_telegram import TOKEN as BOT_TOKEN
from tests.notify.fake_telegram import fake_telegram

from kassa.cron import Cron, CronError
from kassa.notify.alerting import listed
from kassa.notify.schedule import Scheduler
from kassa.settings import Settings, load_settings
from kassa.store import Warehouse, journal

MSK = dt.timezone(dt.timedelta(hours=3))
SRC = Path(__file__).resolve().parents[2] / "src"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=MSK)


def test_cron_forms_and_latest_time():
    daily = Cron.parse("daily 09:00")
    assert daily.latest(at("2026-12-03 10:00"), "Europe/Moscow") == at("2026-12-03 09:00")
    assert daily.latest(at("2026-12-03 08:59"), "Europe/Moscow") == at("2026-12-02 09:00")
    monthly = Cron.parse("monthly 1 09:00")
    assert monthly.latest(at("2026-12-03 10:00"), "Europe/Moscow") == at("2026-12-01 09:00")
    weekly = Cron.parse("weekly mon 08:30")  # 2026-11-30 is a Monday
    assert weekly.latest(at("2026-12-03 10:00"), "Europe/Moscow") == at("2026-11-30 08:30")
    assert Cron.parse("*/15 9-18 * * 1-5").latest(at("2026-12-05 12:00"), "Europe/Moscow") == at(
        "2026-12-04 18:45"
    )
    for bad in ("monthly 31 09:00", "daily 25:00", "1 2 3", "61 * * * *", "weekly xyz 09:00"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_a_bad_schedule_names_file_line_and_field(tmp_path):
    path = tmp_path / "kassa.yaml"
    path.write_text("schedule:\n  jobs:\n    - name: d\n      kind: digest\n      at: monthly 31 09:00\n")
    with pytest.raises(Exception) as e:
        load_settings(path)
    assert f"{path}:5: field schedule.jobs[0].at" in str(e.value) and "1 … 28" in str(e.value)


def company(tmp_path: Path, golden_file: Path, yaml: str) -> tuple[Path, Settings]:
    db = tmp_path / "shop.duckdb"
    shutil.copy(golden_file, db)
    (tmp_path / "kassa.yaml").write_text(yaml, encoding="utf-8")
    return db, load_settings(tmp_path / "kassa.yaml")


def access_of(db: Path, settings: Settings):
    def access(fn):
        with Warehouse.open(db, settings=settings) as wh:
            return fn(wh)

    return access


def runs(db: Path) -> list[journal.Run]:
    with Warehouse.open(db, read_only=True) as wh:
        return list(reversed(journal.runs(wh)))


def test_a_job_due_while_asleep_runs_once_for_the_latest_time(tmp_path, golden_file):
    db, settings = company(
        tmp_path, golden_file, "schedule:\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n"
    )
    clock = [at("2026-10-01 08:00")]
    s = Scheduler(db, settings, access_of(db, settings), now=lambda: clock[0])
    assert [o.what for o in s.run_due()] == ["added"]  # first seen: waits for its next time
    clock[0] = at("2026-10-01 08:59")
    assert s.run_due() == []
    clock[0] = at("2026-10-01 09:01")
    [o] = s.run_due()
    assert (o.what, o.outcome, o.due_at) == ("ran", "ok", at("2026-10-01 09:00")), o.error
    assert s.run_due() == []  # the same time never twice
    clock[0] = at("2026-10-05 12:00")  # asleep over four mornings
    [o] = s.run_due()
    assert (o.what, o.due_at) == ("ran", at("2026-10-05 09:00"))
    assert s.run_due() == []
    recorded = runs(db)
    assert [(r.outcome, r.due_at) for r in recorded] == [
        ("added", at("2026-10-01 08:00")),
        ("ok", at("2026-10-01 09:00")),
        ("ok", at("2026-10-05 09:00")),
    ]
    assert all(r.ended_at and r.ended_at >= r.started_at for r in recorded)
    assert "alert(s)" in (recorded[-1].detail or "")


def test_a_failed_job_is_retried_with_back_off_then_the_owners_are_told(tmp_path, golden_file, monkeypatch):
    monkeypatch.setenv("KASSA_TELEGRAM_TOKEN", BOT_TOKEN)
    with fake_telegram() as bot:
        yaml = f"""
digest:
  telegram_api: {bot.base_url}
  recipients:
    - {{name: Owner, channel: telegram, chat_id: 1001, language: ru}}
    - {{name: Agency, channel: telegram, chat_id: 2002, role: agency, scope: [vk_ads]}}
schedule:
  jobs:
    - {{name: direct, kind: sync, at: daily 06:00, tries: 3, backoff_minutes: 5}}
"""
        db, settings = company(tmp_path, golden_file, yaml)  # no connection: every try fails
        clock = [at("2026-11-02 05:00")]
        s = Scheduler(db, settings, access_of(db, settings), now=lambda: clock[0])
        s.run_due()
        steps = []
        for t in ("06:01", "06:05", "06:06", "06:15", "06:16", "06:40", "07:00"):
            clock[0] = at(f"2026-11-02 {t}")
            steps.append([(o.what, o.attempt, o.outcome) for o in s.run_due()])
        assert steps == [
            [("ran", 1, "failed")],
            [],  # 5 minutes after 06:01
            [("retried", 2, "failed")],
            [],  # 10 minutes after 06:06
            [("retried", 3, "failed")],
            [],  # the last try: no more until the next time
            [],
        ]
        [told] = bot.texts()  # the owner only, once, in Russian
        assert "direct" in told and "не выполнилось 3 раз" in told and "no connections to sync" in told
        assert [c.fields["chat_id"] for c in bot.sent("sendMessage")] == ["1001"]
        with Warehouse.open(db, read_only=True, settings=settings) as wh:  # and the Alerts page lists it
            [failed] = listed(wh, db, clock[0], "en", None)["failed_jobs"]
        assert (failed["job"], failed["attempt"], failed["outcome"]) == ("direct", 3, "failed")
        clock[0] = at("2026-11-03 06:00")
        assert [(o.what, o.attempt) for o in s.run_due()] == [("ran", 1)]
    assert [r.outcome for r in runs(db)] == ["added", "failed", "failed", "failed", "failed"]
    assert "no connections to sync" in (runs(db)[1].error or "")


# -- real processes ------------------------------------------------------------------------------------------
def kassa_process(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kassa.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
    )


def finish(p: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """Wait for ``p`` and read (and so close) both of its pipes: exit code, stdout, stderr."""
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


SYNC_YAML = "schedule:\n  jobs:\n    - {name: direct, kind: sync, at: daily 06:00}\n"


@pytest.mark.slow  # three processes of kassa: ~10 s
def test_two_processes_never_run_the_same_job_together(tmp_path, golden_file):
    db, _ = company(tmp_path, golden_file, SYNC_YAML)
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(("queued", 3))  # the report takes three seconds to build: the first run is inside its job
        connect(db, fake.base_url)
        code, _, err = finish(kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T05:00+03:00"))
        assert code == 0, err
        a = kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T06:05+03:00", "--json")
        wait_for(lambda: len(fake.log) >= 1)
        b = kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T06:05+03:00", "--json")
        out_b, err_b = b.communicate(timeout=60)
        out_a, err_a = a.communicate(timeout=60)
    assert a.returncode == 0 and b.returncode == 0, (err_a, err_b)
    assert [r["what"] for r in json.loads(out_b)["runs"]] == ["busy"]
    assert [(r["what"], r["outcome"]) for r in json.loads(out_a)["runs"]] == [("ran", "ok")]
    assert [r.outcome for r in runs(db)] == ["added", "ok"]
    assert len({entry.params["ReportName"] for entry in fake.log}) == 1  # one report asked for, once


@pytest.mark.slow  # two processes of kassa and a kill: ~10 s
def test_a_crash_mid_job_leaves_a_record_and_the_next_run_recovers(tmp_path, golden_file):
    db, _ = company(tmp_path, golden_file, SYNC_YAML)
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(("queued", 30))  # the first run waits 30 s for the report: it is killed meanwhile
        connect(db, fake.base_url)
        code, _, err = finish(kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T05:00+03:00"))
        assert code == 0, err
        p = kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T06:05+03:00")
        wait_for(lambda: len(fake.log) >= 1)
        p.send_signal(signal.SIGKILL)
        finish(p, 10)
        [_, crashed] = runs(db)
        assert (crashed.outcome, crashed.ended_at, crashed.attempt) == ("running", None, 1)
        fake.plan()  # the service answers at once now
        r = kassa_process("run-scheduled", "--db", db, "--at", "2026-11-02T06:10+03:00", "--json")
        out, err = r.communicate(timeout=60)
    assert r.returncode == 0, err
    assert [(o["what"], o["outcome"], o["attempt"]) for o in json.loads(out)["runs"]] == [
        ("recovered", "crashed", 1),
        ("retried", "ok", 2),
    ]
    recorded = runs(db)
    assert [(x.outcome, x.attempt) for x in recorded] == [("added", 0), ("crashed", 1), ("ok", 2)]
    assert "killed" in (recorded[1].error or "") and recorded[1].ended_at is not None
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.table("spend").filter(wh.table("spend").channel == "yandex_direct").count().execute() > 0


def test_serve_runs_the_schedule_and_takes_run_scheduled_handed_over(tmp_path, golden_file):
    from fastapi.testclient import TestClient

    from kassa.store import handoff
    from kassa.web import create_app

    db, settings = company(
        tmp_path, golden_file, "schedule:\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n"
    )
    app = create_app(db, settings, users_required=False)
    dash = app.state.dashboard
    with TestClient(app):
        # The server's own pass at start: the job is seen and waits for its time.
        wait_for(
            lambda: dash.jobs.run("t", "t", "test", lambda wh, j: journal.last_run(wh, "checks")) is not None
        )
        later = (dt.datetime.now(MSK) + dt.timedelta(days=2)).replace(hour=9, minute=5)  # after its time
        answer = handoff.hand_over(db, {"op": "schedule", "jobs": [], "at": later.isoformat()})
        assert answer is not None
        [run] = answer["ok"]["runs"]
        assert (run["job"], run["what"], run["outcome"]) == ("checks", "ran", "ok"), run
    assert [r.outcome for r in runs(db)] == ["added", "ok"]


def test_a_job_naming_an_unknown_recipient_is_refused(tmp_path):
    path = tmp_path / "kassa.yaml"
    path.write_text(
        "digest:\n  recipients:\n    - {name: Owner, channel: telegram, chat_id: 1}\n"
        "schedule:\n  jobs:\n    - {name: d, kind: digest, at: monthly 1 09:00, to: [Onwer]}\n"
    )
    with pytest.raises(Exception) as e:
        load_settings(path)
    assert "to: Onwer is no recipient (recipients: Owner)" in str(e.value)


def test_run_scheduled_without_a_warehouse_says_so(tmp_path):
    from tests.kassa_cli import run_kassa

    (tmp_path / "kassa.yaml").write_text(
        "schedule:\n  jobs:\n    - {name: c, kind: alerts, at: daily 09:00}\n"
    )
    r = run_kassa("run-scheduled", "--db", tmp_path / "none.duckdb")
    assert r.returncode == 2 and "no warehouse at" in r.stderr and not (tmp_path / "none.duckdb").exists()


@pytest.mark.slow  # builds the digest and draws its chart: ~6 s
def test_the_monthly_digest_job_reaches_telegram_on_the_first(tmp_path, golden_file, monkeypatch):
    monkeypatch.setenv("KASSA_TELEGRAM_TOKEN", BOT_TOKEN)
    with fake_telegram() as bot:
        yaml = f"""
digest:
  telegram_api: {bot.base_url}
  recipients:
    - {{name: Owner, channel: telegram, chat_id: 1001, language: en}}
schedule:
  jobs:
    - {{name: monthly-digest, kind: digest, period: month, at: monthly 1 09:00}}
"""
        db, settings = company(tmp_path, golden_file, yaml)
        clock = [at("2026-10-20 12:00")]
        s = Scheduler(db, settings, access_of(db, settings), now=lambda: clock[0])
        s.run_due()
        clock[0] = at("2026-11-01 09:00")
        [o] = s.run_due()
        assert (o.what, o.outcome) == ("ran", "ok"), o.error
        assert o.detail == "2026-10 to 1 recipient(s)"
        assert bot.texts()[0].startswith("<b>Where is the money? 2026-10</b>")
        assert [c.method for c in bot.calls] == ["sendMessage", "sendPhoto", "sendDocument"]


def test_kassa_schedule_lists_next_time_and_last_run_and_kassa_alerts_lists_the_alerts(tmp_path, golden_file):
    from tests.kassa_cli import run_kassa

    db, settings = company(
        tmp_path, golden_file, "schedule:\n  jobs:\n    - {name: checks, kind: alerts, at: daily 09:00}\n"
    )
    Scheduler(db, settings, access_of(db, settings), now=lambda: at("2026-11-14 12:00")).run_due()
    r = run_kassa("schedule", "--db", db, "--json")
    assert r.returncode == 0, r.stderr
    [job] = json.loads(r.stdout)["jobs"]
    assert (job["job"], job["at"], job["last"]["outcome"]) == ("checks", "daily 09:00", "added")
    nxt = dt.datetime.fromisoformat(job["next"])
    assert nxt > dt.datetime.now(dt.UTC) and nxt.astimezone(MSK).strftime("%H:%M") == "09:00"
    shown = run_kassa("alerts", "--db", db, "--at", "2026-11-15T09:00+03:00", "--lang", "ru")
    assert shown.returncode == 0, shown.stderr
    assert (
        "Кассовый разрыв:" in shown.stdout
        and "Anna" in shown.stdout
        and "не проверено: неотвеченные заявки" in shown.stdout
    )
