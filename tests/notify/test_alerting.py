"""Alerts delivered: once per episode to Telegram (the fake Bot API) and e-mail (aiosmtpd), an agency only its
channels', and a word when an episode recovered. Real warehouse files; nothing of kassa's replaced."""

from __future__ import annotations

from pathlib import Path

from tests.diagnose.test_alerts import NOW, company
from tests.notify.fake_telegram import TOKEN, fake_telegram
from tests.notify.test_email import smtp_server

from kassa.notify.alerting import check_and_tell
from kassa.settings import load_settings
from kassa.store import Warehouse, journal


def access_of(db: Path):
    settings = load_settings(db.parent / "kassa.yaml")

    def access(fn):
        with Warehouse.open(db, settings=settings) as wh:
            return fn(wh)

    return access


def test_alerts_once_per_episode_to_each_recipient_then_recovered(tmp_path, make_warehouse, monkeypatch):
    make_warehouse(company(True)).close()
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("KASSA_TELEGRAM_TOKEN", TOKEN)
    with fake_telegram() as bot, smtp_server() as (inbox, port):
        (tmp_path / "kassa.yaml").write_text(
            f"""
digest:
  telegram_api: {bot.base_url}
  smtp: {{host: 127.0.0.1, port: {port}, security: none, sender: kassa@shop.ru}}
  recipients:
    - {{name: Owner, channel: telegram, chat_id: 1001, language: ru}}
    - {{name: CFO, channel: email, address: cfo@shop.ru}}
    - {{name: VK agency, channel: telegram, chat_id: -100200, role: agency, scope: [vk_ads]}}
""",
            encoding="utf-8",
        )
        first = check_and_tell(db, access_of(db), [], NOW)
        assert "9 new" in first and "3 message(s)" in first, first
        owner, agency = bot.texts()
        assert owner.startswith("<b>kassa: тревоги на 2026-11-14</b>") and "Кассовый разрыв" in owner
        assert "Anna" in owner and "Чей ход: собственник." in owner
        assert "vk_wide" in agency and "Anna" not in agency and "ya_search" not in agency  # its scope only
        [mail] = inbox.messages()
        body = mail.get_content()
        assert (
            mail["To"] == "cfo@shop.ru"
            and "Cash gap: 2 won deal(s) of Anna" in body
            and "Whose move: owner." in body
        )
        again = check_and_tell(db, access_of(db), [], NOW)
        assert "0 new" in again and "0 message(s)" in again and len(bot.texts()) == 2  # once per episode
        # Anna's customers pay: the cash gap recovers, and the owner hears so once.
        paid = tmp_path / "paid.csv"
        paid.write_text(
            "payment_id,paid_at,amount,deal_id\nPa0,2026-11-14 10:00,30000,Da0\nPa1,2026-11-14 11:00,20000,Da1\n"
        )
        with Warehouse.open(db) as wh:
            wh.import_files([paid], kind="payments")
        back = check_and_tell(db, access_of(db), ["Owner"], NOW)
        assert "1 recovered" in back, back
        assert "Восстановилось к 2026-11-14: unpaid_won — Anna (было с 2026-10-20)." in bot.texts()[-1]
    with Warehouse.open(db, read_only=True) as wh:
        episodes = journal.episodes(wh)
    [cash] = [e for e in episodes if e.kind == "unpaid_won"]
    assert cash.recovered_at is not None and cash.money == 50000
    assert TOKEN not in str(episodes)
