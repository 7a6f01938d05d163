"""`kassa fx sync` against a real HTTP server on 127.0.0.1 replaying the Bank of Russia's and the ECB's answers.

The answers are shaped as the services document them (cbr.ru/development/SXML, data.ecb.europa.eu API):
windows-1251 XML with a decimal comma and a Nominal of 100 for the yen and the dram; SDMX CSV quoting
units per euro. Every expected rate is worked out by hand in the comment above it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.connectors.replay import replay_server
from tests.kassa_cli import run_kassa

from kassa.errors import KassaError, ServiceError
from kassa.metrics.compute import compute
from kassa.settings import Settings
from kassa.store.fx import needed, sync

OCT = dt.date(2026, 10, 1)
NOV_2 = dt.date(2026, 11, 2)

SPEND = """
date,channel,campaign,impressions,clicks,cost,currency
2026-10-05,meta_ads,m,100,10,22.88,USD
2026-10-06,meta_ads,j,100,10,1000,JPY
2026-10-06,yandex_direct,y,100,10,451000,RUB
"""

DAILY = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="31.10.2026" name="Foreign Currency Market">
<Valute ID="R01060"><NumCode>051</NumCode><CharCode>AMD</CharCode><Nominal>100</Nominal><Name>Армянских драмов</Name><Value>21,5637</Value><VunitRate>0,215637</VunitRate></Valute>
<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>Доллар США</Name><Value>82,5000</Value><VunitRate>82,5</VunitRate></Valute>
<Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal><Name>Японских иен</Name><Value>56,0000</Value><VunitRate>0,56</VunitRate></Valute>
</ValCurs>
""".encode("cp1251")


def dynamic(code: str, *records: tuple[str, str, str]) -> bytes:
    rows = "".join(
        f'<Record Date="{d}" Id="{code}"><Nominal>{n}</Nominal><Value>{v}</Value></Record>'
        for d, n, v in records
    )
    return (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        f'<ValCurs ID="{code}" DateRange1="01.10.2026" DateRange2="31.10.2026" name="Foreign Currency Market Dynamic">'
        f"{rows}</ValCurs>"
    ).encode("cp1251")


def q(code: str, first: str = "01/10/2026", last: str = "31/10/2026") -> dict[str, str]:
    return {"date_req1": first, "date_req2": last, "VAL_NM_RQ": code}


XML = "application/xml; charset=windows-1251"
# USD: 81.50, 82.00, 82.50 -> mean 82.00 RUB per dollar.
USD_OCT = dynamic(
    "R01235", ("01.10.2026", "1", "81,5000"), ("02.10.2026", "1", "82,0000"), ("03.10.2026", "1", "82,5000")
)
# JPY: 55.00 and 56.00 RUB per 100 yen -> 0.55 and 0.56 per yen -> mean 0.555.
JPY_OCT = dynamic("R01820", ("01.10.2026", "100", "55,0000"), ("02.10.2026", "100", "56,0000"))


def cbr_answers(replay, usd=USD_OCT):
    replay.add("/XML_daily.asp", {"date_req": "31/10/2026"}, (200, DAILY, XML))
    replay.add("/XML_dynamic.asp", q("R01235"), (200, usd, XML))
    replay.add("/XML_dynamic.asp", q("R01820"), (200, JPY_OCT, XML))


