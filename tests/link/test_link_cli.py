"""``kassa money`` and ``kassa trail`` as a person runs them: the entry point, a real warehouse file."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

from tests.kassa_cli import run_kassa


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "240", "NO_COLOR": "1"})


def test_money_json_has_the_three_revenues_the_gaps_and_quality(money_db: Path) -> None:
    res = run("money", "--db", str(money_db), "--period", "2026-10", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    total = data["money"]["total"]
    # Hand computation in tests/link/test_link_money.py.
    assert math.isclose(total["won"], 210745.67) and total["invoiced"] == 161500
    assert math.isclose(total["paid"], 183745.67) and total["unpaid"] == 27000
    assert data["money"]["cash"]["unmatched"] == 14000
    assert [r["deal_id"] for r in data["money"]["unpaid_deals"]] == ["D8", "D9", "D12", "D13"]
    assert data["quality"]["known_source_share"] == 0.75
    ya = {r["channel"]: r for r in data["metrics"]["rows"]}["yandex_direct"]
    assert ya["romi_paid"] == 4.25  # (52 500 - 10 000) / 10 000


def test_money_table_in_russian(money_db: Path) -> None:
    res = run("money", "--db", str(money_db), "--period", "2026-10", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\xa0", " ")
    assert "Оплачено (банк)" in out and "183 746 ₽" in out
    assert "Выручка, сопоставленная с банковскими платежами: 87,2" in out
    assert "не сопоставлено ни с одной сделкой" in out


def test_trail_shows_how_each_link_was_made(money_db: Path) -> None:
    res = run("trail", "--db", str(money_db), "P2")
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\xa0", " ")
    assert "Trail of payment P2" in out
    assert "Lead A2" in out and "cookie: last marketing visit (v3)" in out
    assert "RUB 30,000 of RUB 50,000 · invoice number in the purpose · confidence 0.90" in out
    assert "cookie or contact: direct visits only (v5)" in out  # A3 only ever came direct


def test_trail_json_and_errors(money_db: Path) -> None:
    res = run("trail", "--db", str(money_db), "D9", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [p["amount"] for p in data["payments"]] == [7000.0, -7000.0]
    res = run("trail", "--db", str(money_db), "NOPE")
    assert res.returncode == 2
    assert res.stderr.strip() == "error: no lead, deal or payment with id 'NOPE'"
    assert "Traceback" not in res.stderr
    res = run("money", "--db", str(money_db), "--period", "2026-13")
    assert res.returncode == 2 and "month 13 does not exist" in res.stderr and "Traceback" not in res.stderr
