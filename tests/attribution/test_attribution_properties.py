"""Properties every model must keep, on random path tables (hypothesis)."""

from __future__ import annotations

import math
import random

import pytest
from attribution_reference import order1_removal_effects
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.attribution import attribute, get_model, model_names
from kassa.attribution.paths import paths_from_records
from kassa.attribution.shapley import channel_sets, shapley_exact, shapley_sampling, shapley_subsets

CHANNELS = ["vk", "seo", "direct", "email", "tg", "ya"]
# Fractional conversions on purpose (a CRM's split deals, a probability-weighted lead).
amount = st.floats(min_value=0, max_value=20, allow_nan=False).map(lambda x: round(x, 3))
record = st.tuples(
    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
    amount,
    st.floats(min_value=0, max_value=5000, allow_nan=False),
    amount,
).map(lambda r: (r[0], r[1], r[2] if r[1] > 0 else 0.0, r[3]))
tables = st.lists(record, min_size=1, max_size=12).filter(lambda rs: sum(r[1] for r in rs) > 0)
SETTINGS = settings(max_examples=40, deadline=None)
ALL = {"order": 1}


@SETTINGS
@given(tables, st.integers(1, 3))
def test_credits_sum_to_the_total_for_every_model(records, order):
    t = paths_from_records(records)
    total_c, total_v = sum(r[1] for r in records), sum(r[2] for r in records)
    for name, r in attribute(t, "all", params={"order": order}).items():
        assert sum(r.as_dict().values()) == pytest.approx(total_c, rel=1e-9, abs=1e-9), name
        assert sum(r.as_dict("value").values()) == pytest.approx(total_v, rel=1e-9, abs=1e-6), name
        assert min(r.as_dict().values()) >= -1e-12, name  # no negative credit, Shapley included


@SETTINGS
@given(tables, st.randoms(use_true_random=False))
def test_renaming_and_reordering_channels_changes_nothing(records, rnd: random.Random):
    names = CHANNELS[:]
    rnd.shuffle(names)
    rename = {c: f"x_{n}" for c, n in zip(CHANNELS, names, strict=True)}
    shuffled = records[:]
    rnd.shuffle(shuffled)
    renamed = [([rename[c] for c in p], c_, v, n) for p, c_, v, n in shuffled]
    a = attribute(paths_from_records(records), "all")
    b = attribute(paths_from_records(renamed, direct=(rename["direct"],)), "all")
    for name in model_names():
        da, db = a[name].as_dict(), b[name].as_dict()
        assert {rename[k]: v for k, v in da.items()} == pytest.approx(db, rel=1e-9, abs=1e-9), name


@SETTINGS
@given(tables)
def test_a_channel_that_never_appears_gets_nothing(records):
    for name, r in attribute(paths_from_records(records), "all").items():
        assert r.credit("billboard") == 0.0, name
        assert "billboard" not in r.credits["channel"].to_list()


@SETTINGS
@given(tables)
def test_shapley_symmetry(records):
    # Add every path with vk and seo swapped: the data cannot tell them apart, so neither can Shapley.
    swap = {"vk": "seo", "seo": "vk"}
    both = records + [([swap.get(c, c) for c in p], c_, v, n) for p, c_, v, n in records]
    r = get_model("shapley").attribute(paths_from_records(both))
    assert r.credit("vk") == pytest.approx(r.credit("seo"), rel=1e-12, abs=1e-12)
    assert r.credit("vk", "value") == pytest.approx(r.credit("seo", "value"), rel=1e-12, abs=1e-9)


@SETTINGS
@given(tables)
def test_shapley_null_player(records):
    # "billboard" is only on journeys that never convert: adding it never changes v(S).
    with_null = records + [(["billboard", *records[0][0]], 0.0, 0.0, 3.0)]
    r = get_model("shapley").attribute(paths_from_records(with_null))
    assert r.credit("billboard") == 0.0
    assert "billboard" in r.credits["channel"].to_list()


@SETTINGS
@given(tables)
def test_shapley_three_ways_agree(records):
    t = paths_from_records(records)
    channels, sets, r_conv, _ = channel_sets(t)
    exact = shapley_exact(len(channels), sets, r_conv)
    assert shapley_subsets(len(channels), sets, r_conv) == pytest.approx(exact, rel=1e-9, abs=1e-9)
    est, se = shapley_sampling(len(channels), sets, r_conv, samples=400, seed=7)
    # Sampling is unbiased: within 6 standard errors (plus float noise) of the exact value.
    assert all(abs(e - x) <= 6 * s + 1e-9 for e, x, s in zip(est, exact, se, strict=True))


@SETTINGS
@given(tables, st.integers(1, 4))
def test_markov_removal_effects_are_probabilities(records, order):
    r = get_model("markov", order=order).attribute(paths_from_records(records))
    for row in r.extras["removal_effects"].to_dicts():
        assert 0.0 <= row["removal_effect_conversions"] <= 1.0
        assert 0.0 <= row["removal_effect_value"] <= 1.0


@SETTINGS
@given(tables)
def test_markov_order_1_equals_the_exact_rational_answer(records):
    ref = order1_removal_effects(records)
    r = get_model("markov").attribute(paths_from_records(records))
    for row in r.extras["removal_effects"].to_dicts():
        assert math.isclose(
            row["removal_effect_conversions"], float(ref[row["channel"]]), rel_tol=1e-9, abs_tol=1e-12
        )


def test_fractional_conversions_are_kept():
    t = paths_from_records([(["vk", "seo"], 0.5, 10, 0.25), (["seo"], 0.25, 5, 0.0)])
    for name, r in attribute(t, "all").items():
        assert sum(r.as_dict().values()) == pytest.approx(0.75, rel=1e-12), name
