"""JSON exports (API responses saved to a file): parsed with the line of each record kept for error reports."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed
from kassa.i18n import Translator
from kassa.sources.helpers.text import decode, read_bytes
from kassa.sources.validate import LINE

_ = Translator("sources")


def load_json(path: Path) -> tuple[object, str]:
    """``(parsed document, its text)``; invalid JSON raises :class:`ImportFailed` naming the line."""
    file = str(path)
    text, _enc = decode(read_bytes(path))
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            _("{file}, line {line}: not valid JSON: {reason}", file=file, line=exc.lineno, reason=exc.msg)
        ) from None
    except RecursionError:
        raise ImportFailed(_("{file}: not valid JSON: nested too deeply", file=file)) from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit conversion limit
        raise ImportFailed(
            _("{file}: not a JSON file kassa can read: {reason}", file=file, reason=str(exc))
        ) from None


def json_text(value: object) -> str | None:
    """A JSON value as the text a CSV cell would hold (APIs send numbers both as numbers and as strings)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def json_row_lines(text: str, key: str, n: int) -> list[int]:
    """Line numbers of ``n`` row objects that each hold ``key`` once, in document order.

    Found as the lines of the ``"key":`` occurrences (inside a JSON string a quote is escaped, so only
    real keys match). When rows share lines (compact JSON) or the count differs, rows are numbered
    1..n by position instead, so every row keeps a distinct number for error reports.
    """
    starts = [m.start() for m in re.finditer(r'(?<!\\)"' + re.escape(key) + r'"\s*:', text)]
    if len(starts) == n:
        lines = []
        line, pos = 1, 0
        for s in starts:
            line += text.count("\n", pos, s)
            pos = s
            lines.append(line)
        if len(set(lines)) == n:
            return lines
    return list(range(1, n + 1))


def frame_of_records(
    records: Sequence[Mapping[str, str | None]], lines: Sequence[int], columns: Sequence[str]
) -> pl.DataFrame:
    """A text frame (``columns`` + ``__line``) from records already turned into text."""
    data: dict[str, list[str | None] | list[int]] = {c: [r.get(c) for r in records] for c in columns}
    data[LINE] = list(lines)
    schema: dict[str, pl.DataType] = {c: pl.String() for c in columns}
    schema[LINE] = pl.Int64()
    return pl.DataFrame(data, schema=schema)
