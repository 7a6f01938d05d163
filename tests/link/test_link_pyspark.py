"""The whole money trail is plain Ibis: every link and the journeys also compile for Spark."""

from __future__ import annotations

import ibis
import pytest

from kassa.link.journeys import journey_paths, journey_touches
from kassa.link.money import to_business_currency
from kassa.link.money_trail import MoneyTrail
from kassa.period import Period


class SparkOptions(ibis.config.Config):
    treat_nan_as_null: bool = False


@pytest.fixture
def spark_sql(monkeypatch):
    # pyspark is not installed here: its SQL compiler only needs its one option registered.
    monkeypatch.setattr(ibis.options, "pyspark", SparkOptions())
    return lambda expr: ibis.to_sql(expr, dialect="pyspark")


@pytest.mark.slow  # compiles every link for Spark SQL: ~7 s
def test_every_link_compiles_for_pyspark(money_wh, spark_sql) -> None:
    chain = MoneyTrail(money_wh)  # lazy: the expressions themselves, not temporary tables
    touches = journey_touches(chain, "sale", value="paid", period=Period.parse("2026-10"))
    exprs = {
        "leads": chain.leads,
        "visits": chain.visits,
        "deals": chain.deals,
        "payments": chain.payments,
        "deal_status": chain.deal_status,
        "touches": touches,
        "paths": journey_paths(touches, collapse_repeats=True),
        "fx": to_business_currency(
            chain.deal_status, ["amount"], chain.deal_status.closed_at, money_wh.table("fx_rates"), "RUB"
        )[0],
    }
    for name, expr in exprs.items():
        sql = spark_sql(expr)
        assert "SELECT" in sql, name
    # The purpose is read with Spark's own functions (no Python UDF, no look-around).
    sql = spark_sql(chain.payments)
    assert "REGEXP_EXTRACT" in sql and "EXPLODE" in sql and "(?=" not in sql and "(?<" not in sql
