"""Hand-worked cases: every model on small data whose answer is computed in the comments."""

from __future__ import annotations

import polars as pl
import pytest

from kassa.attribution import attribute, get_model, model_names
from kassa.attribution.base import BadModelParameter, UnknownModel
from kassa.attribution.markov import estimate_chain
from kassa.attribution.paths import PathTable, paths_from_records

# The five-path example used for every rule-based model (conversions 5, value 2300):
#   1. vk > seo > direct           1 conversion, 1000
#   2. seo                         2 conversions, 600
#   3. direct > vk                 1 conversion, 300
#   4. vk > email > seo > direct   1 conversion, 400
#   5. email > email               0 conversions, 3 nulls (no credit in rule-based models)
FIVE = [
    (["vk", "seo", "direct"], 1, 1000, 0),
    (["seo"], 2, 600, 0),
    (["direct", "vk"], 1, 300, 0),
    (["vk", "email", "seo", "direct"], 1, 400, 0),
    (["email", "email"], 0, 0, 3),
]
DAYS = [[14.0, 7.0, 0.0], [3.0], [7.0, 0.0], [21.0, 14.0, 7.0, 0.0], [2.0, 1.0]]


def five(with_days: bool = False) -> PathTable:
    frame = pl.DataFrame(
        {
            "path": [r[0] for r in FIVE],
            "conversions": [float(r[1]) for r in FIVE],
            "value": [float(r[2]) for r in FIVE],
            "nulls": [float(r[3]) for r in FIVE],
        }
    )
    if with_days:
        frame = frame.with_columns(days_before=pl.Series(DAYS))
    return PathTable.from_frame(frame)


def credits(name: str, table: PathTable, column: str = "conversions", **params: object) -> dict[str, float]:
    return get_model(name, **params).attribute(table).as_dict(column)


def test_first_touch():
    # vk starts paths 1 and 4 (1 + 1), seo path 2 (2), direct path 3 (1)
    assert credits("first_touch", five()) == pytest.approx({"direct": 1, "email": 0, "seo": 2, "vk": 2})
    # value: vk 1000 + 400, seo 600, direct 300
    assert credits("first_touch", five(), "value") == pytest.approx(
        {"direct": 300, "email": 0, "seo": 600, "vk": 1400}
    )


def test_last_touch():
    # direct ends paths 1 and 4, seo path 2 (2 conversions), vk path 3
    assert credits("last_touch", five()) == pytest.approx({"direct": 2, "email": 0, "seo": 2, "vk": 1})


def test_last_non_direct():
    # 1 -> seo (1), 2 -> seo (2), 3 -> vk (1), 4 -> seo (1): seo 4, vk 1, direct only when alone
    assert credits("last_non_direct", five()) == pytest.approx({"direct": 0, "email": 0, "seo": 4, "vk": 1})
    only_direct = paths_from_records([(["direct", "direct"], 2, 10, 0)])
    assert credits("last_non_direct", only_direct) == pytest.approx({"direct": 2})


def test_linear():
    # vk = 1/3 + 1/2 + 1/4; seo = 1/3 + 2 + 1/4; direct = 1/3 + 1/2 + 1/4; email = 1/4
    assert credits("linear", five()) == pytest.approx(
        {"vk": 1 / 3 + 0.5 + 0.25, "seo": 1 / 3 + 2 + 0.25, "direct": 1 / 3 + 0.5 + 0.25, "email": 0.25}
    )
    # value, vk: 1000/3 + 300/2 + 400/4 = 583.33
    assert credits("linear", five(), "value")["vk"] == pytest.approx(1000 / 3 + 150 + 100)


def test_position_based_40_20_40():
    # 1 (3 touches): vk .4 seo .2 direct .4; 2: seo 2; 3 (2 touches): .5/.5; 4: vk .4 email .1 seo .1 direct .4
    assert credits("position_based", five()) == pytest.approx(
        {"vk": 1.3, "seo": 2.3, "direct": 1.3, "email": 0.1}
    )
    # 30/40/30 on path 4 alone: vk .3, email .2, seo .2, direct .3
    one = paths_from_records([FIVE[3]])
    assert credits("position_based", one, first=0.3, last=0.3) == pytest.approx(
        {"vk": 0.3, "email": 0.2, "seo": 0.2, "direct": 0.3}
    )


