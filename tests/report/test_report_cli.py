"""``kassa report`` as a person runs it: the entry point, a real warehouse file, the files it writes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import openpyxl
import pytest
from tests.conftest import write_files
from tests.kassa_cli import run_kassa
from tests.report.shop import FILES, PAYS_FOR_MONEY


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    files = write_files(folder / "in", FILES)
    res = run("import", *map(str, files), "--db", str(folder / "shop.duckdb"))
    assert res.returncode == 0, res.stderr
    return folder / "shop.duckdb"


def test_report_writes_html_in_russian_with_contracts(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "2026-10.html"  # the folder is created
    contract = tmp_path / "money.yaml"
    contract.write_text(PAYS_FOR_MONEY, encoding="utf-8")
    res = run(
        "report",
        "--db",
        str(db),
        "--period",
        "2026-10",
        "--out",
        str(out),
        "--lang",
        "ru",
        "--charts",
        "svg",
        "--contract",
        str(contract),
        "--contract",
        "pays_for_activity",
    )
    assert res.returncode == 0, res.stderr
    assert f"Записан {out} (2026-10)" in res.stdout.replace("\n", "")
    html = out.read_text(encoding="utf-8")
    assert "Выручка 270\xa0000\xa0₽ (+42% к 2026-09)" in html and "<script" not in html
    assert (
        "Оценка 70%: премия 35\xa0000\xa0₽ из 50\xa0000\xa0₽" in html
    )  # see tests/report/test_report_issue3.py
    assert "Agency Pedal — paid for activity" in html  # a shipped example, by name
    assert 'id="findings"' in html


def test_report_format_follows_the_extension(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "october.xlsx"
    res = run("report", "--db", str(db), "--period", "2026-10", "--out", str(out), "--no-diagnosis")
    assert res.returncode == 0, res.stderr
    wb = openpyxl.load_workbook(out)
    assert wb["Funnel"]["B2"].value == 25000  # yandex_direct marketing cost
    summary = [v for row in wb["Summary"].iter_rows(values_only=True) for v in row if v]
    assert "Diagnosis: where the chain breaks" not in summary


def test_report_without_out_names_the_file_after_the_period(db: Path, tmp_path: Path) -> None:
    res = run_kassa(
        "report",
        "--db",
        db,
        "--period",
        "2026-10",
        "--format",
        "json",
        "--no-diagnosis",
        cwd=tmp_path,
        env={"COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "report-2026-10.json").read_text(encoding="utf-8"))
    assert [s["key"] for s in data["sections"]][:2] == ["headline", "funnel"]


def test_bad_input_gets_a_message_not_a_traceback(db: Path, tmp_path: Path) -> None:
    res = run("report", "--db", str(db), "--period", "2026-13", "--out", str(tmp_path / "x.html"))
    assert res.returncode == 2 and "month 13 does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run("report", "--db", str(tmp_path / "none.duckdb"), "--period", "2026-10")
    assert res.returncode == 2 and "no warehouse at" in res.stderr and "Traceback" not in res.stderr
    res = run("report", "--db", str(db), "--period", "2026-10", "--format", "pdf")
    assert (
        res.returncode != 0 and "use one of html, xlsx, json" in res.stderr and "Traceback" not in res.stderr
    )
    res = run("report", "--db", str(db), "--period", "2026-10", "--contract", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "no such contract file" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.html").exists()


def test_help_has_an_example() -> None:
    res = run("report", "--help")
    assert res.returncode == 0 and "Example: kassa report --db shop.duckdb --period 2026-10" in res.stdout
