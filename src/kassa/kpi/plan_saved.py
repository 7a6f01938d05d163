"""Plans kept with a warehouse: one YAML file per month in a folder beside it, ``<warehouse>.plans/``.

Why a file beside the warehouse, as the contracts are (kpi/saved.py), and not a table in it: a plan is a
document the owner and the marketer agree on, re-read at month end and may correct by hand; a file needs
no schema change and survives a warehouse rebuilt from its source files. One file per month (``2026-12.yaml``):
saving a month's plan again replaces it. The month-end report reads the file of its month to show plan
vs fact; a file edited by hand is validated (``file:line: field …``) before it is used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field

from kassa.errors import ConfigError
from kassa.period import Period
from kassa.store.places import beside
from kassa.yamlfile import parse_yaml_model, read_yaml_text

if TYPE_CHECKING:
    from kassa.kpi.plan import Plan

SUFFIX = ".yaml"


class PlannedChannel(BaseModel):
    """What the plan asks of one channel (``channel`` None: the whole business) for the month."""

    model_config = ConfigDict(extra="forbid")
    channel: str | None = None
    revenue: float = Field(ge=0, allow_inf_nan=False)
    sales: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    qualified_leads: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    leads: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    visits: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class SavedPlan(BaseModel):
    """A saved plan: the month, the target, where its rates came from, and each channel's figures."""

    model_config = ConfigDict(extra="forbid")
    period: str
    target: float = Field(gt=0, allow_inf_nan=False)
    window: str
    by: str | None = None
    scope: list[str] | None = None
    channels: list[PlannedChannel] = Field(min_length=1)


def saved_form(plan: Plan) -> SavedPlan:
    return SavedPlan(
        period=plan.period.label,
        target=plan.target,
        window=plan.window.label,
        by="channel" if plan.by_channel else None,
        scope=plan.scope,
        channels=[PlannedChannel(channel=c.channel, revenue=c.revenue, **c.planned()) for c in plan.channels],
    )


class PlanFolder:
    """The plans saved beside one warehouse, one file per month."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_db(cls, db: Path | str) -> PlanFolder:
        """``shop.duckdb`` → ``shop.duckdb.plans/``."""
        return cls(beside(db, ".plans"))

    def path_of(self, period: Period) -> Path:
        return self.folder / f"{period.label}{SUFFIX}"

    def save(self, plan: Plan) -> Path:
        """Write the plan of its month atomically (a temporary file renamed), replacing an older one."""
        text = yaml.safe_dump(saved_form(plan).model_dump(), sort_keys=False, allow_unicode=True)
        path = self.path_of(plan.period)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".saving-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def read(self, period: Period) -> SavedPlan | None:
        """The plan saved for ``period`` (one month), or None when there is none."""
        path = self.path_of(period)
        if not (period.is_whole_months and period.months == 1) or not path.is_file():
            return None
        saved = parse_yaml_model(read_yaml_text(path), SavedPlan, source=str(path))
        if saved.period != period.label:
            raise ConfigError(f"{path}: field period: {saved.period!r} in the file of {period.label}")
        return saved
