"""Faults of popular attribution libraries that kassa must not repeat — one test each."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from attribution_reference import order1_removal_effects

from kassa.attribution import attribute, get_model, read_path_file
from kassa.attribution.paths import paths_from_records
from kassa.errors import MissingColumn


def _random_records(seed: int, n: int = 400) -> list[tuple[list[str], float, float, float]]:
    rng = np.random.default_rng(seed)
    channels = ["a", "b", "c", "d", "e", "f"]
    out = []
    for _ in range(n):
        path = [str(x) for x in rng.choice(channels, size=int(rng.integers(1, 7)))]
        conv = float(rng.integers(0, 4))
        out.append((path, conv, conv * float(rng.integers(100, 1000)), float(rng.integers(0, 6))))
    return out


def test_markov_has_no_simulation_error():
    # ChannelAttribution estimates removal effects by simulation (default convergence 5 %, several percent
    # off); kassa solves the chain. Compared with exact rational arithmetic, the error is rounding only.
    records = _random_records(1)
    exact = order1_removal_effects(records)
    got = get_model("markov").attribute(paths_from_records(records)).extras["removal_effects"]
    worst = max(
        abs(r["removal_effect_conversions"] - float(exact[r["channel"]])) / float(exact[r["channel"]])
        for r in got.to_dicts()
    )
    assert worst < 1e-12


def test_markov_is_deterministic():
    t = paths_from_records(_random_records(2))
    a, b = get_model("markov", order=2).attribute(t), get_model("markov", order=2).attribute(t)
    assert a.credits.equals(b.credits)


def test_shapley_keeps_every_channel_of_a_long_journey():
    # Some libraries cut journeys to the last N channels after sorting names, so a 20-channel journey
    # loses "a".."d". Exact Shapley with v(S) = conversions of journeys ⊆ S splits one conversion
    # equally among its 20 distinct channels: 1/20 each.
    channels = [f"{chr(97 + i)}_channel" for i in range(20)]
    r = get_model("shapley").attribute(paths_from_records([(channels, 1, 200, 0)]))
    assert r.as_dict() == pytest.approx({c: 0.05 for c in channels})
    assert r.as_dict("value") == pytest.approx({c: 10.0 for c in channels})


def test_shapley_sampling_is_seeded_and_close():
    t = paths_from_records(_random_records(3, 100))
    a = get_model("shapley", method="sampling", samples=300, seed=5).attribute(t)
    b = get_model("shapley", method="sampling", samples=300, seed=5).attribute(t)
    exact = get_model("shapley").attribute(t)
    assert a.credits.equals(b.credits)
    se = dict(
        zip(a.extras["standard_error"]["channel"], a.extras["standard_error"]["conversions"], strict=True)
    )
    for ch, v in exact.as_dict().items():
        assert abs(a.credit(ch) - v) <= 6 * se[ch] + 1e-9


def test_shapley_never_negative_on_ordinary_data():
    # A conversion-rate characteristic function gives a channel with many non-converting journeys a
    # negative credit; v(S) = conversions of journeys ⊆ S has non-negative dividends, so it cannot.
    records = _random_records(4) + [(["spam"], 0, 0, 500), (["spam", "a"], 1, 100, 300)]
    r = get_model("shapley").attribute(paths_from_records(records))
    assert min(r.as_dict().values()) >= 0
    assert r.credit("spam") > 0


def test_missing_total_null_is_an_error_not_a_silent_drop(tmp_path: Path):
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,total_conversion_value\na > b,3,300\nb,1,50\n", encoding="utf-8")
    with pytest.raises(MissingColumn, match="total_null"):
        read_path_file(f)
    table = read_path_file(f, allow_missing_nulls=True)
    r = attribute(table, "markov")["markov"]
    assert any("total_null" in w for w in r.warnings)


def test_fractional_counts_are_not_truncated(tmp_path: Path):
    # ChannelAttribution reads conversions as unsigned integers: 0.5 becomes 0.
    f = tmp_path / "paths.csv"
    f.write_text(
        textwrap.dedent("""\
        path,total_conversions,total_conversion_value,total_null
        a > b,0.5,50,0.5
        b,0.25,25,1.75
    """),
        encoding="utf-8",
    )
    for name, r in attribute(read_path_file(f), "all").items():
        assert sum(r.as_dict().values()) == pytest.approx(0.75), name
        assert sum(r.as_dict("value").values()) == pytest.approx(75.0), name
