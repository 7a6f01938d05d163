"""Contract files: every mistake is refused at load time with file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kassa.errors import ConfigError
from kassa.kpi import EXAMPLES, example_path, load_contract, parse_contract


def write(tmp_path: Path, text: str, name: str = "contract.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def refused(tmp_path: Path, text: str) -> str:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_contract(p)
    return str(exc.value).replace(str(p), "contract.yaml")


def test_the_issue_example_loads_with_defaults(tmp_path):
    c = load_contract(
        write(
            tmp_path,
            """
        name: "Agency Pedal — Yandex Direct"
        scope: {channels: [yandex_direct]}
        view: calendar
        kpis:
          - {metric: qualified_leads, target: 120, weight: 0.4, floor: 0.7, cap: 1.2}
          - {metric: cpql, target: 3500, weight: 0.2}
          - {metric: revenue, target: 2500000, weight: 0.4}
        bonus: {base: 60000, gate: {metric: romi, min: 0.0}}
    """,
        )
    )
    assert [k.metric for k in c.kpis] == [
        "qualified_leads",
        "cost_per_qualified_lead",
        "revenue",
    ]  # alias resolved
    assert (c.kpis[1].floor, c.kpis[1].cap) == (0.0, 1.5)
    assert c.kpis[1].direction == "lower" and c.kpis[2].direction == "higher"
    assert c.scope.where() == {"channel": ["yandex_direct"]}
    assert c.period == "month" and c.months == 1
    assert c.metrics() == ["qualified_leads", "cost_per_qualified_lead", "revenue", "romi"]
    assert c.where_is("kpis[1]") == f"{tmp_path / 'contract.yaml'}:6"


def test_weights_not_summing_to_one_name_file_line_and_field(tmp_path):
    msg = refused(
        tmp_path,
        """
        name: x
        kpis:
          - {metric: leads, target: 10, weight: 0.5}
          - {metric: revenue, target: 10, weight: 0.4}
    """,
    )
    assert (
        msg == "contract.yaml:2: field kpis: Value error, weights must sum to 1, these sum to 0.9 (0.5 + 0.4)"
    )


def test_weights_like_0_1_plus_0_2_are_accepted(tmp_path):
    # 0.1 + 0.2 + 0.7 is 1.0000000000000002 in binary floating point: within the tolerance.
    c = parse_contract(
        "name: x\nkpis: [{metric: leads, target: 1, weight: 0.1}, {metric: sales, target: 1, weight: 0.2},"
        " {metric: revenue, target: 1, weight: 0.7}]"
    )
    assert len(c.kpis) == 3


def test_unknown_metric_lists_the_valid_ones(tmp_path):
    msg = refused(
        tmp_path,
        """
        name: x
        kpis:
          - {metric: revenue, target: 10, weight: 0.5}
          - {metric: likes, target: 10, weight: 0.5}
    """,
    )
    assert msg.startswith(
        "contract.yaml:4: field kpis[1].metric: Value error, unknown metric 'likes'; metrics: cost,"
    )
    assert "qualified_leads" in msg and "romi" in msg and "romi_base" not in msg


def test_internal_metric_is_refused(tmp_path):
    msg = refused(tmp_path, "name: x\nkpis: [{metric: romi_base, target: 1, weight: 1}]\n")
    assert "field kpis[0].metric: Value error, metric 'romi_base' is internal" in msg


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        ("{metric: leads, target: 0, weight: 1}", "field kpis[0].target: Input should be greater than 0"),
        (
            "{metric: leads, target: 10, weight: 1.2}",
            "field kpis[0].weight: Input should be less than or equal to 1",
        ),
        ("{metric: leads, target: 10, weight: 1, floor: 1.3, cap: 1.2}", "floor 1.3 is above cap 1.2"),
        ("{metric: leads, target: 10, weigth: 1}", "field kpis[0].weigth: Extra inputs are not permitted"),
        ("{metric: revenue, target: 10, weight: 1, better: lower}", "the catalog says higher is better"),
        ("{metric: leads, target: 3 500, weight: 1}", "field kpis[0].target: Input should be a valid number"),
    ],
)
def test_bad_kpi_fields(tmp_path, kpi, expected):
    msg = refused(tmp_path, f"name: x\nkpis:\n  - {kpi}\n")
    assert msg.startswith("contract.yaml:3: ") and expected in msg


def test_better_may_turn_a_neutral_metric_into_a_budget_limit():
    c = parse_contract("name: x\nkpis: [{metric: cost, target: 50000, weight: 1, better: lower}]")
    assert c.kpis[0].direction == "lower"
    c = parse_contract("name: x\nkpis: [{metric: posts, target: 20, weight: 1}]")
    assert c.kpis[0].direction == "higher"  # a neutral metric with a target is a quota


def test_duplicate_metric_is_refused(tmp_path):
    msg = refused(
        tmp_path,
        "name: x\nkpis:\n  - {metric: leads, target: 1, weight: 0.5}\n  - {metric: leads, target: 2, weight: 0.5}\n",
    )
    assert "contract.yaml:2: field kpis: Value error, metric leads appears twice" in msg


def test_settle_days_needs_the_cohort_view(tmp_path):
    msg = refused(tmp_path, "name: x\nsettle_days: 45\nkpis: [{metric: leads, target: 1, weight: 1}]\n")
    assert msg.startswith(
        "contract.yaml:2: field settle_days: Value error, settle_days applies to view: cohort only"
    )
    c = parse_contract(
        "name: x\nview: cohort\nsettle_days: 45\nkpis: [{metric: leads, target: 1, weight: 1}]"
    )
    assert c.settle_days == 45


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ("{metric: romi}", "field bonus.gate: Value error, a gate needs min, max or both"),
        ("{metric: drr, min: 0.5, max: 0.3}", "min 0.5 is above max 0.3"),
        ("{metric: profit, min: 0}", "field bonus.gate.metric: Value error, unknown metric 'profit'"),
    ],
)
def test_bad_gates(tmp_path, gate, expected):
    msg = refused(
        tmp_path,
        f"name: x\nkpis: [{{metric: leads, target: 1, weight: 1}}]\nbonus:\n  base: 100\n  gate: {gate}\n",
    )
    assert msg.startswith("contract.yaml:5: ") and expected in msg


def test_scope_by_campaign_and_both(tmp_path):
    c = parse_contract(
        "name: x\nscope: {campaigns: [ya_search]}\nkpis: [{metric: leads, target: 1, weight: 1}]"
    )
    assert c.scope.where() == {"campaign": ["ya_search"]}
    c = parse_contract(
        "name: x\nscope: {channels: [vk_ads], campaigns: [a]}\nkpis: [{metric: leads, target: 1, weight: 1}]"
    )
    assert c.scope.where() == {"channel": ["vk_ads"], "campaign": ["a"]}
    assert parse_contract("name: x\nkpis: [{metric: leads, target: 1, weight: 1}]").scope.where() is None
    msg = refused(tmp_path, "name: x\nscope: {channels: []}\nkpis: [{metric: leads, target: 1, weight: 1}]\n")
    assert "field scope.channels: List should have at least 1 item" in msg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_contract(tmp_path / "nope.yaml")
    msg = refused(tmp_path, "name: x\nkpis: [{metric: leads\n")
    assert msg.startswith("contract.yaml:") and "not valid YAML" in msg
    msg = refused(tmp_path, "name: x\n")
    assert msg == "contract.yaml:1: field kpis: Field required"


@pytest.mark.parametrize("name", EXAMPLES)
def test_shipped_examples_load(name):
    c = load_contract(example_path(name))
    assert c.source and c.source.endswith(f"{name}.yaml")
    with pytest.raises(ConfigError, match="examples: pays_for_activity, pays_for_money"):
        example_path("nice")
