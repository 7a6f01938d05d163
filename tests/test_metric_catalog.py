"""The metric catalog is the one place a metric is declared: the compute layer, attributed money and
docs/metrics.md all read it, and a declaration cannot be written in a way that swaps its texts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polars as pl
import pytest
from tests.golden_data import FILES

from kassa.attribution.money import POLARS
from kassa.link.channels import UNKNOWN
from kassa.metrics import catalog
from kassa.metrics.catalog import ALIASES, CATALOG, base_metrics, derived, visible_metrics
from kassa.metrics.compute import BASE_MEASURES, NULLABLE_MEASURES, base_measures
from kassa.metrics.formula import evaluate, formula_names
from kassa.metrics.metric import Cover, Measure, Metric, Rows, Tier
from kassa.period import Period

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")


def _declared_names() -> list[str]:
    """Every ``Metric(name=...)`` written in catalog.py, read from its source."""
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Metric":
            (name,) = [k.value for k in node.keywords if k.arg == "name"]
            assert isinstance(name, ast.Constant)
            names.append(name.value)
    return names


def test_no_name_is_declared_twice():
    names = _declared_names()
    assert len(names) == len(set(names)) == len(CATALOG)
    assert not set(ALIASES) & set(CATALOG), "an alias hides a declared metric"
    assert set(ALIASES.values()) <= set(CATALOG)


def test_every_visible_metric_is_in_the_docs_as_declared():
    for m in visible_metrics():
        formula = f"`{m.rule()}`" if m.rule() else "measured"
        row = rf"^\| `{m.name}` \| {m.tier.value} \| {m.unit} \| {m.better} \| {re.escape(formula)} \|"
        assert re.search(row, DOCS, re.M), f"{m.name}: docs/metrics.md differs from the catalog"


def test_hidden_formulas_are_in_the_docs_too():
    for m in CATALOG.values():
        if m.hidden and m.formula:
            assert f"`{m.name}`" in DOCS and f"`{m.formula}`" in DOCS, m.name


def test_every_base_measure_is_in_the_docs_as_declared():
    rows = re.findall(r"^\| `(\w+)` \| `(count|count distinct \w+|sum\(\w+\)) of [^`]*` \|", DOCS, re.M)
    assert [name for name, _ in rows] == [m.name for m in base_metrics()]
    for m in base_metrics():
        assert m.measure is not None
        r = m.measure.rows
        nothing = "no value" if m.measure.nullable else "0"
        row = f"| `{m.name}` | `{m.measure.describe()}` | `{r.date}` | `{r.cohort_date or r.date}` | {nothing} |"
        assert row in DOCS, f"{m.name}: the base measures table of docs/metrics.md differs from the catalog"


def test_the_compute_layer_sums_exactly_the_catalogs_base_measures(make_warehouse):
    # "No value" rather than 0 when nothing reported them: a margin of 0 is not "no margin data".
    assert {"reach", "gross_profit", "cohort_gross_profit"} == NULLABLE_MEASURES
    # October and November: D2 (November) is the golden company's one repeat purchase.
    table, _ = base_measures(make_warehouse(FILES), [], Period.parse("2026-10..2026-11"))
    total = table.to_polars().row(0, named=True)
    assert set(total) == set(BASE_MEASURES)
    # Every declared measure is really counted from its rows: the golden company has some of each.
    assert all(total[n] for n in BASE_MEASURES), {n: v for n, v in total.items() if not v}


def test_formulas_read_only_declared_metrics_and_filters_only_their_rows():
    for m in CATALOG.values():
        assert set(m.depends_on) <= set(CATALOG), m.name
        assert m.name not in m.depends_on
    rows = {m.measure.rows for m in base_metrics() if m.measure}
    assert len({r.name for r in rows}) == len(rows), "one set of rows declared with two different dates"
    unknown = CATALOG["unknown_source_leads"].measure
    assert unknown is not None and unknown.where == f"channel == {UNKNOWN!r}"


def test_positional_construction_is_refused():
    texts = ("Ad spend", "Расход на рекламу", "What the ad platforms charged.", "Сколько списали.")
    with pytest.raises(TypeError):
        Metric("cost", Tier.ACTIVITY, "money", "neutral", *texts)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Measure(Rows(name="spend", date="date"), "cost")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Rows("spend", "date")  # type: ignore[misc]


def _metric(**kw: object) -> Metric:
    base: dict[str, object] = {
        "name": "x",
        "tier": Tier.OUTCOME,
        "unit": "money",
        "better": "higher",
        "label_en": "X",
        "label_ru": "Икс",
        "explain_en": "An x.",
        "explain_ru": "Икс.",
    }
    return Metric(**{**base, **kw})  # type: ignore[arg-type]


def test_a_metric_is_measured_or_derived_never_both_or_neither():
    measure = Measure(rows=Rows(name="spend", date="date"), column="cost")
    with pytest.raises(ValueError, match="formula or a measure"):
        _metric()
    with pytest.raises(ValueError, match="formula or a measure"):
        _metric(formula="cost", measure=measure)
    with pytest.raises(ValueError, match="formula or a measure"):
        _metric(formula="cost", cover=Cover(cost="marketing_cost", gain="ltv_base"))


def test_payback_is_declared_by_its_cover_and_reads_what_it_needs():
    m = CATALOG["payback_months"]
    assert m.formula is None and m.measure is None and m.cover is not None
    assert m.rule() == "months until cumulative ltv_base covers marketing_cost"
    # with_dependencies brings the cost and the cohort it is counted against into the query.
    assert {"marketing_cost", "cohort_customers", "cohort_margin_missing"} <= set(
        catalog.with_dependencies(["payback_months"])
    )
    with pytest.raises(ValueError, match="unsupported"):
        _metric(formula="__import__('os').system('true')")
    with pytest.raises(ValueError, match="one comparison"):
        _metric(formula="0 < cost < 1")


def test_short_labels_fit_a_narrow_column():
    for m in CATALOG.values():
        for lang in ("en", "ru"):
            assert 0 < len(m.short(lang)) <= 10, (m.name, lang, m.short(lang))
    assert CATALOG["cpl"].short("en") == "CPL"
    assert CATALOG["qualified_leads"].short("ru") == "Кв. лиды"
    assert CATALOG["clicks"].short("en") == CATALOG["clicks"].label("en")  # short enough already
    with pytest.raises(ValueError, match="short label"):
        _metric(formula="revenue", short_ru="Слишком длинно")


def test_romi_base_is_gross_profit_only_when_every_sale_has_one():
    # Over plain Polars columns, with the algebra `kassa money` uses.
    frame = pl.DataFrame(
        {
            "sales": [2.0, 2.0, 0.0],
            "margin_missing": [0.0, 1.0, 0.0],
            "gross_profit": [30.0, 10.0, None],
            "revenue": [100.0, 100.0, 0.0],
            "marketing_cost": [10.0, 10.0, 0.0],
        }
    )
    values = derived(["romi_base", "romi"], {c: pl.col(c) for c in frame.columns}, POLARS)
    out = frame.select(romi_base=values["romi_base"], romi=values["romi"])
    assert out["romi_base"].to_list() == [30.0, 100.0, 0.0]
    assert out["romi"].to_list() == [2.0, 9.0, None]  # (30 - 10) / 10, (100 - 10) / 10, 0 / 0


def test_a_formula_never_runs_code():
    for formula in ("open('x')", "revenue.__class__", "[revenue]", "revenue if sales is revenue else 0"):
        with pytest.raises(ValueError):
            evaluate(formula, {"revenue": 1.0, "sales": 1.0}, POLARS)
    assert formula_names("gross_profit if sales > 0 and margin_missing == 0 else revenue") == [
        "gross_profit",
        "margin_missing",
        "revenue",
        "sales",
    ]
