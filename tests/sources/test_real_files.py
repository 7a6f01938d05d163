"""Files other people made (../shared/real/, listed with their sources in its README) import with
auto-detection and no flags, with totals computed here from the files' own rows, or are refused with
a message that says what to export instead.

The expected figures are never kassa's: each test parses the file itself (plain text for 1C, json
for Google Ads, the sheet's XML for Direct) and sums its rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from tests.sources.real_folder import REAL, needs_real_files

from kassa.errors import ImportFailed, MissingColumn, RowError
from kassa.settings import Settings
from kassa.store import Warehouse
from kassa.store.warehouse import FileReport

pytestmark = needs_real_files

MakeWarehouse = Callable[..., Warehouse]


def import_one(wh: Warehouse, path: Path, strict: bool = False) -> FileReport:
    """Import with auto-detection and no flags; the one file's report."""
    (report,) = wh.import_files([path], strict=strict).files
    return report


def warnings(report: FileReport) -> list[RowError]:
    assert all(e.row_kept for e in report.errors), [str(e) for e in report.errors if not e.row_kept]
    return report.errors


# --- 1CClientBankExchange ------------------------------------------------------------------------


def statement_text(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return raw.decode("cp1251").splitlines()


def statement(path: Path) -> tuple[set[str], list[dict[str, str]], list[dict[str, str]]]:
    """(own accounts, documents, balance blocks) of a statement, read line by line here."""
    own: set[str] = set()
    docs: list[dict[str, str]] = []
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in statement_text(path):
        key, _sep, value = line.strip().partition("=")
        if key in ("СекцияДокумент", "СекцияРасчСчет"):
            current = {}
            (docs if key == "СекцияДокумент" else blocks).append(current)
        elif key in ("КонецДокумента", "КонецРасчСчет"):
            current = None
        elif current is not None:
            current.setdefault(key, value.strip())
        if key == "РасчСчет" and value.strip():
            own.add(value.strip())
    return own, docs, blocks


def incoming_total(path: Path) -> tuple[int, Decimal]:
    """Documents paid to one of the statement's accounts by someone else: count and sum."""
    own, docs, _blocks = statement(path)
    income = [
        d
        for d in docs
        if (d.get("ПолучательСчет") or d.get("ПолучательРасчСчет")) in own
        and (d.get("ПлательщикСчет") or d.get("ПлательщикРасчСчет")) not in own
    ]
    return len(income), sum((Decimal(d["Сумма"]) for d in income), Decimal(0))


def payments(wh: Warehouse) -> tuple[int, Decimal]:
    t = wh.table("payments")
    amounts = t.select("amount").to_pyarrow().column("amount").to_pylist()
    return len(amounts), sum((Decimal(str(a)) for a in amounts), Decimal(0)).quantize(Decimal("0.01"))


def control(path: Path, key: str) -> str:
    """A control total of the statement's (only) balance block, as the reconciliation shows it."""
    _own, _docs, (block,) = statement(path)
    return f"{Decimal(block[key]):,.2f}".replace(",", " ")


BANK = REAL / "bank_1c"
COMPLETE_STATEMENTS = [
    # incoming documents = ВсегоПоступило: loaded with no warning
    BANK / "bx-shef+client-bank-alfa-by" / "vypiska-1c.txt",
    BANK / "kilylabs+client-bank-exchange-php" / "one_day.txt",
    BANK / "kilylabs+client-bank-exchange-php" / "one_day_utf8.txt",
]


@pytest.mark.parametrize("path", COMPLETE_STATEMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_complete_statement_loads_its_incoming_documents(make_warehouse: MakeWarehouse, path: Path) -> None:
    wh = make_warehouse()
    report = import_one(wh, path, strict=True)
    count, total = incoming_total(path)
    assert (report.format, report.rows_loaded, report.errors) == ("bank_1c", count, [])
    assert payments(wh) == (count, total)
    assert total == Decimal(statement(path)[2][0]["ВсегоПоступило"])  # the statement agrees


def test_an_excerpt_warns_with_both_figures_and_is_refused_under_strict(
    make_warehouse: MakeWarehouse,
) -> None:
    path = BANK / "open-condo-software+condo" / "1CClientBankExchange.txt"
    wh = make_warehouse()
    report = import_one(wh, path)
    count, total = incoming_total(path)
    assert payments(wh) == (count, total) == (2, Decimal("2219.96"))
    came, went = warnings(report)
    assert (came.line, came.column, went.line, went.column) == (16, "ВсегоПоступило", 17, "ВсегоСписано")
    assert came.reason == (
        f"account 40702810801500116391: the statement says ВсегоПоступило={control(path, 'ВсегоПоступило')} "
        "but its documents credited to the account total 2 219.96; documents are missing — the file is "
        "an excerpt, was filtered at export (by counterparty or kind of document), or is broken; export "
        "the full statement for the period again"
    )
    assert "ВсегоСписано=2 554 737.23" in went.reason and "total 14 700.00" in went.reason
    with pytest.raises(ImportFailed, match="--strict") as refused:
        import_one(make_warehouse(name="strict.duckdb"), path, strict=True)
    assert refused.value.errors == [came, went]


def test_a_statement_that_loads_nothing_says_why_and_what_is_missing(make_warehouse: MakeWarehouse) -> None:
    path = BANK / "dronm+clbnk" / "kl_to_1c.txt"
    wh = make_warehouse()
    report = import_one(wh, path)
    assert incoming_total(path) == (0, 0) and payments(wh) == (0, 0)
    came, went, why = warnings(report)
    assert f"ВсегоПоступило={control(path, 'ВсегоПоступило')} " in came.reason
    assert "credited to the account total 0.00; documents are missing" in came.reason
    assert f"ВсегоСписано={control(path, 'ВсегоСписано')} " in went.reason
    assert why.reason == (
        "read 3 document(s) and loaded no payment: 3 outgoing (paid from 40702810000000074935), "
        "0 between own accounts, 0 neither credited to nor debited from the statement's accounts; "
        "only money coming in from others is revenue"
    )
    with pytest.raises(ImportFailed, match="--strict"):
        import_one(make_warehouse(name="strict.duckdb"), path, strict=True)


def test_a_damaged_header_date_is_named_with_its_line(make_warehouse: MakeWarehouse) -> None:
    path = BANK / "andrey9129+testgit" / "kl_to_1c.txt"
    lines = statement_text(path)
    damaged = lines.index("ДатаКонца=23.08.201819202122") + 1
    own, docs, (block,) = statement(path)
    outgoing = [d for d in docs if d["ПлательщикСчет"] in own]
    # every document is paid from us, and they add up to the statement's ВсегоСписано: no mismatch
    assert sum(Decimal(d["Сумма"]) for d in outgoing) == Decimal(block["ВсегоСписано"])
    wh = make_warehouse()
    date, why = warnings(import_one(wh, path))
    assert (date.line, date.column, date.value) == (damaged, "ДатаКонца", "23.08.201819202122")
    assert "damaged date" in date.reason
    assert why.reason.startswith(
        f"read {len(docs)} document(s) and loaded no payment: {len(outgoing)} outgoing"
    )
    assert payments(wh) == (0, 0)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            BANK / "odoo-ru+client-bank-1c" / "kl_to_1c.txt",
            "read 1 document(s) and loaded no payment: 1 outgoing (paid from 00000000000000000001), "
            "0 between own accounts, 0 neither credited to nor debited from the statement's accounts; "
            "only money coming in from others is revenue",
        ),
        (
            BANK / "Xini1+client-bank-exchange" / "sample1.txt",
            "read 2 document(s) and loaded no payment: 0 outgoing (paid from 12345678901234567890, "
            "12345678901234567891), 2 between own accounts, 0 neither credited to nor debited from the "
            "statement's accounts; only money coming in from others is revenue",
        ),
    ],
    ids=["odoo-ru", "Xini1-sample1"],
)
def test_no_income_is_explained(make_warehouse: MakeWarehouse, path: Path, reason: str) -> None:
    wh = make_warehouse()
    report = import_one(wh, path)
    assert incoming_total(path) == (0, 0) and payments(wh) == (0, 0)
    assert warnings(report)[-1].reason == reason