def test_rouble_business_gets_the_bank_of_russias_monthly_mean_and_totals_become_complete(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    assert needed(wh) == [("JPY", OCT), ("USD", OCT)]
    with replay_server() as replay:
        cbr_answers(replay)
        report = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
    got = {(r.currency, r.month): (r.rate, r.days) for r in report.stored}
    assert got == {("USD", OCT): (pytest.approx(82.0), 3), ("JPY", OCT): (pytest.approx(0.555), 2)}
    table = compute(wh, ["cost"], [], "2026-10")
    # 451 000 ₽ + 22.88 USD × 82 (1 876.16 ₽) + 1 000 JPY × 0.555 (555 ₽) = 453 431.16 ₽, nothing left out.
    assert table.total["cost"] == pytest.approx(453431.16)
    assert table.warnings == [] and table.incomplete() == {}


def test_sync_is_one_batch_and_a_second_sync_changes_nothing(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    with replay_server() as replay:
        cbr_answers(replay)
        first = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
        before = wh.fingerprint()
        asked = len(replay.requests)
        second = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
    assert first.batch is not None and first.batch.rows_loaded == 2
    assert [b["format"] for b in wh.batches()] == ["canonical", "cbr"]
    assert second.stored == [] and len(second.kept) == 2 and len(replay.requests) == asked
    assert wh.fingerprint() == before


def test_a_month_fetched_while_it_was_going_is_fetched_again(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    early = dynamic("R01235", ("01.10.2026", "1", "80,0000"))
    with replay_server() as replay:
        replay.add("/XML_daily.asp", {"date_req": "15/10/2026"}, (200, DAILY, XML))
        replay.add("/XML_dynamic.asp", q("R01235", last="15/10/2026"), (200, early, XML))
        replay.add("/XML_dynamic.asp", q("R01820", last="15/10/2026"), (200, JPY_OCT, XML))
        mid = sync(wh, base_url=replay.base_url, backoff=0, today=dt.date(2026, 10, 15))
        # The batch says when it was loaded; this one, on the 15th, while October was going.
        wh._db.execute(
            "UPDATE import_batches SET loaded_at = TIMESTAMP '2026-10-15 12:00' WHERE format = 'cbr'"
        )
        cbr_answers(replay)
        later = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
        again = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
    assert {r.currency: r.rate for r in mid.stored}["USD"] == pytest.approx(80.0)
    # Both of October's rates are asked again over the whole month and replace the partial ones.
    assert {r.currency: r.rate for r in later.stored} == {
        "USD": pytest.approx(82.0),
        "JPY": pytest.approx(0.555),
    }
    assert later.batch is not None and later.batch.rows_replaced == 2
    assert again.stored == [] and len(again.kept) == 2
    assert compute(wh, ["cost"], [], "2026-10").total["cost"] == pytest.approx(453431.16)


def test_rate_loaded_from_a_file_is_never_replaced(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND, "fx_rates.csv": "month,currency,rate\n2026-10,USD,90\n"})
    with replay_server() as replay:
        cbr_answers(replay)
        report = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
        assert replay.count("/XML_dynamic.asp") == 1  # the yen only
    assert [(r.currency, r.rate) for r in report.stored] == [("JPY", pytest.approx(0.555))]
    assert report.kept == [("USD", OCT)]
    assert compute(wh, ["cost"], [], "2026-10").total["cost"] == pytest.approx(451000 + 22.88 * 90 + 555)


def test_nominal_100_dram(make_warehouse):
    wh = make_warehouse(
        {
            "spend.csv": "date,channel,campaign,impressions,clicks,cost,currency\n2026-10-05,meta_ads,m,1,1,10000,AMD\n"
        }
    )
    amd = dynamic("R01060", ("01.10.2026", "100", "21,5637"), ("02.10.2026", "100", "21,4363"))
    with replay_server() as replay:
        replay.add("/XML_daily.asp", {"date_req": "31/10/2026"}, (200, DAILY, XML))
        replay.add("/XML_dynamic.asp", q("R01060"), (200, amd, XML))
        sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
    # (0.215637 + 0.214363) / 2 = 0.215 ₽ per dram; 10 000 drams = 2 150 ₽.
    assert compute(wh, ["cost"], [], "2026-10").total["cost"] == pytest.approx(2150.0)


def test_a_5xx_is_retried_then_succeeds(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    with replay_server() as replay:
        cbr_answers(replay)
        replay.add(
            "/XML_dynamic.asp", q("R01235"), (503, b"Service Unavailable", "text/plain"), (200, USD_OCT, XML)
        )
        report = sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
        usd_asked = sum(1 for r in replay.requests if "R01235" in r)
    assert usd_asked == 2
    assert {r.currency: r.rate for r in report.stored}["USD"] == pytest.approx(82.0)


def test_a_service_that_keeps_failing_names_itself_and_the_request_and_stores_nothing(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    before = wh.fingerprint()
    with replay_server() as replay:
        cbr_answers(replay)
        replay.add("/XML_dynamic.asp", q("R01820"), (502, b"<html>Bad Gateway</html>", "text/html"))
        with pytest.raises(ServiceError) as exc:
            sync(wh, base_url=replay.base_url, attempts=3, backoff=0, today=NOV_2)
    msg = str(exc.value)
    assert msg.startswith("Bank of Russia: GET http://127.0.0.1:")
    assert "XML_dynamic.asp?date_req1=01/10/2026&date_req2=31/10/2026&VAL_NM_RQ=R01820" in msg
    assert "HTTP 502" in msg and "tried 3 times" in msg
    assert wh.fingerprint() == before  # the dollar's good answer was not stored either


def test_a_timeout_is_retried_and_then_reported(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND})
    with replay_server() as replay:
        replay.add("/XML_daily.asp", {"date_req": "31/10/2026"}, (1.0, DAILY, XML))
        with pytest.raises(ServiceError, match=r"no answer within 0\.2 s \(tried 2 times\)"):
            sync(wh, base_url=replay.base_url, attempts=2, backoff=0, timeout=0.2, today=NOV_2)
        assert replay.count("/XML_daily.asp") == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # What the Bank answers to bad parameters: HTTP 200 and plain text.
        (b"Error in parameters", r"XML_dynamic\.asp.*: the answer is not XML .*'Error in parameters'"),
        (
            dynamic("R01235", ("01.10.2026", "1", "82.5000")),
            r"<Record Date='01\.10\.2026'>: field 'Value' is not a number with a decimal comma \('82\.5000'\)",
        ),
        (
            dynamic("R01235", ("01.10.2026", "0", "82,5000")),
            r"field 'Nominal' is not a positive whole number \('0'\)",
        ),
        (
            dynamic("R01235", ("2026-10-01", "1", "82,5000")),
            r"<Record>: attribute 'Date' is not dd\.mm\.yyyy \('2026-10-01'\)",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ValCurs>&a;</ValCurs>',
            "declares a document type; refused",
        ),
        (b"<html><body>maintenance</body></html>", r"expected a <ValCurs> answer, got <html>"),
    ],
)
def test_a_malformed_answer_is_a_clear_error(make_warehouse, body, expected):
    wh = make_warehouse({"spend.csv": SPEND})
    before = wh.fingerprint()
    with replay_server() as replay:
        cbr_answers(replay, usd=body)
        with pytest.raises(ServiceError, match=expected) as exc:
            sync(wh, base_url=replay.base_url, backoff=0, today=NOV_2)
    assert str(exc.value).startswith("Bank of Russia: GET ")
    assert wh.fingerprint() == before


ECB_HEAD = "KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,OBS_CONF\n"
ECB_PATH = "/service/data/EXR/D.JPY+USD.EUR.SP00.A"
ECB_QUERY = {"startPeriod": "2026-10-01", "endPeriod": "2026-10-31", "format": "csvdata"}


def ecb_csv(*rows: tuple[str, str, str]) -> bytes:
    return (
        ECB_HEAD + "".join(f"EXR.D.{c}.EUR.SP00.A,D,{c},EUR,SP00,A,{d},{v},A,F\n" for c, d, v in rows)
    ).encode()


def test_euro_business_gets_the_inverse_of_the_ecbs_monthly_mean(make_warehouse):
    eur = Settings(currency="EUR")
    spend = "date,channel,campaign,impressions,clicks,cost,currency\n2026-10-05,meta_ads,m,1,1,115,USD\n2026-10-05,meta_ads,j,1,1,17500,JPY\n"
    wh = make_warehouse({"spend.csv": spend}, settings=eur)
    # USD per euro 1.10, 1.15, 1.20 -> mean 1.15 -> 1/1.15 EUR per dollar; 115 USD = 100 EUR.
    # JPY per euro 170 and 180 (and a day without a value) -> mean 175; 17 500 JPY = 100 EUR.
    body = ecb_csv(
        ("USD", "2026-10-01", "1.1000"),
        ("USD", "2026-10-02", "1.1500"),
        ("USD", "2026-10-05", "1.2000"),
        ("JPY", "2026-10-01", "170.00"),
        ("JPY", "2026-10-02", "180.00"),
        ("JPY", "2026-10-05", ""),
    )
    with replay_server() as replay:
        replay.add(ECB_PATH, ECB_QUERY, (200, body, "text/csv"))
        report = sync(wh, base_url=replay.base_url + "/service", backoff=0, today=NOV_2)
    assert {r.currency: (r.rate, r.days) for r in report.stored} == {
        "USD": (pytest.approx(1 / 1.15), 3),
        "JPY": (pytest.approx(1 / 175), 2),
    }
    assert compute(wh, ["cost"], [], "2026-10").total["cost"] == pytest.approx(200.0)


def test_ecb_without_observations_leaves_the_months_unpublished(make_warehouse):
    wh = make_warehouse(
        {
            "spend.csv": "date,channel,campaign,impressions,clicks,cost,currency\n2026-10-05,meta_ads,m,1,1,5,USD\n"
        },
        settings=Settings(currency="EUR"),
    )
    with replay_server() as replay:
        replay.add("/service/data/EXR/D.USD.EUR.SP00.A", ECB_QUERY, (404, b"No results found.", "text/plain"))
        report = sync(wh, base_url=replay.base_url + "/service", backoff=0, today=NOV_2)
    assert report.stored == [] and report.not_published == [("USD", OCT)] and report.batch is None


def test_ecb_bad_value_names_line_and_field(make_warehouse):
    wh = make_warehouse(
        {
            "spend.csv": "date,channel,campaign,impressions,clicks,cost,currency\n2026-10-05,meta_ads,m,1,1,5,USD\n"
        },
        settings=Settings(currency="EUR"),
    )
    with replay_server() as replay:
        replay.add(
            "/service/data/EXR/D.USD.EUR.SP00.A",
            ECB_QUERY,
            (200, ecb_csv(("USD", "2026-10-01", "NaN")), "text/csv"),
        )
        with pytest.raises(
            ServiceError,
            match=r"^European Central Bank: GET .*: line 2: field 'OBS_VALUE' is not a positive number \('NaN'\)",
        ):
            sync(wh, base_url=replay.base_url + "/service", backoff=0, today=NOV_2)


def test_other_business_currencies_are_told_to_load_a_file(make_warehouse):
    wh = make_warehouse({"spend.csv": SPEND}, settings=Settings(currency="USD"))
    with pytest.raises(KassaError, match="for USD, load fx_rates from a file"):
        sync(wh, backoff=0)


def test_cli_fx_sync_then_metrics(make_warehouse, tmp_path):
    wh = make_warehouse({"spend.csv": SPEND})
    path = wh.path
    wh.close()
    with replay_server() as replay:
        cbr_answers(replay)
        # Today is later than October 2026 only in the tests' future: the command asks up to today.
        res = run_kassa("fx", "sync", "--db", path, "--cbr-url", replay.base_url, env={"COLUMNS": "100"})
    assert res.returncode == 0, res.stderr
    assert "Rates stored from the Bank of Russia" in res.stdout
    assert "82.0000" in res.stdout and "0.5550" in res.stdout
