"""Attribution speed and exactness: kassa's exact Markov vs ChannelAttribution, order 3, journeys from visits.

Figures (all inputs generated deterministically and cached in ``bench/out/``):

1. **Order-1 Markov from a path file.** Path files of 10^6 and 10^7 journeys simulated from a known
   8-channel chain (about 0.17 and 1.1 million distinct paths) in ChannelAttribution's layout.
   Baseline: ChannelAttribution 2.2.x ``markov_model(order=1)`` at its defaults (pandas reads the
   file). Each runs in a fresh child process (time from file to result, peak RSS). Both are compared
   with the closed-form answer: the absorbing-chain equations solved in exact rational arithmetic
   (``fractions.Fraction``, no NumPy/SciPy), so "relative error" is the largest relative difference
   of a channel's credited conversions. Targets: kassa at most as slow at 10^6, at least 2× faster
   at 10^7, relative error ≤ 1e-9.
2. **Order 3** on the 10^7 file: under 30 s.
3. **Journeys inside the engine + all eight models** on a warehouse of 10 million visits (filled
   with DuckDB SQL: this measures attribution, not import): under 60 s, also per million visits.

``python -m bench attribution`` (or ``python -m bench.bench_attribution``) runs it; ``--quick`` uses
small sizes to check the machinery. Needs the optional ``bench`` extra (ChannelAttribution,
matplotlib — ChannelAttribution imports it).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

from bench.common import OUT, Figure, in_child, peak_rss_mb

CHANNELS = ("yandex_direct", "vk_ads", "google_ads", "seo", "direct", "email", "telegram", "referral")
JOURNEYS = (10**6, 10**7)
QUICK_JOURNEYS = (20_000, 100_000)
VISITS, QUICK_VISITS = 10_000_000, 200_000
MAX_LEN = 19  # 9^19 < 2^63: a path fits one int64 while simulating
STOP = 0.28  # chance a journey ends after each touch: ~0.17 M distinct paths per 10^6 journeys


# -- inputs ----------------------------------------------------------------------------------------
def simulate(journeys: int, seed: int = 2026) -> tuple[list[str], list[int], list[float], list[int]]:
    """Journeys from a fixed random 8-channel chain, aggregated: (path, conversions, value, nulls)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    k = len(CHANNELS)
    start = rng.dirichlet(np.full(k, 2.0))
    trans = rng.dirichlet(np.full(k, 0.8), size=k).cumsum(axis=1)
    conv_p = rng.uniform(0.15, 0.5, size=k)  # P(conversion | journey ends after this channel)
    mean_value = rng.uniform(5_000, 40_000, size=k)
    code = np.zeros(journeys, dtype=np.int64)
    state = rng.choice(k, size=journeys, p=start)
    alive = np.ones(journeys, dtype=bool)
    converted = np.zeros(journeys, dtype=bool)
    value = np.zeros(journeys)
    for step in range(MAX_LEN):
        idx = np.flatnonzero(alive)
        if not len(idx):
            break
        s = state[idx]
        code[idx] = code[idx] * 9 + s + 1
        ends = (rng.random(len(idx)) < STOP) | (step == MAX_LEN - 1)
        done, s_done = idx[ends], s[ends]
        alive[done] = False
        win = rng.random(len(done)) < conv_p[s_done]
        converted[done[win]] = True
        value[done[win]] = np.round(rng.gamma(4.0, mean_value[s_done[win]] / 4.0))
        cont = idx[~ends]
        state[cont] = (rng.random(len(cont))[:, None] > trans[state[cont]]).sum(axis=1).clip(max=k - 1)
    uniq, inv = np.unique(code, return_inverse=True)
    conv = np.bincount(inv, weights=converted, minlength=len(uniq)).astype(np.int64)
    nulls = np.bincount(inv, weights=~converted, minlength=len(uniq)).astype(np.int64)
    vals = np.bincount(inv, weights=value, minlength=len(uniq))
    digits = []
    rest = uniq.copy()
    while rest.any():
        digits.append(rest % 9)
        rest //= 9
    names = pl.Series(["", *CHANNELS])
    cols = [pl.Series(f"d{i}", names.gather(d)) for i, d in enumerate(reversed(digits))]
    frame = pl.DataFrame(cols).with_columns(pl.all().replace("", None))
    path = frame.select(pl.concat_str(pl.all(), separator=" > ", ignore_nulls=True)).to_series()
    return path.to_list(), conv.tolist(), vals.tolist(), nulls.tolist()


def path_file(journeys: int) -> Path:
    out = OUT / f"attribution_paths_{journeys}.csv"
    if not out.exists():
        import polars as pl

        paths, conv, vals, nulls = simulate(journeys)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        pl.DataFrame(
            {"path": paths, "total_conversions": conv, "total_conversion_value": vals, "total_null": nulls}
        ).write_csv(tmp)
        tmp.replace(out)
    return out


