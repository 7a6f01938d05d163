"""One Spark session for every Spark test of a run (a session starts in 5-15 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The process's Spark session (``local[2]``), its warehouse folder in the test's temporary folder.

    CI installs pyspark and Java (``KASSA_REQUIRE_SPARK=1`` there, so a missing one fails instead of
    skipping)."""
    if os.environ.get("KASSA_REQUIRE_SPARK") != "1":
        pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("spark-warehouse")
    saved = {k: os.environ.get(k) for k in ("KASSA_SPARK_MASTER", "KASSA_SPARK_WAREHOUSE")}
    os.environ["KASSA_SPARK_MASTER"], os.environ["KASSA_SPARK_WAREHOUSE"] = "local[2]", str(folder)
    # Small data: two shuffle partitions instead of Spark's 200 (each a task to schedule), no web UI.
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    from kassa.store import spark as kassa_spark

    kassa_spark.session.cache_clear()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def spark_folder() -> Path:
    return Path(os.environ["KASSA_SPARK_WAREHOUSE"])
