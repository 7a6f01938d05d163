"""`kassa import` with CRM, bank and generic files, as a person runs it: the entry point, exact messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.kassa_cli import run_kassa
from tests.sources.crm_bank_support import DATA


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_list_formats_names_the_crm_bank_and_generic_readers():
    res = run("import", "--list-formats")
    assert res.returncode == 0
    for name in ("amocrm", "bitrix24", "bank_1c", "bank_csv", "generic"):
        assert name in res.stdout


def test_crm_and_bank_files_in_one_import(tmp_path: Path):
    db = tmp_path / "shop.duckdb"
    res = run(
        "import",
        str(DATA / "amocrm" / "leads_api.json"),
        str(DATA / "bank_1c" / "statement_cp1251.txt"),
        "--mapping",
        str(DATA / "amocrm" / "stages.yaml"),
        "--db",
        str(db),
        "--json",
    )
    # both files have a refused row: exit code 1, the good rows are loaded
    assert res.returncode == 1, res.stderr
    files = {(f["format"], f["kind"]): f for f in json.loads(res.stdout)["files"]}
    assert {k: f["rows_loaded"] for k, f in files.items()} == {
        ("amocrm", "leads"): 3,
        ("amocrm", "deals"): 3,
        ("bank_1c", "payments"): 2,
    }
    (err,) = files[("bank_1c", "payments")]["errors"]
    assert (err["line"], err["column"], err["value"]) == (83, "Сумма", "17500,5О")


def test_a_bad_mapping_is_a_message_not_a_traceback(tmp_path: Path):
    bad = tmp_path / "stages.yaml"
    bad.write_text("stages:\n  2030: {lead: hot}\n", encoding="utf-8")
    db = tmp_path / "shop.duckdb"
    res = run("import", str(DATA / "amocrm" / "leads_api.json"), "--mapping", str(bad), "--db", str(db))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad}:2: field stages.2030.lead" in res.stderr


def test_generic_without_a_mapping_says_how(tmp_path: Path):
    res = run(
        "import",
        str(DATA / "generic" / "telegram_spend.csv"),
        "--format",
        "generic",
        "--db",
        str(tmp_path / "w.duckdb"),
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "--format generic --mapping map.yaml" in res.stderr


def test_strict_refuses_everything(tmp_path: Path):
    db = tmp_path / "shop.duckdb"
    res = run("import", str(DATA / "bank_csv" / "statement.csv"), "--strict", "--db", str(db))
    assert res.returncode == 2 and "nothing was imported" in res.stderr
    res = run("imports", "--db", str(db), "--json")
    assert json.loads(res.stdout) == []
