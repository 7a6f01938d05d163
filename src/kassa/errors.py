"""Exceptions named by the condition a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class KassaError(Exception):
    """Base of every error kassa reports to a person (the CLI prints it without a traceback)."""


@dataclass(frozen=True)
class RowError:
    """One rejected input value: where it is, what it was and why it was refused."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str
    row_kept: bool = False  # a warning: the row was loaded without this value
    # A warning that ``--strict`` turns into a refusal (e.g. a statement whose documents miss its totals).
    refused_when_strict: bool = False

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column!r}"
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.reason}{shown}"


class ImportFailed(KassaError):
    """An import was refused as a whole; the warehouse is unchanged."""

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        self.errors = list(errors or [])
        lines = [message] + [f"  {e}" for e in self.errors[:20]]
        if len(self.errors) > 20:
            lines.append(f"  … and {len(self.errors) - 20} more")
        super().__init__("\n".join(lines))


class UnknownFormat(KassaError):
    """The file's kind could not be recognised from its header."""


class MissingColumn(KassaError):
    """A required column is absent."""


@dataclass(frozen=True)
class ConfigProblem:
    """One reason a YAML config or contract was refused: where (1-based line, field path) and why."""

    line: int | None
    field: str | None
    message: str


class ConfigError(KassaError):
    """A YAML config or contract is invalid; the message names file, line and field.

    ``problems`` holds the same reasons as data, so the dashboard can show each one at its field.
    """

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class UnknownMetric(KassaError):
    """A metric name that the catalog does not declare."""


class BadPeriod(KassaError):
    """A period that is not YYYY-MM, YYYY-MM..YYYY-MM or YYYY-MM-DD..YYYY-MM-DD."""


class WarehouseError(KassaError):
    """The warehouse file is missing, locked or of an unknown schema version."""


class WarehouseTaken(WarehouseError):
    """Another process holds the warehouse for writing (a running ``kassa serve``, or an import)."""


class ServiceError(KassaError):
    """A web service failed, refused or answered what kassa cannot read; the message names the service,
    the request and, for a bad answer, the field."""
