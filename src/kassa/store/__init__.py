"""The warehouse: canonical tables in one DuckDB file, loaded atomically and idempotently."""

from kassa.store.warehouse import ImportReport, Warehouse

__all__ = ["ImportReport", "Warehouse"]
