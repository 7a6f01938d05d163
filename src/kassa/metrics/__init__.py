"""The metric catalog: every metric declared once, computed for any grouping."""

from kassa.metrics.catalog import CATALOG, Metric, Tier, get_metric
from kassa.metrics.compare import relative_change
from kassa.metrics.compute import MetricTable, compute

__all__ = ["CATALOG", "Metric", "MetricTable", "Tier", "compute", "get_metric", "relative_change"]