def test_time_decay_with_days():
    # half-life 7 days: weight 2^(-d/7), normalised per path
    #  1: d 14, 7, 0 -> .25, .5, 1 (sum 1.75): vk 1/7, seo 2/7, direct 4/7
    #  2: seo 2
    #  3: d 7, 0 -> .5, 1: direct 1/3, vk 2/3
    #  4: d 21, 14, 7, 0 -> .125 .25 .5 1 (sum 1.875): vk 1/15, email 2/15, seo 4/15, direct 8/15
    assert credits("time_decay", five(with_days=True)) == pytest.approx(
        {
            "vk": 1 / 7 + 2 / 3 + 1 / 15,
            "seo": 2 / 7 + 2 + 4 / 15,
            "direct": 4 / 7 + 1 / 3 + 8 / 15,
            "email": 2 / 15,
        }
    )


def test_time_decay_without_days_counts_steps_and_says_so():
    # half-life 1 step on path 3 alone: direct (1 step before the end) 1/3, vk 2/3
    r = get_model("time_decay", half_life_days=1).attribute(paths_from_records([FIVE[2]]))
    assert r.as_dict() == pytest.approx({"direct": 1 / 3, "vk": 2 / 3})
    assert any("steps, not days" in w for w in r.warnings)


def test_two_channel_shapley():
    # R({a}) = 3, R({b}) = 1, R({a,b}) = 2 + 4 = 6 -> v(a) = 3, v(b) = 1, v(ab) = 10
    # phi_a = 1/2 (v(a) - 0) + 1/2 (v(ab) - v(b)) = 1.5 + 4.5 = 6; phi_b = 0.5 + 3.5 = 4
    t = paths_from_records(
        [(["a"], 3, 30, 1), (["a", "b"], 2, 20, 0), (["b"], 1, 10, 5), (["b", "a"], 4, 40, 0)]
    )
    for method in ("exact", "subsets"):
        assert credits("shapley", t, method=method) == pytest.approx({"a": 6, "b": 4})
        assert credits("shapley", t, "value", method=method) == pytest.approx({"a": 60, "b": 40})


# Three transient states (start, a, b), by hand:
#   paths  a > b: 1 conversion (value 100);  a: 1 null;  b: 1 conversion (value 50) + 1 null
#   counts start->a 2, start->b 2; a->b 1, a->null 1; b->conv 2, b->null 1
#   P(conv) = 1/2 * (1/2 * 2/3) + 1/2 * 2/3 = 1/6 + 1/3 = 1/2
#   without a: 1/2 * 2/3 = 1/3 -> RE_a = 1 - (1/3)/(1/2) = 1/3;  without b: 0 -> RE_b = 1
#   credits of 2 conversions: a = 2 * (1/3)/(4/3) = 0.5, b = 2 * 1/(4/3) = 1.5
#   value: each visit of b ends in 150/3 = 50 on average; E[value] = 1/4 * 50 + 1/2 * 50 = 37.5;
#   without a 25 -> RE 1/3, without b 0 -> RE 1; credits of 150: a 37.5, b 112.5
THREE = [(["a", "b"], 1, 100, 0), (["a"], 0, 0, 1), (["b"], 1, 50, 1)]


def test_markov_three_states_by_hand():
    r = get_model("markov").attribute(paths_from_records(THREE))
    assert r.extras["conversion_probability"] == pytest.approx(0.5, rel=1e-12)
    assert r.extras["expected_value"] == pytest.approx(37.5, rel=1e-12)
    effects = {row["channel"]: row for row in r.extras["removal_effects"].to_dicts()}
    assert effects["a"]["removal_effect_conversions"] == pytest.approx(1 / 3, rel=1e-12)
    assert effects["b"]["removal_effect_conversions"] == pytest.approx(1.0, rel=1e-12)
    assert effects["a"]["removal_effect_value"] == pytest.approx(1 / 3, rel=1e-12)
    assert r.as_dict() == pytest.approx({"a": 0.5, "b": 1.5}, rel=1e-12)
    assert r.as_dict("value") == pytest.approx({"a": 37.5, "b": 112.5}, rel=1e-12)


