"""Where a warehouse is, and the files kassa keeps with it (users, sessions, saved contracts and plans,
connections and their secrets, the hash key, uploads, schedule locks).

A DuckDB warehouse is a file, and each of its files sits beside it under the file's name and a suffix:
``shop.duckdb`` → ``shop.duckdb.users.json``. A Spark warehouse ``spark:shop`` is the folder
``$KASSA_SPARK_WAREHOUSE/shop/``, and its files sit beside that folder in the same way:
``$KASSA_SPARK_WAREHOUSE/shop.users.json`` — whatever the working folder the command runs in, so the
dashboard, a cron job and ``kassa user add`` run from anywhere find the same users and connections. The
folder itself holds only what the manifest names (:mod:`kassa.store.spark`), so nothing here can be
taken for a table's part.

Pure path arithmetic: importing this module starts no engine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kassa.errors import WarehouseError

SPARK_PREFIX = "spark:"
SPARK_MASTER_ENV, SPARK_FOLDER_ENV = "KASSA_SPARK_MASTER", "KASSA_SPARK_WAREHOUSE"
_DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def is_spark(db: object) -> bool:
    """``--db spark:DATABASE`` names a Spark warehouse; anything else is a DuckDB file."""
    return str(db).startswith(SPARK_PREFIX)


def database_name(db: object) -> str:
    """``spark:shop`` → ``shop``; refused unless letters, digits and ``_`` (it names a folder and views)."""
    name = str(db)[len(SPARK_PREFIX) :]
    if not _DATABASE.fullmatch(name):
        raise WarehouseError(
            f"{db}: a Spark warehouse is named spark:DATABASE, DATABASE being letters, digits and _ "
            "(e.g. --db spark:shop)"
        )
    return name


def spark_folder() -> Path:
    """The folder of every Spark warehouse: ``$KASSA_SPARK_WAREHOUSE``, else ``./spark-warehouse``."""
    return Path(os.environ.get(SPARK_FOLDER_ENV) or "spark-warehouse").absolute()


def beside(db: Path | str, suffix: str) -> Path:
    """The file ``suffix`` of warehouse ``db``: ``shop.duckdb`` + ``.users.json`` →
    ``shop.duckdb.users.json``; ``spark:shop`` → ``$KASSA_SPARK_WAREHOUSE/shop.users.json`` (the Spark
    warehouse's own folder, ``…/shop``, given instead of its name, ends in the same place)."""
    if is_spark(db):
        return spark_folder() / (database_name(db) + suffix)
    p = Path(db)
    return p.with_name(p.name + suffix)