def test_the_synthetic_sample_warns_where_its_totals_disagree(make_warehouse: MakeWarehouse) -> None:
    # sample1 lists two transfers of 10.10 between its two accounts, both credited to ...890, while
    # each balance block says 10.10 came in and 10.10 went out.
    path = BANK / "Xini1+client-bank-exchange" / "sample1.txt"
    report = import_one(make_warehouse(), path)
    figures = [(e.column, e.value) for e in warnings(report)[:-1]]
    assert figures == [("ВсегоПоступило", "10.10"), ("ВсегоСписано", "10.10")] * 2


PAYMENT_ORDERS = [BANK / "Xini1+client-bank-exchange" / f"sample{n}.txt" for n in (2, 3, 4, 5)]


@pytest.mark.parametrize("path", PAYMENT_ORDERS, ids=lambda p: p.name)
def test_payment_orders_to_the_bank_are_refused(make_warehouse: MakeWarehouse, path: Path) -> None:
    own, docs, blocks = statement(path)
    assert blocks == [] and len(own) == 1
    (account,) = own
    with pytest.raises(ImportFailed) as refused:
        import_one(make_warehouse(), path)
    assert str(refused.value) == (
        f"{path}: {len(docs)} payment order(s) for the bank, not a statement: every document is paid "
        f"from {account}, with no СекцияРасчСчет balance block and no ДатаПоступило or ДатаСписано; "
        "export a statement (выписка) from the bank instead"
    )