def test_markov_transition_matrix_has_channel_names():
    r = get_model("markov").attribute(paths_from_records(THREE))
    m = {(x["from"], x["to"]): x["probability"] for x in r.extras["transition_matrix"].to_dicts()}
    assert m == pytest.approx(
        {
            ("(start)", "a"): 0.5,
            ("(start)", "b"): 0.5,
            ("a", "b"): 0.5,
            ("a", "(null)"): 0.5,
            ("b", "(conversion)"): 2 / 3,
            ("b", "(null)"): 1 / 3,
        }
    )


def test_markov_order_2_states_are_windows():
    # a > b > c (1 conversion) and a > b (1 null): order-2 states "a > b", "b > c"
    # start -> "a > b" 2; "a > b" -> "b > c" 1, -> null 1; "b > c" -> conv 1
    chain = estimate_chain(paths_from_records([(["a", "b", "c"], 1, 0, 0), (["a", "b"], 0, 0, 1)]), order=2)
    names = sorted(chain.state_name(s) for s in range(chain.size))
    assert names == ["(start)", "a > b", "b > c"]
    r = get_model("markov", order=2).attribute(
        paths_from_records([(["a", "b", "c"], 1, 0, 0), (["a", "b"], 0, 0, 1)])
    )
    # every channel is in every converting walk: RE = 1 each, credit 1/3 each
    assert r.as_dict() == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})


def test_markov_order_1_ignores_repeats_like_channelattribution():
    a = get_model("markov").attribute(paths_from_records([(["a", "a", "b"], 1, 0, 1), (["b"], 1, 0, 0)]))
    b = get_model("markov").attribute(paths_from_records([(["a", "b"], 1, 0, 1), (["b"], 1, 0, 0)]))
    assert a.as_dict() == pytest.approx(b.as_dict(), rel=1e-12)


def test_exclude_direct_applies_to_every_model():
    out = attribute(five(), "all", exclude_direct=True)
    for name, r in out.items():
        assert r.credit("direct") == pytest.approx(0.0, abs=1e-12), name
        assert sum(r.as_dict().values()) == pytest.approx(5.0), name


def test_lookback_drops_old_touches_and_keeps_the_conversion():
    # lookback 10 days: path 1 keeps seo, direct; path 4 keeps seo, direct; path 3 keeps direct, vk (vk stays listed)
    out = attribute(five(with_days=True), "first_touch", lookback_days=10)["first_touch"]
    # first touches: 1 -> seo, 2 -> seo (2), 3 -> direct, 4 -> seo
    assert out.as_dict() == pytest.approx({"direct": 1, "seo": 4, "email": 0, "vk": 0})
    gone = PathTable.from_frame(
        pl.DataFrame({"path": [["vk"]], "conversions": [1.0], "days_before": [[40.0]]})
    )
    assert attribute(gone, "linear", lookback_days=30)["linear"].as_dict() == {"unknown": 1.0}


def test_lookback_without_times_is_a_warning():
    out = attribute(five(), "linear", lookback_days=30)["linear"]
    assert any("lookback" in w for w in out.warnings)


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(UnknownModel) as e:
        get_model("u_shaped")
    for name in model_names():
        assert name in str(e.value)
    with pytest.raises(UnknownModel):
        attribute(five(), "linear,nope")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("markov", {"order": 5}),
        ("markov", {"order": 0}),
        ("position_based", {"first": 0.7, "last": 0.5}),
        ("time_decay", {"half_life_days": 0}),
        ("shapley", {"method": "magic"}),
    ],
)
def test_bad_parameters_are_refused(name, params):
    with pytest.raises(BadModelParameter):
        get_model(name, **params)


def test_eight_models_registered():
    assert model_names() == [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
        "markov",
        "shapley",
    ]
