"""The CLI as a person uses it: its entry point (in this process, tests/kassa_cli.py), real files, exact
messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import write_files
from tests.golden_data import FILES
from tests.kassa_cli import run_kassa


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, cwd=cwd, env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_import_then_metrics_json_matches_the_golden_numbers(tmp_path):
    files = write_files(tmp_path / "in", FILES)
    db = tmp_path / "shop.duckdb"
    res = run("import", *map(str, files), "--db", str(db))
    assert res.returncode == 0, res.stderr
    res = run("metrics", "--db", str(db), "--by", "channel", "--period", "2026-10", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    rows = {r["channel"]: r for r in data["rows"]}
    assert rows["yandex_direct"]["romi"] == 6.5 and rows["yandex_direct"]["cpl"] == 6000
    assert rows["vk_ads"]["drr"] is None
    assert data["total"]["marketing_cost"] == 20000
    tiers = {m["name"]: m["tier"] for m in data["metrics"]}
    assert (
        tiers["ctr"] == "activity"
        and tiers["qualified_leads"] == "intermediate"
        and tiers["romi"] == "outcome"
    )


def test_metrics_table_separates_activity_and_speaks_russian(tmp_path):
    files = write_files(tmp_path / "in", FILES)
    db = tmp_path / "shop.duckdb"
    run("import", *map(str, files), "--db", str(db))
    res = run("metrics", "--db", str(db), "--period", "2026-10", "--lang", "ru", "--wide")
    assert res.returncode == 0, res.stderr
    assert "Кв. лиды" in res.stdout and "Метрики активности" in res.stdout
    assert "90 000 ₽" in res.stdout.replace("\xa0", " ")


def test_metrics_csv(tmp_path):
    files = write_files(tmp_path / "in", FILES)
    db = tmp_path / "shop.duckdb"
    run("import", *map(str, files), "--db", str(db))
    res = run(
        "metrics", "--db", str(db), "--period", "2026-10", "--by", "month", "--metrics", "leads,cac", "--csv"
    )
    # Two trailing columns name the estimated and incomplete metrics of each row (none here).
    assert res.stdout.splitlines() == [
        "month,leads,cac,estimated,incomplete",
        "2026-10,6,10000.0,,",  # `cac` is CAC itself now: 20 000 / 2 new customers (D1, D4)
    ]


def test_bad_rows_are_listed_and_the_exit_code_says_so(tmp_path):
    (p,) = write_files(
        tmp_path / "in",
        {"spend.csv": "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,a,1,1,x\n"},
    )
    res = run("import", str(p), "--db", str(tmp_path / "w.duckdb"))
    assert res.returncode == 1
    assert f"rejected: {p}, line 2, column 'cost': not a number" in res.stderr


def test_errors_are_messages_not_tracebacks(tmp_path):
    res = run("metrics", "--db", str(tmp_path / "none.duckdb"), "--period", "2026-10")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "no warehouse at" in res.stderr
    files = write_files(tmp_path / "in", FILES)
    run("import", *map(str, files), "--db", str(tmp_path / "w.duckdb"))
    res = run("metrics", "--db", str(tmp_path / "w.duckdb"), "--period", "2026-13")
    assert res.returncode == 2 and "month 13 does not exist" in res.stderr
    res = run("metrics", "--db", str(tmp_path / "w.duckdb"), "--period", "2026-10", "--metrics", "likes")
    assert res.returncode == 2 and "unknown metric 'likes'" in res.stderr


def test_imports_list_and_undo(tmp_path):
    files = write_files(tmp_path / "in", {"payments.csv": FILES["payments.csv"]})
    db = str(tmp_path / "w.duckdb")
    run("import", *map(str, files), "--db", db)
    res = run("imports", "--db", db, "--json")
    batches = json.loads(res.stdout)
    assert [b["kind"] for b in batches] == ["payments"] and batches[0]["rows_loaded"] == 4
    res = run("imports", "undo", "1", "--db", db)
    assert res.returncode == 0 and "4 row(s) removed" in res.stdout
    res = run("imports", "undo", "1", "--db", db)
    assert res.returncode == 2 and "already undone" in res.stderr
    run("import", *map(str, files), "--db", db)
    res = run("imports", "undo", "2", "--db", db, "--lang", "ru")
    assert "загрузка 2 отменена: удалено строк — 4, восстановлено — 0" in res.stdout


def test_invalid_settings_name_file_line_and_field(tmp_path):
    cfg = tmp_path / "kassa.yaml"
    cfg.write_text("timezone: Europe/Moscow\ncurrency: RUB\nvat_rates:\n  - {since: 2026-01-01, rate: 22}\n")
    files = write_files(tmp_path / "in", FILES)
    res = run("import", *map(str, files), "--db", str(tmp_path / "w.duckdb"), "--config", str(cfg))
    assert res.returncode == 2
    assert f"{cfg}:4: field vat_rates[0].rate: Input should be less than or equal to 1" in res.stderr
