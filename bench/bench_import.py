"""Import throughput: a Yandex Metrica Logs API visits file of 5 million rows, kassa vs DuckDB.

Baseline: DuckDB's own ``read_csv`` of the same file into a table of a DuckDB file (what a hand-written
loader would do, without validation, stitching keys or idempotency). Target: kassa loads at least half
as many rows per second, with bounded memory. Both run in fresh child processes so ``ru_maxrss`` is
each one's own peak resident memory.

The input is generated once (deterministically) and cached in ``bench/out/``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.common import OUT, Figure, cpu_seconds, in_child, peak_rss_mb

ROWS = 5_000_000
QUICK_ROWS = 50_000
TARGET_RATIO = 0.5
HEADER = (
    "ym:s:visitID",
    "ym:s:clientID",
    "ym:s:dateTime",
    "ym:s:UTMSource",
    "ym:s:UTMMedium",
    "ym:s:UTMCampaign",
    "ym:s:UTMContent",
    "ym:s:UTMTerm",
    "ym:s:referer",
    "ym:s:startURL",
    "ym:s:lastTrafficSource",
    "ym:s:lastDirectClickOrder",
)


def generate(path: Path, rows: int) -> None:
    """A realistic Logs API visits file: October 2026, ~40 % of visits from ads, UInt64 ids, yclids in URLs."""
    import polars as pl

    i = pl.int_range(0, rows, dtype=pl.Int64, eager=False)
    kind = i % 10  # 0-3 Direct, 4-5 Google, 6 VK, 7 organic, 8 referral, 9 direct
    seconds = (i * (31 * 86_400) // rows).cast(pl.Int64)
    ts = pl.lit("2026-10-01 00:00:00").str.to_datetime() + pl.duration(seconds=seconds)
    campaign = (
        pl.when(kind < 4)
        .then((70001 + i % 12).cast(pl.String))
        .when(kind < 6)
        .then(pl.lit("Search - ") + (i % 5).cast(pl.String))
        .when(kind == 6)
        .then(pl.lit("vk_autumn"))
        .otherwise(pl.lit(""))
    )
    source = (
        pl.when(kind < 4)
        .then(pl.lit("yandex"))
        .when(kind < 6)
        .then(pl.lit("google"))
        .when(kind == 6)
        .then(pl.lit("vk"))
        .otherwise(pl.lit(""))
    )
    medium = pl.when(kind < 7).then(pl.lit("cpc")).otherwise(pl.lit(""))
    page = pl.lit("https://shop.example/catalog/item-") + (i % 5000).cast(pl.String)
    url = (
        pl.when(kind < 4)
        .then(
            page
            + pl.lit("?utm_source=yandex&utm_medium=cpc&utm_campaign=")
            + campaign
            + pl.lit("&yclid=")
            + (3_461_000_000_000_000_000 + i).cast(pl.String)
        )
        .when(kind < 6)
        .then(page + pl.lit("?gclid=Cj0KCQ") + i.cast(pl.String))
        .otherwise(page)
    )
    frame = pl.select(
        (7_265_000_000_000_000_000 + i).cast(pl.String).alias(HEADER[0]),
        (1_793_000_000_000_000_000 + (i * 7919) % 2_000_000).cast(pl.String).alias(HEADER[1]),
        ts.dt.strftime("%Y-%m-%d %H:%M:%S").alias(HEADER[2]),
        source.alias(HEADER[3]),
        medium.alias(HEADER[4]),
        campaign.alias(HEADER[5]),
        pl.when(kind < 4).then((16_000_000 + i % 300).cast(pl.String)).otherwise(pl.lit("")).alias(HEADER[6]),
        pl.when(kind < 4).then(pl.lit("стеллаж металлический")).otherwise(pl.lit("")).alias(HEADER[7]),
        pl.when(kind == 7)
        .then(pl.lit("https://yandex.ru/search/"))
        .when(kind == 8)
        .then(pl.lit("https://t.me/shelves"))
        .otherwise(pl.lit(""))
        .alias(HEADER[8]),
        url.alias(HEADER[9]),
        pl.when(kind < 7)
        .then(pl.lit("ad"))
        .when(kind == 7)
        .then(pl.lit("organic"))
        .when(kind == 8)
        .then(pl.lit("referral"))
        .otherwise(pl.lit("direct"))
        .alias(HEADER[10]),
        pl.when(kind < 4).then((70001 + i % 12).cast(pl.String)).otherwise(pl.lit("0")).alias(HEADER[11]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.write_csv(tmp, separator="\t", quote_style="never")
    tmp.replace(path)


def input_file(rows: int) -> Path:
    """The cached input; generated in a child process so this one stays small (children start lean)."""
    path = OUT / f"metrica_visits_{rows}.tsv"
    if not path.exists():
        in_child("bench.bench_import", "--generate", str(rows), str(path))
    return path


def child_kassa(path: Path, db: Path) -> dict[str, float]:
    from kassa.store import Warehouse

    db.unlink(missing_ok=True)
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    with Warehouse.open(db) as wh:
        report = wh.import_files([path])
        loaded = sum(f.rows_loaded for f in report.files)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": cpu_seconds() - cpu0,
        "rows": loaded,
        "rss_mb": peak_rss_mb(),
    }


def child_duckdb(path: Path, db: Path) -> dict[str, float]:
    import duckdb

    db.unlink(missing_ok=True)
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE visits AS SELECT * FROM read_csv(?, delim = '\t', header = true, quote = '', escape = '')",
        [str(path)],
    )
    row = con.execute("SELECT count(*) FROM visits").fetchone()
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": cpu_seconds() - cpu0,
        "rows": float(row[0]) if row else 0.0,
        "rss_mb": peak_rss_mb(),
    }


def run(quick: bool = False) -> list[Figure]:
    rows = QUICK_ROWS if quick else ROWS
    path = input_file(rows)
    size_mb = path.stat().st_size / 2**20
    duck = in_child("bench.bench_import", "--child", "duckdb", str(path))
    kassa = in_child("bench.bench_import", "--child", "kassa", str(path))
    assert kassa["rows"] == rows == duck["rows"], (kassa, duck)
    kassa_rate, duck_rate = rows / kassa["seconds"], rows / duck["seconds"]
    return [
        Figure("input file", size_mb, f"MiB, {rows:,} visits"),
        Figure("duckdb read_csv: rows/s", duck_rate, "rows/s"),
        Figure("duckdb read_csv: peak RSS", duck["rss_mb"], "MiB"),
        Figure("kassa import: rows/s", kassa_rate, "rows/s"),
        Figure("kassa import: peak RSS", kassa["rss_mb"], "MiB"),
        Figure(
            "kassa / duckdb speed (wall clock)",
            kassa_rate / duck_rate,
            "×",
            target=None if quick else TARGET_RATIO,
        ),
        # CPU seconds do not depend on what else the machine runs: the steadier comparison on a shared box.
        Figure("kassa / duckdb speed (CPU time)", duck["cpu"] / kassa["cpu"], "×"),
        Figure("kassa peak RSS / input size", kassa["rss_mb"] / size_mb, "×"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate(Path(sys.argv[3]), int(sys.argv[2]))
        print(json.dumps({"rows": int(sys.argv[2])}))
    elif len(sys.argv) == 4 and sys.argv[1] == "--child":
        src = Path(sys.argv[3])
        step = {"kassa": child_kassa, "duckdb": child_duckdb}[sys.argv[2]]
        print(json.dumps(step(src, OUT / f"bench_{sys.argv[2]}.duckdb")))
    else:
        print(__doc__)
