"""The key of the phone and e-mail hashes, kept outside the warehouse.

A reader stores a phone as ``sha256(salt ‖ phone)`` (:func:`kassa.sources.validate.salted_hash`). The
salt sits in ``kassa_meta`` in the same file, and there are only about 10⁹ Russian mobile numbers: whoever
has the file can hash them all in minutes and read every customer's phone back. So the warehouse stores
``HMAC-SHA256(key, sha256(salt ‖ phone))``, with a 256-bit key that is *not* in the file: in
``<warehouse>.key`` beside it (mode 0600, created with the warehouse) or in the environment variable
``KASSA_HASH_KEY`` (then no key file is written). The same phone still gives the same value, so leads,
deals and payments still match; without the key the values cannot be tested against guesses.

Keying the old hash (not the phone) is what lets an older warehouse be migrated without its raw data:
every stored value is rewritten as HMAC(key, stored value), exactly what a new import computes.
``kassa_meta`` holds ``hashing = hmac-sha256`` and a check value (an HMAC of a constant, which says
nothing about the key), so a missing or wrong key is reported instead of silently making hashes that
match nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from kassa.errors import WarehouseError
from kassa.schema import KINDS
from kassa.store.places import beside

KEY_ENV = "KASSA_HASH_KEY"
HASHING = "hmac-sha256"  # kassa_meta 'hashing': stored hashes are keyed
_CHECK = b"kassa: the hash key of this warehouse"


def key_file(db: Path) -> Path:
    """``shop.duckdb`` → ``shop.duckdb.key``."""
    return beside(db, ".key")


def keyed(key: bytes, salted: str) -> str:
    """The stored value of a salted hash: HMAC-SHA256 under ``key``, hex."""
    return hmac.new(key, salted.encode("ascii"), hashlib.sha256).hexdigest()


def key_check(key: bytes) -> str:
    """What ``kassa_meta`` keeps to recognise the key (an HMAC of a constant: reveals nothing of it)."""
    return hmac.new(key, _CHECK, hashlib.sha256).hexdigest()


def where_key_is(db: Path) -> str:
    return f"{KEY_ENV}" if os.environ.get(KEY_ENV) else str(key_file(db))


def read_key(db: Path) -> bytes | None:
    """The key: ``KASSA_HASH_KEY`` if set, else the key file beside ``db``; ``None`` when neither exists."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    path = key_file(db)
    if not path.is_file():
        return None
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise WarehouseError(f"{path}: not a kassa hash key (64 hexadecimal digits expected)")
    return key


def new_key(db: Path) -> bytes:
    """The key of a new (or newly migrated) warehouse: ``KASSA_HASH_KEY`` if set, else a random key
    written to the key file (0600; an existing key file is used, never overwritten)."""
    found = read_key(db)
    if found is not None:
        return found
    key = secrets.token_bytes(32)
    fd = os.open(key_file(db), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return key


def check_key(db: Path, key: bytes | None, expected: str | None) -> bytes:
    """``key`` if it is the one this warehouse's hashes were made with; else a clear error."""
    if key is None:
        raise WarehouseError(
            f"{db}: the key of its phone and e-mail hashes is missing: neither {key_file(db)} nor {KEY_ENV} "
            "exists. Without it new leads, deals and payments cannot be matched to stored ones by phone "
            "or e-mail. Put the key file back from your backup (or set KASSA_HASH_KEY to the key)"
        )
    if expected is not None and not hmac.compare_digest(key_check(key), expected):
        raise WarehouseError(
            f"{db}: {where_key_is(db)} holds a different key from the one its phone and e-mail hashes were "
            "made with; use that key's file (or KASSA_HASH_KEY) from your backup"
        )
    return key


def hash_columns(kind: str) -> list[str]:
    """The stored hash columns of a canonical kind (``phone_hash``, ``email_hash`` of leads…)."""
    return [f"{c.name}_hash" for c in KINDS[kind].columns if c.personal]


def _keyed_batch(batch: pa.RecordBatch | pa.Table, columns: list[str], key: bytes) -> pa.Table:
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    for name in columns:
        i = table.schema.get_field_index(name)
        if i < 0:
            continue
        values = [None if v is None else keyed(key, v) for v in table.column(i).to_pylist()]
        table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
    return table


def keyed_rows(
    rows: pa.Table | pa.RecordBatchReader, kind: str, key_of: Callable[[], bytes]
) -> pa.Table | pa.RecordBatchReader:
    """``rows`` of ``kind`` with their salted hashes keyed; ``key_of()`` gives the key (asked only when
    the kind has personal columns, so spend imports need no key)."""
    columns = hash_columns(kind)
    if not columns:
        return rows
    key = key_of()
    if isinstance(rows, pa.Table):
        return _keyed_batch(rows, columns, key)

    def batches() -> Iterator[pa.RecordBatch]:
        for b in rows:
            yield from _keyed_batch(b, columns, key).to_batches()

    return pa.RecordBatchReader.from_batches(rows.schema, batches())


def migrate(con: object, key: bytes, tables: set[str]) -> int:
    """Rewrite every stored hash of an older warehouse as HMAC(key, stored value), in the caller's
    transaction; returns how many distinct values were rewritten."""
    rewritten = 0
    for kind in KINDS:
        for table in (kind, f"{kind}__replaced"):
            if table not in tables:
                continue
            for col in hash_columns(kind):
                olds = [
                    r[0]
                    for r in con.execute(  # type: ignore[attr-defined]
                        f'SELECT DISTINCT "{col}" FROM {table} WHERE "{col}" IS NOT NULL'
                    ).fetchall()
                ]
                if not olds:
                    continue
                mapping = pa.table({"old": olds, "new": [keyed(key, v) for v in olds]})
                con.register("kassa_rekey", mapping)  # type: ignore[attr-defined]
                con.execute(  # type: ignore[attr-defined]
                    f'UPDATE {table} SET "{col}" = m.new FROM kassa_rekey m WHERE {table}."{col}" = m.old'
                )
                con.unregister("kassa_rekey")  # type: ignore[attr-defined]
                rewritten += len(olds)
    return rewritten
