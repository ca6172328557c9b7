"""Checksums of a project's tables, kept by SQLite triggers in the same transaction as
every change, and verified on open.

Each covered table has one row in ``checksums(tbl, n, sum)``: the number of rows and the sum
(mod 2**64) of a 64-bit hash of every row. A sum is order-free, so an insert, update or
delete adjusts it by the hash of the rows involved: the triggers do that inside the writing
statement, so the checksum commits (or rolls back) with the change, whoever writes it. A
connection that writes a covered table must have :func:`register` called on it (SQLite
refuses the write otherwise: "no such function").

Why it detects any single damaged value: a row's hash folds each value's 64-bit code in
through bijective steps, so changing one value of one row changes that row's hash, hence
the sum -- always for a number (its code is the number), and for a text or blob unless two
different ones share a 64-bit BLAKE2b digest. Damage that loses or duplicates a row changes
the count or the sum.

On open the sums are recomputed with numpy (:func:`rows_digest`): a million label rows take
a fraction of a second, where one Python call per row would take seconds.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import struct
from collections.abc import Sequence

import numpy as np
import pandas as pd

_MASK = (1 << 64) - 1
_M = 0x9E3779B97F4A7C15  # odd: multiplying by it is a bijection mod 2**64
_SHIFT = 29
_NONE = 0x6E6F6E656E6F6E65

CHECKSUM_TABLE = "checksums"
CHECKSUM_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {CHECKSUM_TABLE}("
    "tbl TEXT PRIMARY KEY, n INTEGER NOT NULL, sum INTEGER NOT NULL)"
)


def _digest8(tag: bytes, data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(tag + data, digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=8192)
def _text_code(value: str) -> int:
    return _digest8(b"s", value.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=256)
def _seed(table: str) -> int:
    return _digest8(b"t", table.encode())


def value_code(value: object) -> int:
    """The 64-bit code of one SQLite value (int, float, text, blob or NULL)."""
    if type(value) is int:
        return value & _MASK
    if type(value) is str:
        return _text_code(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _digest8(b"b", bytes(value))
    if isinstance(value, float):
        return _digest8(b"f", struct.pack("<d", value))
    if value is None:
        return _NONE
    raise TypeError(f"not an SQLite value: {type(value).__name__}")


def row_hash(table: str, values: Sequence[object]) -> int:
    """The unsigned 64-bit hash of one row of ``table``: each value's code folded in by
    xor, a multiply by an odd constant and an xorshift -- each a bijection, so any one
    changed value changes the hash. Kept short: the triggers run it per changed row."""
    h = _seed(table)
    for value in values:
        h = ((h ^ (value & _MASK if type(value) is int else value_code(value))) * _M) & _MASK
        h ^= h >> _SHIFT
    return h


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def _sql_insert(total: int, table: str, *values) -> int:
    return _signed((total + row_hash(table, values)) & _MASK)


def _sql_delete(total: int, table: str, *values) -> int:
    return _signed((total - row_hash(table, values)) & _MASK)


def _sql_update(total: int, table: str, *values) -> int:
    half = len(values) // 2
    old, new = values[:half], values[half:]
    return _signed((total - row_hash(table, old) + row_hash(table, new)) & _MASK)


def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the functions the checksum triggers call; REPLACE's implicit deletes
    fire delete triggers only with ``recursive_triggers`` on (SQLite's documented rule)."""
    conn.create_function("triage_ck_insert", -1, _sql_insert, deterministic=True)
    conn.create_function("triage_ck_delete", -1, _sql_delete, deterministic=True)
    conn.create_function("triage_ck_update", -1, _sql_update, deterministic=True)
    conn.execute("PRAGMA recursive_triggers=ON")


def triggers_sql(table: str, columns: Sequence[str]) -> dict[str, str]:
    """The three triggers that keep ``table``'s checksum, by name."""

    def each(prefix: str) -> str:
        return ", ".join(f"{prefix}.{c}" for c in columns)

    where = f"WHERE tbl = '{table}'"
    return {
        f"ck_{table}_insert": (
            f"CREATE TRIGGER ck_{table}_insert AFTER INSERT ON {table} BEGIN "
            f"UPDATE {CHECKSUM_TABLE} SET n = n + 1, "
            f"sum = triage_ck_insert(sum, '{table}', {each('NEW')}) {where}; END"
        ),
        f"ck_{table}_delete": (
            f"CREATE TRIGGER ck_{table}_delete AFTER DELETE ON {table} BEGIN "
            f"UPDATE {CHECKSUM_TABLE} SET n = n - 1, "
            f"sum = triage_ck_delete(sum, '{table}', {each('OLD')}) {where}; END"
        ),
        f"ck_{table}_update": (
            f"CREATE TRIGGER ck_{table}_update AFTER UPDATE ON {table} "
            f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in columns)} BEGIN "
            f"UPDATE {CHECKSUM_TABLE} SET "
            f"sum = triage_ck_update(sum, '{table}', {each('OLD')}, {each('NEW')}) {where}; END"
        ),
    }


# ---------------------------------------------------------------------- vectorised
def column_codes(values: Sequence[object]) -> tuple[np.ndarray, str]:
    """:func:`value_code` of each value as uint64, and the column's kind: "int" (every
    value an integer; the codes viewed as int64 are the values), "text", or "mixed"."""
    types = set(map(type, values))
    if types <= {int}:
        return np.array(values, dtype=np.int64).view(np.uint64), "int"
    if types == {str}:
        # Few distinct texts in a big column (a task name): one hash per distinct text.
        codes, uniques = pd.factorize(np.array(values, dtype=object), sort=False)
        table = np.array([_text_code(u) for u in uniques], dtype=np.uint64)
        return table[codes], "text"
    return np.fromiter(map(value_code, values), dtype=np.uint64, count=len(values)), "mixed"


def rows_digest(table: str, codes: Sequence[np.ndarray], n: int) -> int:
    """The unsigned sum of :func:`row_hash` over ``n`` rows, from each column's codes."""
    h = np.full(n, _seed(table), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in codes:
            h = (h ^ column) * np.uint64(_M)
            h ^= h >> np.uint64(_SHIFT)
        return int(h.sum(dtype=np.uint64)) if n else 0


def rows_unique(codes: Sequence[np.ndarray]) -> int:
    """How many distinct rows the key columns' codes make."""
    n = len(codes[0]) if codes else 0
    if n < 2:
        return n
    order = np.lexsort(codes[::-1])
    same = np.ones(n - 1, dtype=bool)
    for column in codes:
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
    return n - int(same.sum())


def stored(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """Per covered table, the (count, unsigned sum) the file holds."""
    return {
        tbl: (n, s & _MASK)
        for tbl, n, s in conn.execute(f"SELECT tbl, n, sum FROM {CHECKSUM_TABLE}")
    }


def signed(u: int) -> int:
    """An unsigned sum as SQLite stores it (signed 64-bit)."""
    return _signed(u & _MASK)
