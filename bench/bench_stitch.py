"""Stitching at scale: 10 million visits, 500 000 leads, 50 000 deals, in bounded memory.

The warehouse is filled with DuckDB SQL after kassa created its schema (this measures stitching, not
import) and cached in ``bench/out/``. A child process opens it read-only with DuckDB limited to
``MEMORY_LIMIT`` and two threads, then runs the whole money trail (:class:`kassa.link.money_trail.MoneyTrail`,
materialized: customers, visit → lead, lead → deal, deal → payment, paid status), the sale journeys
aggregated into paths, and the October money view with its match quality. Figures: seconds per step,
seconds per million visits, peak resident memory of the child (Python, Arrow and DuckDB together).

Data: 4 visits per cookie over September–October 2026 from 8 sources (Yandex visits carry a
``yclid``); a lead for one cookie in five, a third with the click id of one of its visits, one in ten
with no cookie (a call) and one in ten sharing a phone with another lead; a deal for one lead in ten,
80 % won; payments for won deals by deal id (60 %), by invoice number in the purpose (20 %, some in two
parts), by amount only (5 %); 1 % refunds and 2 000 unrelated payments.

``python -m bench stitch`` (or ``python -m bench.bench_stitch``) runs it; ``--quick`` uses 200 000
visits to check the machinery.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import OUT, Figure, in_child, peak_rss_mb

VISITS, QUICK_VISITS = 10_000_000, 200_000
MEMORY_LIMIT = "1GB"
RSS_TARGET_MB = 2500.0  # DuckDB's limit plus Python, Arrow and the engine's own overhead


def warehouse(visits: int) -> Path:
    """The benchmark warehouse for ``visits`` visits (leads = visits / 20, deals = leads / 10)."""
    out = OUT / f"stitch_{visits}.duckdb"
    if out.exists():
        return out
    import duckdb

    from kassa.store import Warehouse

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    Warehouse.open(tmp).close()
    con = duckdb.connect(str(tmp))
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
    clients = visits // 4
    leads = visits // 20
    con.execute(
        f"""
        INSERT INTO visits (visit_id, client_id, ts, utm_source, utm_medium, utm_campaign, referrer, click_id)
        SELECT 'v' || i, 'c' || (i % {clients}),
               TIMESTAMP '2026-09-01' + to_seconds((hash(i) % 5184000)::BIGINT),
               ['yandex','vk','google','','','newsletter','telegram',''][1 + (hash(i * 7 + 1) % 8)::INT],
               ['cpc','cpc','cpc','organic','','email','social',''][1 + (hash(i * 7 + 1) % 8)::INT],
               ['brand','retarget','search','','','oct','channel',''][1 + (hash(i * 7 + 1) % 8)::INT],
               CASE WHEN hash(i * 7 + 1) % 8 = 7 THEN 'https://partner.example/' ELSE '' END,
               CASE WHEN hash(i * 7 + 1) % 8 = 0 THEN 'yclid:' || i END
        FROM range({visits}) t(i)
        """
    )
    # Lead k belongs to cookie 5k; its click id is that of the cookie's second visit (5k + clients).
    con.execute(
        f"""
        INSERT INTO leads (lead_id, created_at, client_id, utm_source, utm_medium, utm_campaign, status, phone_hash, click_id)
        SELECT 'L' || k, TIMESTAMP '2026-10-01' + to_seconds((hash(k) % 2592000)::BIGINT),
               CASE WHEN k % 10 = 3 THEN NULL ELSE 'c' || (5 * k) END,
               '', '', '', CASE WHEN k % 3 = 0 THEN 'qualified' ELSE 'new' END,
               CASE WHEN k % 10 IN (3, 4) THEN 'phone' || (k / 10) END,
               CASE WHEN k % 3 = 1 THEN 'yclid:' || (5 * k + {clients}) END
        FROM range({leads}) t(k)
        """
    )
    con.execute(
        """
        INSERT INTO deals (deal_id, lead_id, created_at, status, closed_at, amount, currency, invoice)
        SELECT 'D' || k, 'L' || k, created_at + INTERVAL 1 DAY,
               CASE WHEN k % 10 < 8 THEN 'won' WHEN k % 10 = 8 THEN 'open' ELSE 'lost' END,
               CASE WHEN k % 10 <> 8 THEN created_at + INTERVAL 3 DAY END,
               10000 + (hash(k) % 90) * 1000 + (k % 100) * 0.01, 'RUB',
               CASE WHEN k % 2 = 0 THEN 'INV-' || k END
        FROM (SELECT CAST(substr(lead_id, 2) AS BIGINT) AS k, created_at FROM leads WHERE CAST(substr(lead_id, 2) AS BIGINT) % 10 = 0)
        """
    )
    con.execute(
        """
        INSERT INTO payments (payment_id, paid_at, amount, deal_id, purpose, currency)
        SELECT 'P' || k || '-' || part, closed_at + INTERVAL 2 DAY + to_seconds(part * 86400),
               CASE WHEN split THEN amount / 2 ELSE amount END,
               CASE WHEN way < 60 THEN deal_id END,
               CASE WHEN way BETWEEN 60 AND 79 AND invoice IS NOT NULL
                    THEN 'Оплата по счету № ' || invoice || ' от ' || strftime(closed_at, '%d.%m.%Y')
                    ELSE 'Оплата' END,
               'RUB'
        FROM (
            SELECT d.*, CAST(substr(deal_id, 2) AS BIGINT) AS k, hash(deal_id) % 100 AS way,
                   hash(deal_id) % 100 BETWEEN 60 AND 64 AS split
            FROM deals d WHERE status = 'won'
        ) w, range(2) r(part)
        WHERE way < 85 AND (part = 0 OR split)
        """
    )
    con.execute(
        """
        INSERT INTO payments (payment_id, paid_at, amount, deal_id, purpose, currency)
        SELECT 'R' || deal_id, closed_at + INTERVAL 20 DAY, -amount, deal_id, 'Возврат', 'RUB'
        FROM deals WHERE status = 'won' AND hash(deal_id) % 100 = 99
        UNION ALL
        SELECT 'X' || i, TIMESTAMP '2026-10-01' + to_seconds((hash(i) % 2592000)::BIGINT), 100 + i, NULL,
               'Перевод средств', 'RUB'
        FROM range(2000) t(i)
        """
    )
    con.close()
    tmp.replace(out)
    return out


def child(db: str) -> None:
    """Run the stitching once and print its timings as JSON (last line)."""
    from kassa.link.journeys import journey_paths, journey_touches
    from kassa.link.money import money_view
    from kassa.link.money_trail import MoneyTrail
    from kassa.link.quality import match_quality
    from kassa.period import Period
    from kassa.store import Warehouse

    OUT.mkdir(parents=True, exist_ok=True)
    wh = Warehouse.open(db, read_only=True)
    con = wh.ibis.con
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
    con.execute("SET threads=2")
    con.execute(f"SET temp_directory='{OUT / 'stitch_spill'}'")
    con.execute("SET preserve_insertion_order=false")
    times: dict[str, float] = {}
    t = time.perf_counter()
    with MoneyTrail(wh, materialize=True) as chain:
        times["chain"] = time.perf_counter() - t
        t = time.perf_counter()
        paths = journey_paths(journey_touches(chain, "sale")).to_pyarrow()
        times["journeys"] = time.perf_counter() - t
        t = time.perf_counter()
        october = Period.parse("2026-10")
        view = money_view(chain, wh, october)
        quality = match_quality(chain, october)
        times["money_view"] = time.perf_counter() - t
        counts = {
            "visits": wh.row_count("visits"),
            "leads": wh.row_count("leads"),
            "deals": wh.row_count("deals"),
            "payments": wh.row_count("payments"),
            "paths": paths.num_rows,
            "matched_share": quality.matched_share or 0.0,
            "known_source_share": quality.known_source_share or 0.0,
            "won": view.total["won"],
        }
    wh.close()
    print(json.dumps({**times, **counts, "peak_rss_mb": peak_rss_mb()}))


def run(quick: bool = False, visits: int | None = None) -> list[Figure]:
    visits = visits or (QUICK_VISITS if quick else VISITS)
    db = warehouse(visits)
    r = in_child("bench.bench_stitch", "--child", str(db))
    total = r["chain"] + r["journeys"] + r["money_view"]
    per_million = total / (r["visits"] / 1e6)
    return [
        Figure("visits / leads / deals", r["visits"], f"/ {r['leads']:,.0f} / {r['deals']:,.0f}"),
        Figure("chain (all links, materialized)", r["chain"], "s"),
        Figure("sale journeys -> paths", r["journeys"], "s"),
        Figure("money view + match quality", r["money_view"], "s"),
        Figure("seconds per million visits", per_million, "s"),
        Figure(
            f"peak RSS (DuckDB limit {MEMORY_LIMIT})",
            r["peak_rss_mb"],
            "MiB",
            target=RSS_TARGET_MB,
            higher_is_better=False,
        ),
        Figure("revenue matched to a payment", 100 * r["matched_share"], "%"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_stitch", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 000 visits: checks the benchmark runs")
    parser.add_argument("--visits", type=int, help=f"number of visits (default {VISITS:,})")
    parser.add_argument("--child", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    failed = False
    for f in run(quick=args.quick, visits=args.visits):
        print(f"  {f}", flush=True)
        failed |= f.meets is False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