def visits_db(visits: int) -> Path:
    """A warehouse of ``visits`` visits (4 per client, Sept–Oct 2026, 8 channels), 1 lead per 40
    clients, a third of them won. Filled with DuckDB SQL after kassa created the schema."""
    out = OUT / f"attribution_visits_{visits}.duckdb"
    if out.exists():
        return out
    import duckdb

    from kassa.store import Warehouse

    tmp = out.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    Warehouse.open(tmp).close()
    con = duckdb.connect(str(tmp))
    clients = max(visits // 4, 1)
    con.execute(
        f"""
        INSERT INTO visits (visit_id, client_id, ts, utm_source, utm_medium, utm_campaign, referrer)
        SELECT 'v' || i, 'c' || (i % {clients}),
               TIMESTAMP '2026-09-01' + to_seconds(((hash(i) % 4752000) + 0)::BIGINT),
               ['yandex','vk','google','','','newsletter','telegram',''][1 + (hash(i * 7 + 1) % 8)::INT],
               ['cpc','cpc','cpc','organic','','email','social',''][1 + (hash(i * 7 + 1) % 8)::INT],
               ['brand','retarget','search','','','oct','channel',''][1 + (hash(i * 7 + 1) % 8)::INT],
               CASE WHEN hash(i * 7 + 1) % 8 = 7 THEN 'https://partner.example/' ELSE '' END
        FROM range({visits}) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO leads (lead_id, created_at, client_id, status)
        SELECT 'L' || c, TIMESTAMP '2026-10-01' + to_seconds((hash(c) % 2592000)::BIGINT), 'c' || c,
               CASE WHEN c % 3 = 0 THEN 'qualified' ELSE 'new' END
        FROM range(0, {clients}, 40) t(c)
        """
    )
    con.execute(
        """
        INSERT INTO deals (deal_id, lead_id, created_at, status, closed_at, amount, currency)
        SELECT 'D' || substr(lead_id, 2), lead_id, created_at, 'won', created_at + INTERVAL 2 DAY,
               10000 + (hash(lead_id) % 50) * 1000, 'RUB'
        FROM leads WHERE hash(lead_id) % 3 = 0
        """
    )
    con.close()
    tmp.replace(out)
    return out


# -- the closed form ------------------------------------------------------------------------------
def exact_credits(path: Path) -> dict[str, float]:
    """Order-1 removal-effect credits in exact rational arithmetic (plain Python, independent of kassa)."""
    counts: dict[str, dict[str, int]] = {}
    total_conv = 0

    def add(a: str, b: str, w: int) -> None:
        if w:
            row = counts.setdefault(a, {})
            row[b] = row.get(b, 0) + w

    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            c, n = int(float(rec["total_conversions"])), int(float(rec["total_null"]))
            total_conv += c
            prev = "(start)"
            last = None
            for ch in (x.strip() for x in rec["path"].split(">")):
                if ch != last:  # repeats are one step (a self-loop changes no absorption probability)
                    add(prev, ch, c + n)
                    prev = last = ch
            add(prev, "(conversion)", c)
            add(prev, "(null)", n)
    channels = sorted(k for k in counts if k != "(start)")

    def p_conv(removed: str | None) -> Fraction:
        states = ["(start)"] + [c for c in channels if c != removed]
        idx = {s: i for i, s in enumerate(states)}
        m = len(states)
        a = [[Fraction(int(i == j)) for j in range(m)] + [Fraction(0)] for i in range(m)]
        for s in states:
            row = counts.get(s, {})
            total = sum(row.values())
            for t, w in row.items():
                if t == "(conversion)":
                    a[idx[s]][m] += Fraction(w, total)
                elif t in idx:
                    a[idx[s]][idx[t]] -= Fraction(w, total)
        for col in range(m):
            piv = next(r for r in range(col, m) if a[r][col] != 0)
            a[col], a[piv] = a[piv], a[col]
            pv = a[col][col]
            a[col] = [x / pv for x in a[col]]
            for r in range(m):
                if r != col and a[r][col] != 0:
                    f = a[r][col]
                    a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
        return a[0][m]

    full = p_conv(None)
    effects = {c: 1 - p_conv(c) / full for c in channels}
    total_effect = sum(effects.values())
    return {c: float(total_conv * e / total_effect) for c, e in effects.items()}


def rel_error(got: dict[str, float], exact: dict[str, float]) -> float:
    return max(abs(got.get(c, 0.0) - v) / abs(v) for c, v in exact.items() if v)


# -- children -------------------------------------------------------------------------------------
def child_kassa(path: Path, order: int) -> dict[str, object]:
    from kassa.attribution import get_model, read_path_file

    started = time.perf_counter()
    table = read_path_file(path)
    read = time.perf_counter() - started
    result = get_model("markov", order=order).attribute(table)
    return {
        "seconds": time.perf_counter() - started,
        "read_seconds": read,
        "rss_mb": peak_rss_mb(),
        "credits": result.as_dict(),
        "paths": table.frame.height,
    }


def child_ca(path: Path) -> dict[str, object]:
    import pandas as pd  # ChannelAttribution's own input type; bench only
    from ChannelAttribution import markov_model

    started = time.perf_counter()
    data = pd.read_csv(path)
    read = time.perf_counter() - started
    with contextlib.redirect_stdout(io.StringIO()):
        res = markov_model(
            data,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            verbose=False,
            flg_pro=False,
        )
    credits = dict(zip(res["channel_name"], (float(x) for x in res["total_conversions"]), strict=True))
    return {
        "seconds": time.perf_counter() - started,
        "read_seconds": read,
        "rss_mb": peak_rss_mb(),
        "credits": credits,
    }


def child_journeys(db: Path) -> dict[str, object]:
    from kassa.attribution import attribute
    from kassa.attribution.journeys import warehouse_paths
    from kassa.store import Warehouse

    started = time.perf_counter()
    with Warehouse.open(db, read_only=True) as wh:
        table = warehouse_paths(wh, "2026-10", "sales")
        built = time.perf_counter() - started
        visits = wh.row_count("visits")
    results = attribute(table, "all")
    total = sum(results["markov"].as_dict("value").values())
    return {
        "seconds": time.perf_counter() - started,
        "journey_seconds": built,
        "rss_mb": peak_rss_mb(),
        "journeys": table.frame.height,
        "visits": visits,
        "models": len(results),
        "revenue": total,
    }


# -- the benchmark --------------------------------------------------------------------------------
def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    sizes = QUICK_JOURNEYS if quick else JOURNEYS
    for i, n in enumerate(sizes):
        f = path_file(n)
        exact = exact_credits(f)
        ca = in_child("bench.bench_attribution", "--child", "ca", str(f))
        ks = in_child("bench.bench_attribution", "--child", "kassa", str(f), "1")
        label = f"{n:.0e} journeys".replace("e+0", "e")
        speedup = float(ca["seconds"]) / float(ks["seconds"])  # type: ignore[arg-type]
        figures += [
            Figure(f"{label}: distinct paths", float(ks["paths"]), "paths"),  # type: ignore[arg-type]
            Figure(f"{label}: ChannelAttribution markov", float(ca["seconds"]), "s"),  # type: ignore[arg-type]
            Figure(f"{label}: kassa exact markov", float(ks["seconds"]), "s"),  # type: ignore[arg-type]
            Figure(f"{label}: kassa of which reading", float(ks["read_seconds"]), "s"),  # type: ignore[arg-type]
            Figure(
                f"{label}: speed-up over ChannelAttribution",
                speedup,
                "×",
                target=None if quick else (1.0 if i == 0 else 2.0),
            ),
            Figure(f"{label}: ChannelAttribution rel. error", rel_error(ca["credits"], exact), ""),  # type: ignore[arg-type]
            Figure(
                f"{label}: kassa rel. error",
                rel_error(ks["credits"], exact),
                "",  # type: ignore[arg-type]
                target=1e-9,
                higher_is_better=False,
            ),
            Figure(f"{label}: ChannelAttribution peak RSS", float(ca["rss_mb"]), "MiB"),  # type: ignore[arg-type]
            Figure(f"{label}: kassa peak RSS", float(ks["rss_mb"]), "MiB"),  # type: ignore[arg-type]
        ]
    big = path_file(sizes[-1])
    o3 = in_child("bench.bench_attribution", "--child", "kassa", str(big), "3")
    figures.append(
        Figure(
            "order-3 markov on the largest file",
            float(o3["seconds"]),
            "s",  # type: ignore[arg-type]
            target=None if quick else 30.0,
            higher_is_better=False,
        )
    )
    n_visits = QUICK_VISITS if quick else VISITS
    db = visits_db(n_visits)
    j = in_child("bench.bench_attribution", "--child", "journeys", str(db))
    seconds = float(j["seconds"])  # type: ignore[arg-type]
    figures += [
        Figure(
            f"journeys + 8 models, {n_visits:,} visits",
            seconds,
            "s",
            target=None if quick else 60.0,
            higher_is_better=False,
        ),
        Figure("  of which building journeys", float(j["journey_seconds"]), "s"),  # type: ignore[arg-type]
        Figure("  per million visits", seconds / (n_visits / 1e6), "s"),
        Figure("  journeys", float(j["journeys"]), ""),  # type: ignore[arg-type]
        Figure("  peak RSS", float(j["rss_mb"]), "MiB"),  # type: ignore[arg-type]
    ]
    return figures


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        what, arg = sys.argv[2], Path(sys.argv[3])
        if what == "kassa":
            out = child_kassa(arg, int(sys.argv[4]))
        elif what == "ca":
            out = child_ca(arg)
        else:
            out = child_journeys(arg)
        print(json.dumps(out))
    else:
        for fig in run(quick="--quick" in sys.argv):
            print(f"  {fig}", flush=True)
