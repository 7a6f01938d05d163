"""The significance maths: hand-worked small cases, scipy cross-checks, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from kassa.diagnose.significance import (
    benjamini_hochberg,
    mean_test,
    poisson_rate_test,
    proportion_test,
    rate_test,
    sum_test,
)


def test_three_sales_to_one_is_noise():
    # k2 | k1 + k2 = 4 ~ Binomial(4, 1/2): P(k2 <= 1) + P(k2 >= 3) = (1 + 4)/16 + (4 + 1)/16 = 10/16
    res = poisson_rate_test(3, 30, 1, 30)
    assert res.test == "poisson_conditional"
    assert res.p_value == pytest.approx(10 / 16)


def test_three_hundred_to_one_fifty_is_significant():
    # Normal approximation: Binomial(450, 1/2) has mean 225 and sd sqrt(450)/2 = 10.61; 150 is 7.07 sd
    # below, so p ≈ 2 Φ(−7.07) ≈ 1.6e-12 — the exact test agrees within a factor of two.
    p = poisson_rate_test(300, 30, 150, 30).p_value
    assert 1e-13 < p < 1e-11
    assert p == pytest.approx(stats.binomtest(150, 450, 0.5).pvalue)


def test_month_lengths_are_exposure():
    # 30 events in September (30 days) and 31 in October (31 days): the same rate per day, so the
    # expected October share is 31/61 and the observed 31/61 is as central as it gets.
    assert poisson_rate_test(30, 30, 31, 31).p_value == pytest.approx(1.0)
    # Without days the same counts would still be noise, but the test must use the exposure it is given:
    assert poisson_rate_test(10, 1, 10, 3).p_value < poisson_rate_test(10, 1, 10, 1).p_value


def test_fisher_tea_tasting():
    # Fisher's lady tasting tea: [[3, 1], [1, 3]]. Hypergeometric with 8 cups, 4 of each, 4 chosen:
    # P(3 right) = C(4,3)·C(4,1)/C(8,4) = 16/70, P(4) = 1/70; two-sided = 2 × 17/70 = 0.4857.
    res = proportion_test(3, 4, 1, 4)
    assert res.test == "fisher_exact"
    assert res.p_value == pytest.approx(34 / 70)


def test_one_of_three_against_none_of_three_is_noise():
    # [[1, 2], [0, 3]]: P(first cell = 1) = C(3,1)C(3,0)/C(6,1) = 1/2 = P(0); both tables count: p = 1.
    assert proportion_test(1, 3, 0, 3).p_value == pytest.approx(1.0)


def test_rate_test_uses_fisher_for_shares_and_poisson_when_the_count_exceeds_its_base():
    assert rate_test(12, 40, 30, 50).test == "fisher_exact"
    # 9 sales closed this month from 6 qualified leads of this month (the rest were older leads).
    assert rate_test(5, 10, 9, 6).test == "poisson_conditional"
    assert rate_test(5, 10, 3, 0).test == "none"


def test_welch_from_sums_matches_scipy_on_the_raw_amounts():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    # Means 2 and 5, sample variances 1 and 1: t = 3 / sqrt(1/3 + 1/3) = 3.674, df = 4 -> p = 0.0213.
    res = mean_test(3, sum(a), sum(x * x for x in a), 3, sum(b), sum(x * x for x in b))
    assert res.test == "welch_t"
    assert res.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert res.p_value == pytest.approx(0.0213, abs=5e-4)


def test_welch_needs_two_deals_a_side_and_handles_identical_amounts():
    assert mean_test(1, 5.0, 25.0, 3, 6.0, 12.0).test == "none"
    assert mean_test(2, 20.0, 200.0, 2, 20.0, 200.0).p_value == 1.0  # every deal 10 both times
    assert mean_test(2, 20.0, 200.0, 2, 40.0, 800.0).p_value == 0.0  # every deal 10, then every deal 20


def test_one_deal_is_never_significant():
    # Revenue 0 -> 100 000 from one deal: z = (100 000/30) / sqrt(100 000²/30²) = 1 -> p = 2(1 − Φ(1)) = 0.3173
    res = sum_test(0.0, 0.0, 30, 100_000.0, 1e10, 30)
    assert res.test == "compound_poisson_z"
    assert res.p_value == pytest.approx(0.3173, abs=1e-4)


def test_revenue_of_many_similar_deals_that_halved_is_significant():
    # 40 deals of 10 000 -> 20 deals of 10 000 (equal months): z = (200 000 − 400 000)/30 / sqrt((4e9 + 2e9)/900)
    # = −6 667 / 2 582 = −2.58 -> p = 0.0098.
    res = sum_test(400_000.0, 40 * 1e8, 30, 200_000.0, 20 * 1e8, 30)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(200_000 / math.sqrt(6e9)))
    assert res.p_value == pytest.approx(0.0098, abs=2e-4)


def test_benjamini_hochberg_hand_example():
    # Sorted 0.01, 0.03, 0.04, 0.5 times 4/1, 4/2, 4/3, 4/4 = 0.04, 0.06, 0.0533, 0.5;
    # running minimum from the largest: 0.04, 0.0533, 0.0533, 0.5 (back in the input order).
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert q == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert benjamini_hochberg([]) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30))
def test_bh_q_values_are_probabilities_not_below_p_and_keep_the_order(ps):
    q = np.array(benjamini_hochberg(ps))
    p = np.array(ps)
    assert np.all(q >= p - 1e-12) and np.all(q <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.integers(0, 200), st.integers(1, 60), st.integers(1, 60))
def test_poisson_test_is_symmetric_and_a_probability(k1, k2, e1, e2):
    a = poisson_rate_test(k1, e1, k2, e2).p_value
    b = poisson_rate_test(k2, e2, k1, e1).p_value
    assert 0.0 <= a <= 1.0
    assert a == pytest.approx(b, rel=1e-6, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.data())
def test_fisher_is_symmetric_in_the_periods(n1, n2, data):
    k1 = data.draw(st.integers(0, n1))
    k2 = data.draw(st.integers(0, n2))
    assert proportion_test(k1, n1, k2, n2).p_value == pytest.approx(proportion_test(k2, n2, k1, n1).p_value)


def test_bh_keeps_healthy_noise_quiet_in_a_simulation():
    # Ground truth: 100 runs of 50 equal-rate Poisson comparisons (nothing changed anywhere). BH at 5 %
    # bounds the share of runs with any discovery by 5 % (the conditional test is conservative, so fewer).
    rng = np.random.default_rng(7)
    runs_with_discovery = 0
    for _ in range(100):
        k = rng.poisson(40, size=(50, 2))
        q = benjamini_hochberg([poisson_rate_test(int(a), 30, int(b), 30).p_value for a, b in k])
        runs_with_discovery += min(q) <= 0.05
    assert runs_with_discovery / 100 <= 0.05
