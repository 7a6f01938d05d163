"""``kassa digest`` end to end: recipients from kassa.yaml, secrets from the environment or a 0600 file, the
fake Bot API and a real SMTP server receiving; the demo's planted story in the digest (slow)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from tests.kassa_cli import run_kassa
from tests.notify.fake_telegram import TOKEN, fake_telegram
from tests.notify.test_email import smtp_server

from kassa.errors import BadPeriod, ConfigError
from kassa.notify.secrets import notify_path, read_secret
from kassa.period import Period
from kassa.report.digest import digest_period

PERIOD = ["--period", "2026-10", "--today", "2026-11-02"]


def company(tmp_path: Path, golden_file: Path, yaml: str) -> Path:
    db = tmp_path / "shop.duckdb"
    shutil.copy(golden_file, db)
    (tmp_path / "kassa.yaml").write_text(yaml, encoding="utf-8")
    return db


def recipients(bot_url: str, smtp_port: int) -> str:
    return f"""
digest:
  public_url: https://kassa.shop.ru/
  telegram_api: {bot_url}
  attach: [html]
  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, sender: kassa@shop.ru}}
  recipients:
    - {{name: Owner, channel: telegram, chat_id: 1001, language: ru}}
    - {{name: CFO, channel: email, address: cfo@shop.ru, language: en}}
    - {{name: VK agency, channel: telegram, chat_id: -100200, language: en, role: agency, scope: [vk_ads]}}
