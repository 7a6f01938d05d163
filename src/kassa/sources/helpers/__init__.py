"""The toolkit the file sources share, one module per concern (dlt's ``sources/helpers/`` layout).

* :mod:`~kassa.sources.helpers.text` — bytes to text: encodings, BOMs, delimiters, splitting into cells;
* :mod:`~kassa.sources.helpers.xlsx` — Excel workbooks read as the text a CSV export would hold;
* :mod:`~kassa.sources.helpers.values` — local spellings of numbers, money and dates rewritten into
  kassa's canonical text (polars expressions);
* :mod:`~kassa.sources.helpers.json_files` — JSON exports (API responses saved to a file).

:mod:`kassa.sources.tabular` builds on them: a file read as a table of text cells below its header.
"""