def test_the_minimal_1c_to_bank_example_is_refused(make_warehouse: MakeWarehouse) -> None:
    path = BANK / "odoo-ru+client-bank-1c" / "1c_to_kl-win-min-example.txt"
    with pytest.raises(ImportFailed) as refused:
        import_one(make_warehouse(), path)
    assert str(refused.value) == (
        f"{path}: no РасчСчет line, so this is a set of payment orders for the bank, not a statement; "
        "export a statement (выписка) from the bank instead"
    )


def test_every_1c_file_is_covered() -> None:
    covered = {
        *COMPLETE_STATEMENTS,
        *PAYMENT_ORDERS,
        BANK / "open-condo-software+condo" / "1CClientBankExchange.txt",
        BANK / "dronm+clbnk" / "kl_to_1c.txt",
        BANK / "andrey9129+testgit" / "kl_to_1c.txt",
        BANK / "odoo-ru+client-bank-1c" / "kl_to_1c.txt",
        BANK / "odoo-ru+client-bank-1c" / "1c_to_kl-win-min-example.txt",
        BANK / "Xini1+client-bank-exchange" / "sample1.txt",
    }
    assert set(BANK.glob("*/*.txt")) == covered


# --- Google Ads API, account level ----------------------------------------------------------------


def test_an_account_level_google_ads_report_loads_as_the_account(make_warehouse: MakeWarehouse) -> None:
    path = REAL / "google_ads" / "PatrykDachwitz+E-commerce-raport" / "googleAdwordsResponseApi.json"
    results = [r for batch in json.loads(path.read_text(encoding="utf-8")) for r in batch["results"]]
    metric = lambda r, k: int(r["metrics"].get(k, "0"))  # noqa: E731 - int64 as strings; zeros omitted
    wh = make_warehouse()
    report = import_one(wh, path)
    t = wh.table("spend")
    got = (
        t.aggregate(
            cost=t.cost.sum(), clicks=t.clicks.sum(), impressions=t.impressions.sum(), days=t.date.nunique()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    assert got["cost"] == pytest.approx(sum(metric(r, "costMicros") for r in results) / 1_000_000)
    assert got["clicks"] == sum(metric(r, "clicks") for r in results)
    assert got["impressions"] == sum(metric(r, "impressions") for r in results)
    assert got["days"] == len({r["segments"]["date"] for r in results}) == report.rows_loaded == 7
    customer = results[0]["customer"]["resourceName"].removeprefix("customers/")
    assert set(t.select("campaign").to_pyarrow().column("campaign").to_pylist()) == {f"account {customer}"}
    (warning,) = warnings(report)
    assert warning.reason == (
        f"the report has no campaign fields: 7 row(s) loaded at account level as campaign account {customer}; "
        "add campaign.id, campaign.name to the query (FROM campaign) for spend per campaign"
    )


# --- Yandex Direct web interface XLSX --------------------------------------------------------------

DIRECT = REAL / "yandex_direct" / "SKV580+yandex-direct-analytic-datas-project"


def sheet_rows(path: Path) -> int:
    """Rows the first sheet's XML holds (not its <dimension>, which Direct writes as A1)."""
    with zipfile.ZipFile(path) as z:
        return len(re.findall(rb"<row[ >]", z.read("xl/worksheets/sheet1.xml")))


def sheet_table(path: Path) -> list[list[str]]:
    """The first sheet's cells, row by row, read from its XML here (shared strings resolved)."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(path) as z:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{ns}t"))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).iter(f"{ns}si")
        ]
        sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    out = []
    for row in sheet.iter(f"{ns}row"):
        cells: dict[int, str] = {}
        for c in row.iter(f"{ns}c"):
            col = 0
            for ch in re.match(r"[A-Z]+", c.get("r", "A"))[0]:  # type: ignore[index]
                col = col * 26 + ord(ch) - 64
            v = c.find(f"{ns}v")
            text = "" if v is None or v.text is None else v.text
            cells[col - 1] = strings[int(text)] if c.get("t") == "s" and text else text
        out.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
    return out


def direct_totals(path: Path) -> tuple[int, int, Decimal, int]:
    """(data rows, rows repeating an earlier one cell for cell, Σ Расход, Σ Клики) of a Direct report,
    from its own rows (not its Итого row); a repeated row counts once, as kassa's rule is."""
    table = sheet_table(path)
    at = next(i for i, r in enumerate(table) if any(c.startswith("Расход") for c in r))
    header = table[at]
    cost = next(i for i, c in enumerate(header) if c.startswith("Расход"))
    clicks = header.index("Клики") if "Клики" in header else None
    rows = [r for r in table[at + 1 :] if r and r[0] != "Итого" and any(r)]
    once = list({tuple(r): r for r in reversed(rows)}.values())
    total = sum((Decimal(r[cost] or "0") for r in once), Decimal(0))
    counted = sum(int(float(r[clicks] or 0)) for r in once) if clicks is not None else 0
    return len(rows), len(rows) - len(once), total, counted


@pytest.mark.parametrize(
    ("name", "readme_rows"),
    [
        ("pfrases_opora_march26.xlsx", 799),
        # the big one takes openpyxl seconds: out of the everyday loop
        pytest.param("mainstat_opora_march26.xlsx", 13588, marks=pytest.mark.slow),
        ("polvozrast_opora_march26.xlsx", 150),
    ],
)
def test_a_whole_period_direct_report_is_spread_over_its_period(
    make_warehouse: MakeWarehouse, name: str, readme_rows: int
) -> None:
    path = DIRECT / name
    rows, repeated, cost, clicks = direct_totals(path)
    assert rows == readme_rows  # the count ../shared/real/README.md gives
    wh = make_warehouse()
    report = import_one(wh, path)
    refused = [e for e in report.errors if not e.row_kept]
    assert len(refused) == repeated and all("the same row as line" in e.reason for e in refused)
    got = wh.ibis.con.execute(
        "SELECT sum(cost), sum(clicks), min(date), max(date), min(spread_from), max(spread_to), "
        "count(*) FILTER (WHERE spread_from IS NULL) FROM spend"
    ).fetchone()
    assert got[0] == pytest.approx(float(cost), abs=1e-6) and got[1] == clicks
    march = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert got[2:4] == march and got[4:6] == march and got[6] == 0
    told = [e for e in report.errors if e.row_kept and e.column == "date"]
    assert len(told) == 1 and "A report segmented by day is exact everywhere" in told[0].reason


@pytest.mark.slow  # 26 467 rows
def test_a_direct_report_without_days_or_period_is_refused_with_how_to_export_it(
    make_warehouse: MakeWarehouse,
) -> None:
    path = DIRECT / "BD_RSY_MK_BFL_OPORA_01.03-04.04 2026.xlsx"
    # no title lines, no Итого, and no Показы column: still recognised as Direct
    assert sheet_rows(path) - 1 == 26467
    with pytest.raises(MissingColumn) as refused:
        import_one(make_warehouse(), path)
    assert str(refused.value) == (
        f"{path}: a Yandex Direct report of 26467 rows without a day column (Дата) and without the "
        "«Период: …» line above its header, so the days it covers are unknown. Export it again from "
        "Мастер отчётов with the time grouping «по дням» (the Дата column), keeping № Кампании and "
        "Расход, or keep the report's title lines"
    )


# --- Google Ads interface reports (whole period) -----------------------------------------------------

GOOGLE = REAL / "google_ads"


def campaign_report(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(title lines, campaign rows) of a Google Ads "Campaign report.csv", read here with csv."""
    raw = path.read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
    lines = text.splitlines()
    delimiter = "\t" if "\t" in lines[2] else ","
    rows = list(csv.DictReader(lines[2:], delimiter=delimiter))
    return lines[:2], [r for r in rows if not (r.get("Campaign status") or "").startswith("Total")]


def amount(text: str) -> Decimal:
    text = text.strip()
    return Decimal(0) if text in ("", "--") else Decimal(text.replace(",", ""))


@pytest.mark.parametrize(
    ("folder", "first", "last", "currency"),
    [
        ("DanielTheC+internal-lnking-tool", dt.date(2026, 1, 27), dt.date(2026, 2, 23), "GBP"),
        ("VishalMotling+campaign-performance-analyzer", dt.date(2025, 7, 8), dt.date(2025, 7, 31), "INR"),
        ("1123alberto+Clinic_Marketing_Agency", dt.date(2026, 3, 27), dt.date(2026, 4, 23), "EUR"),
    ],
)
def test_a_whole_period_google_ads_report_is_spread_over_its_range(
    make_warehouse: MakeWarehouse, folder: str, first: dt.date, last: dt.date, currency: str
) -> None:
    path = GOOGLE / folder / "Campaign report.csv"
    _titles, rows = campaign_report(path)
    cost = sum((amount(r["Cost"]) for r in rows), Decimal(0))
    clicks = sum(int(amount(r.get("Clicks", "0"))) for r in rows)
    wh = make_warehouse(settings=Settings(currency=currency))
    import_one(wh, path)
    got = wh.ibis.con.execute(
        "SELECT sum(cost), sum(clicks), min(date), max(date), count(DISTINCT campaign), "
        "count(*), any_value(currency) FROM spend"
    ).fetchone()
    days = (last - first).days + 1
    assert got[0] == pytest.approx(float(cost), abs=1e-6) and got[1] == clicks
    assert got[2:4] == (first, last) and got[4] == len(rows) and got[5] == len(rows) * days
    assert got[6] == currency


def test_an_all_time_google_ads_report_is_refused_with_what_to_download(
    make_warehouse: MakeWarehouse,
) -> None:
    path = GOOGLE / "intragoinc+cp-mktg-google-ads-i" / "Campaign report.csv"
    assert campaign_report(path)[0][1] == "All time"
    with pytest.raises(
        ImportFailed, match="no date range kassa can read [(]All time[)]; download it for a date range"
    ):
        import_one(make_warehouse(), path)


def test_every_direct_xlsx_is_covered() -> None:
    assert {p.name for p in DIRECT.glob("*.xlsx")} == {
        "pfrases_opora_march26.xlsx",
        "mainstat_opora_march26.xlsx",
        "polvozrast_opora_march26.xlsx",
        "BD_RSY_MK_BFL_OPORA_01.03-04.04 2026.xlsx",
    }


def test_every_google_ads_file_is_covered() -> None:
    assert set(GOOGLE.glob("*/*")) == {
        GOOGLE / "PatrykDachwitz+E-commerce-raport" / "googleAdwordsResponseApi.json",  # account level
        *(  # whole-period interface reports
            GOOGLE / folder / "Campaign report.csv"
            for folder in (
                "DanielTheC+internal-lnking-tool",
                "VishalMotling+campaign-performance-analyzer",
                "1123alberto+Clinic_Marketing_Agency",
                "intragoinc+cp-mktg-google-ads-i",  # All time: refused
            )
        ),
    }