"""


@pytest.mark.slow  # builds the report and draws the chart: ~6 s here
def test_digest_goes_to_every_recipient(tmp_path, golden_file):
    with fake_telegram() as bot, smtp_server() as (inbox, port):
        db = company(tmp_path, golden_file, recipients(bot.base_url, port))
        res = run_kassa("digest", "--db", db, *PERIOD, env={"KASSA_TELEGRAM_TOKEN": TOKEN})
    assert res.returncode == 0, res.stderr
    assert (
        "Sent to Owner (telegram chat 1001)" in res.stdout
        and "Sent to CFO (e-mail cfo@shop.ru)" in res.stdout
    )
    chats = [(c.method, c.fields["chat_id"]) for c in bot.calls]
    assert chats == [
        ("sendMessage", "1001"),
        ("sendPhoto", "1001"),
        ("sendDocument", "1001"),
        ("sendMessage", "-100200"),
        ("sendPhoto", "-100200"),  # an agency gets no company report
    ]
    owner, agency = bot.texts()
    assert owner.startswith("<b>Где деньги? 2026-10</b>") and "Выручка:" in owner
    assert 'href="https://kassa.shop.ru/report.html?period=2026-10&amp;lang=ru"' in owner
    assert bot.sent("sendDocument")[0].files["document"][0] == "kassa-2026-10.ru.html"
    assert bot.sent("sendPhoto")[0].files["photo"][2].startswith(b"\x89PNG")
    # The agency's digest: its channel only, as on the dashboard (VK Ads), linked to the overview.
    assert "Channels: VK Ads" in agency and "Yandex Direct" not in agency and "report.html" not in agency
    assert "overview?period=2026-10" in agency
    ((sender, to, _),) = inbox.envelopes
    assert (sender, to) == ("kassa@shop.ru", ["cfo@shop.ru"])
    assert TOKEN not in res.stdout + res.stderr


def test_to_one_recipient_and_dry_run_sends_nothing(tmp_path, golden_file):
    with fake_telegram() as bot, smtp_server() as (inbox, port):
        db = company(tmp_path, golden_file, recipients(bot.base_url, port))
        dry = run_kassa("digest", "--db", db, *PERIOD, "--dry-run")  # no token needed
        one = run_kassa("digest", "--db", db, *PERIOD, "--to", "CFO")
        unknown = run_kassa("digest", "--db", db, *PERIOD, "--to", "Nobody", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Owner · telegram chat 1001 · ru · owner" in dry.stdout
    assert "VK agency · telegram chat -100200 · en · agency" in dry.stdout
    assert "Attachments: kassa-2026-10-money-vs-activity.png, kassa-2026-10.ru.html" in dry.stdout
    assert "Dry run: nothing was sent." in dry.stdout
    assert one.returncode == 0, one.stderr
    assert bot.calls == [] and len(inbox.envelopes) == 1
    assert (
        unknown.returncode == 2
        and "no recipient 'Nobody' (recipients: Owner, CFO, VK agency)" in unknown.stderr
    )


def test_without_a_token_nothing_is_built_or_sent(tmp_path, golden_file):
    with fake_telegram() as bot, smtp_server() as (inbox, port):
        db = company(tmp_path, golden_file, recipients(bot.base_url, port))
        res = run_kassa("digest", "--db", db, *PERIOD, env={"KASSA_TELEGRAM_TOKEN": ""})
    assert res.returncode == 2
    assert "KASSA_TELEGRAM_TOKEN" in res.stderr and "shop.duckdb.notify.json" in res.stderr
    assert bot.calls == [] and inbox.envelopes == []


def test_secrets_file_must_be_private(tmp_path, monkeypatch):
    monkeypatch.delenv("KASSA_TELEGRAM_TOKEN", raising=False)
    db = tmp_path / "shop.duckdb"
    path = notify_path(db)
    path.write_text(json.dumps({"telegram_token": TOKEN}), encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as exc:
        read_secret(db, "telegram_token")
    assert TOKEN not in str(exc.value)
    path.chmod(0o600)
    assert read_secret(db, "telegram_token") == TOKEN
    assert read_secret(db, "smtp_password") is None
    monkeypatch.setenv("KASSA_TELEGRAM_TOKEN", "from-the-environment")
    assert read_secret(db, "telegram_token") == "from-the-environment"
    path.write_text('{"telegram_token": "' + TOKEN, encoding="utf-8")  # broken JSON around the secret
    monkeypatch.delenv("KASSA_TELEGRAM_TOKEN")
    with pytest.raises(ConfigError) as broken:
        read_secret(db, "telegram_token")
    assert TOKEN not in str(broken.value)


def test_a_bad_recipient_names_file_line_and_field(tmp_path, golden_file):
    db = company(
        tmp_path,
        golden_file,
        "digest:\n  recipients:\n    - {name: A, channel: telegram, chat_id: 1}\n"
        "    - {name: Agency, channel: email, address: a@b.ru, role: agency}\n",
    )
    res = run_kassa("digest", "--db", db, *PERIOD, "--dry-run")
    assert res.returncode == 2
    assert "kassa.yaml:4: field digest.recipients[1]" in res.stderr
    assert "an agency needs scope" in res.stderr


def test_periods_a_week_so_far_and_the_previous_month():
    today = dt.date(2026, 10, 22)  # a Thursday of ISO week 43 (19–25 October)
    p, vs, weekly = digest_period("2026-W43", today)
    assert weekly and p == Period(dt.date(2026, 10, 19), dt.date(2026, 10, 22))  # Mon–Wed: complete days
    assert vs == Period(dt.date(2026, 10, 12), dt.date(2026, 10, 15))  # the same weekdays, a week before
    p, vs, weekly = digest_period("2026-W42", today)
    assert p == Period(dt.date(2026, 10, 12), dt.date(2026, 10, 19)) and vs.start == dt.date(2026, 10, 5)
    assert digest_period("previous-month", dt.date(2026, 11, 1))[:2] == (
        Period.parse("2026-10"),
        Period.parse("2026-09"),
    )
    assert digest_period("last-month", dt.date(2026, 1, 15))[0] == Period.parse("2025-12")
    p, vs, weekly = digest_period("previous-week", today)
    assert weekly and p == Period(dt.date(2026, 10, 12), dt.date(2026, 10, 19))
    with pytest.raises(BadPeriod, match="no complete day"):
        digest_period("2026-W43", dt.date(2026, 10, 19))


def test_weekly_digest_on_the_golden_company(tmp_path, golden_file):
    db = company(tmp_path, golden_file, "{}\n")
    res = run_kassa("digest", "--db", db, "--period", "2026-W41", "--today", "2026-10-08", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "Week 2026-W41 (2026-10-05..2026-10-07) against the same days of the week before" in res.stdout
    assert "2026-09-28..2026-09-30" in res.stdout  # what the figures are compared with
    assert "Attachments: kassa-2026-W41-money-vs-activity.png\n" in res.stdout


@pytest.mark.parametrize(
    ("lang", "bonus_activity", "bonus_money", "vanity"),
    [
        ("en", "bonus RUB 60,000 of RUB 60,000", "bonus RUB 26,924 of RUB 60,000", "Vanity activity"),
        ("ru", "премия 60 000 ₽ из 60 000 ₽", "премия 26 924 ₽ из 60 000 ₽", "Активность ради активности"),
    ],
)
def test_the_demo_digest_tells_the_planted_story(demo_company, lang, bonus_activity, bonus_money, vanity):
    demo = demo_company(True)
    res = run_kassa(
        "digest", "--db", demo.db, "--period", "2026-10", "--dry-run", "--lang", lang,
        "--contract", "pays_for_activity", "--contract", "pays_for_money", env={"COLUMNS": "400"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\xa0", " ")  # money is formatted with no-break spaces
    illusion = next(line for line in out.splitlines() if "ydx_network_lookalike" in line)
    assert (
        illusion.startswith("• ")
        and ("Activity illusion" if lang == "en" else "Иллюзия активности") in illusion
    )
    posts = next(line for line in out.splitlines() if "tg_channel" in line)
    assert vanity in posts and ("publications ×2.4" if lang == "en" else "публикации ×2,4") in posts
    assert ("whose side: marketing" if lang == "en" else "чья зона: маркетинг") in out
    assert bonus_activity in out and bonus_money in out
