"""Is a change real or noise? Exact small-sample tests and one multiple-testing correction.

A small business sees 3 sales one month and 1 the next: that is not "sales −67 %", that is noise.
Every change a diagnosis rule leans on is tested here, and a finding is called *significant* only
when its test survives the Benjamini–Hochberg correction over every test of the same run.

Which test for which number
---------------------------

=====================  ==========================================  =================================
number                 example                                     test
=====================  ==========================================  =================================
a share of a count     lead → qualified = 12 / 40 vs 30 / 50       Fisher's exact test (2×2 table)
(k ≤ n in both)
a count per exposure   qualified leads per day, sales per post,    exact conditional test of two
(k may exceed n)       leads per visit when calls have no visit    Poisson rates (binomial)
a mean of few amounts  average check = revenue / sales             Welch's t-test from n, Σx, Σx²
a sum of few amounts   revenue = Σ of a few deals                  compound-Poisson z-test
=====================  ==========================================  =================================

All tests are two-sided: the rules look at both directions and only then keep the adverse ones, so a
one-sided test would halve p-values after peeking at the data.

References
----------
* Fisher, R. A. (1922). On the interpretation of χ² from contingency tables. *JRSS* 85(1), 87–94;
  Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., §3.5.
* Przyborowski, J. & Wilenski, H. (1940). Homogeneity of results in testing samples from Poisson series.
  *Biometrika* 31, 313–323; Krishnamoorthy, K. & Thomson, J. (2004). A more powerful test for comparing
  two Poisson means. *J. Stat. Plan. Inference* 119, 23–35 (the conditional test as the baseline).
* Welch, B. L. (1947). The generalization of "Student's" problem when several different population
  variances are involved. *Biometrika* 34, 28–35.
* Klugman, S., Panjer, H. & Willmot, G. (2019). *Loss Models*, 5th ed., §9.3: a compound Poisson sum
  S = X₁ + … + X_N with N ~ Poisson(λ) has Var S = λ E[X²], estimated without bias by Σ xᵢ².
* Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57, 289–300.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
"""False discovery rate of one diagnosis run: at most 5 % of the significant findings are expected to be
noise, and on a company where nothing changed the chance of any significant finding is at most 5 %."""


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test: its name (``fisher_exact``…) and two-sided p-value."""

    test: str
    p_value: float


NOT_TESTABLE = TestResult("none", 1.0)


def proportion_test(k1: int, n1: int, k2: int, n2: int) -> TestResult:
    """Did a share change? Fisher's exact test on the 2×2 table ``[[k1, n1-k1], [k2, n2-k2]]``.

    Exact for any sample size: under "same share" the first cell follows the hypergeometric law given
    the margins, and p is the total probability of tables no more likely than the observed one.
    Requires ``0 <= k <= n``; with an empty period there is nothing to compare (p = 1).

    Examples
    --------
    >>> round(proportion_test(1, 3, 0, 3).p_value, 3)   # 1/3 vs 0/3: noise
    1.0
    """
    if n1 <= 0 or n2 <= 0:
        return NOT_TESTABLE
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError(f"a share needs 0 <= k <= n, got {k1}/{n1} and {k2}/{n2}")
    res = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
    return TestResult("fisher_exact", _clip(float(res.pvalue)))


def poisson_rate_test(k1: int, e1: float, k2: int, e2: float) -> TestResult:
    """Did a rate of events per unit of exposure change? Exact conditional test of two Poisson rates.

    With k₁ ~ Poisson(λ₁e₁) and k₂ ~ Poisson(λ₂e₂), under H₀: λ₁ = λ₂ the split of the total is binomial:
    k₂ | k₁ + k₂ = n  ~  Binomial(n, e₂ / (e₁ + e₂)). The p-value is scipy's exact two-sided binomial test.

    Exposure is whatever the count is "per": days in the period (so 30 and 31-day months compare fairly),
    posts, clicks. Hand check: 3 → 1 in two equal months gives Binomial(4, ½), P(k₂ ≤ 1) + P(k₂ ≥ 3)
    = 2 × 5/16 = 0.625: noise. 300 → 150 gives p ≈ 1.3e-12.
    """
    if e1 <= 0 or e2 <= 0 or k1 + k2 <= 0:
        return NOT_TESTABLE
    res = stats.binomtest(int(k2), int(k1 + k2), e2 / (e1 + e2), alternative="two-sided")
    return TestResult("poisson_conditional", _clip(float(res.pvalue)))


