"""`kassa attribute` as a person runs it, and docs that cannot drift from the registry."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import write_files
from tests.golden_data import FILES
from tests.kassa_cli import run_kassa

from kassa.attribution import MODELS
from kassa.attribution.heuristic import STEPS_NOT_DAYS
from kassa.attribution.paths import NO_NULL_COLUMN, NO_TIMES_FOR_LOOKBACK
from kassa.i18n import catalog

ROOT = Path(__file__).resolve().parents[2]
PATHS = """path,total_conversions,total_conversion_value,total_null
vk > seo > direct,1,1000,0
seo,2,600,1
direct > vk,1,300,0
vk > email > seo > direct,1,400,2
email > email,0,0,3
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa("attribute", *args, env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_path_file_json_has_every_model_removal_effects_and_matrix(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text(PATHS, encoding="utf-8")
    res = run("--paths", str(f), "--model", "all", "--value", "value", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert list(data["models"]) == list(MODELS)
    for name, m in data["models"].items():
        assert sum(c["value"] for c in m["credits"]) == 2300, name  # 1000 + 600 + 300 + 400
    # last touch by hand: direct ends paths 1 and 4 (1000 + 400), seo path 2 (600), vk path 3 (300)
    last = {c["channel"]: c["value"] for c in data["models"]["last_touch"]["credits"]}
    assert last == {"direct": 1400, "email": 0, "seo": 600, "vk": 300}
    markov = data["models"]["markov"]
    assert {r["channel"] for r in markov["removal_effects"]} == {"direct", "email", "seo", "vk"}
    # start -> vk: paths 1 and 4 begin with vk, weights 1 + 3 = 4 of 11 journeys
    start_vk = [t for t in markov["transition_matrix"] if t["from"] == "(start)" and t["to"] == "vk"]
    assert abs(start_vk[0]["probability"] - 4 / 11) < 1e-12
    assert any("steps, not days" in w for w in data["warnings"])


def test_path_file_table_in_russian(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text(PATHS, encoding="utf-8")
    res = run("--paths", str(f), "--model", "linear,markov", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    assert (
        "Линейная" in res.stdout
        and "Эффекты удаления" in res.stdout
        and "Вероятности переходов" in res.stdout
    )


def test_missing_total_null_is_a_clear_error(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions\na > b,1\n", encoding="utf-8")
    res = run("--paths", str(f))
    assert res.returncode == 2
    assert "no column 'total_null'" in res.stderr and "Traceback" not in res.stderr
    res = run("--paths", str(f), "--allow-missing-nulls", "--model", "markov")
    assert res.returncode == 0 and "warning" in res.stdout


def test_bad_line_and_unknown_model(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,total_null\na > b,1,0\nb,lots,0\n", encoding="utf-8")
    res = run("--paths", str(f))
    assert res.returncode == 2 and "line 3, column 'total_conversions'" in res.stderr
    res = run("--paths", str(f), "--model", "u_shape")
    assert res.returncode == 2 and "choose from: first_touch" in res.stderr


def test_warehouse_revenue_by_campaign(tmp_path):
    files = write_files(tmp_path / "in", FILES)
    db = tmp_path / "shop.duckdb"
    assert run_kassa("import", *files, "--db", db).returncode == 0
    res = run("--db", str(db), "--period", "2026-10", "--by", "campaign", "--model", "first_touch", "--json")
    assert res.returncode == 0, res.stderr
    credits = {
        (c["channel"], c["campaign"]): c["value"]
        for c in json.loads(res.stdout)["models"]["first_touch"]["credits"]
    }
    # first touch of both October sales is a ya_search visit (D1: v1, D4: v7): 50 000 + 40 000
    assert credits[("yandex_direct", "ya_search")] == 90000
    res = run("--db", str(db), "--period", "2026-10", "--value", "conversions")
    assert res.returncode == 2 and "leads" in res.stderr


def test_every_model_is_documented_with_its_name():
    text = (ROOT / "docs" / "attribution.md").read_text(encoding="utf-8")
    for name, cls in MODELS.items():
        assert re.search(rf"^\| `{name}` \| {re.escape(cls.title)} \|", text, re.M), (
            f"{name} missing from docs/attribution.md"
        )


def test_model_titles_and_caveats_have_russian():
    ru = catalog("attribution", "ru")
    for cls in MODELS.values():
        assert cls.title in ru and cls.short in ru, cls.name
    for note in (NO_TIMES_FOR_LOOKBACK, NO_NULL_COLUMN, STEPS_NOT_DAYS):
        assert note in ru and re.search("[а-я]", ru[note]), note


def test_caveats_are_shown_in_russian(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text(PATHS, encoding="utf-8")
    res = run("--paths", str(f), "--model", "time_decay", "--lookback", "30", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "считается в шагах, а не в днях" in out and "окно ретроспективы 30 дн. не применено" in out