def rate_test(k1: int, n1: float, k2: int, n2: float) -> TestResult:
    """A conversion rate k/n: Fisher's exact test when it is a share in both periods (k ≤ n, whole n),
    else the conditional Poisson test with n as exposure (e.g. sales closed this month from leads of
    earlier months can outnumber this month's qualified leads)."""
    if n1 <= 0 or n2 <= 0:
        return NOT_TESTABLE
    if float(n1).is_integer() and float(n2).is_integer() and 0 <= k1 <= n1 and 0 <= k2 <= n2:
        return proportion_test(int(k1), int(n1), int(k2), int(n2))
    return poisson_rate_test(k1, n1, k2, n2)


def mean_test(n1: int, sum1: float, sumsq1: float, n2: int, sum2: float, sumsq2: float) -> TestResult:
    """Did an average (check) change? Welch's t-test computed from n, Σx and Σx² of each period.

    mean = Σx / n, sample variance s² = (Σx² − (Σx)²/n) / (n − 1); t = (m₂ − m₁) / √(s₁²/n₁ + s₂²/n₂)
    with Welch–Satterthwaite degrees of freedom. Needs two amounts in each period; with a zero variance
    on both sides (every deal the same amount) the means either equal (p = 1) or differ for sure (p = 0).
    """
    if n1 < 2 or n2 < 2:
        return NOT_TESTABLE
    m1, m2 = sum1 / n1, sum2 / n2
    v1 = max((sumsq1 - sum1 * sum1 / n1) / (n1 - 1), 0.0)
    v2 = max((sumsq2 - sum2 * sum2 / n2) / (n2 - 1), 0.0)
    if v1 == 0 and v2 == 0:
        return TestResult("welch_t", 1.0 if math.isclose(m1, m2) else 0.0)
    res = stats.ttest_ind_from_stats(m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False)
    return TestResult("welch_t", _clip(float(res.pvalue)))


def sum_test(sum1: float, sumsq1: float, e1: float, sum2: float, sumsq2: float, e2: float) -> TestResult:
    """Did a money total made of few amounts (revenue) change? Compound-Poisson z-test.

    Revenue per day r = S / e; treating deals as a Poisson stream of random amounts, Var S = λE[X²] is
    estimated by Σx², so z = (r₂ − r₁) / √(Σx₁²/e₁² + Σx₂²/e₂²) and p = 2(1 − Φ(|z|)).
    One deal can never be significant on its own: 0 → x gives z = 1 (p = 0.32).
    """
    if e1 <= 0 or e2 <= 0:
        return NOT_TESTABLE
    var = sumsq1 / (e1 * e1) + sumsq2 / (e2 * e2)
    if var <= 0:
        return NOT_TESTABLE
    z = (sum2 / e2 - sum1 / e1) / math.sqrt(var)
    return TestResult("compound_poisson_z", _clip(float(2 * stats.norm.sf(abs(z)))))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values): q₍ᵢ₎ = min_{j ≥ i} (m / j) · p₍ⱼ₎, capped at 1.

    A test is a discovery at false discovery rate α when q ≤ α. Under "nothing changed anywhere" this
    also bounds the chance of *any* discovery by α (Benjamini & Hochberg 1995, Theorem 1).

    Hand check: p = (0.01, 0.04, 0.03, 0.5), m = 4 → sorted 0.01, 0.03, 0.04, 0.5 → ×4/1, ×4/2, ×4/3, ×4/4
    = 0.04, 0.06, 0.0533, 0.5 → running minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return [float(x) for x in q]


def _clip(p: float) -> float:
    # scipy may return 1.0000000000000002 on symmetric tables; a p-value is a probability.
    return min(max(p, 0.0), 1.0)
