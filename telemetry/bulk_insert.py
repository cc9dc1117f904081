"""Many rows in a few statements: multi-row ``INSERT ... VALUES (...), (...)``.

A driver's ``executemany`` steps the database once per row, and SQLite's driver lets
go of the GIL around every step. The recorder writes from a thread while the event
loop keeps the GIL busy, and a thread that wants the GIL back waits up to the
interpreter's switch interval (5 ms) each time: 460 track rows took 770 ms of wall
time for 85 ms of CPU, and an incident queued behind them waited as long. One
statement per chunk needs one step.

Chunk sizes are powers of two (at most ten statements for a thousand rows), so a
few dozen statement texts cover every batch and the driver's statement cache keeps
them compiled: compiling a thousand-row text costs six times its execution.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

MAX_PARAMS: Final = 30_000
"""Bound parameters per statement (SQLite >= 3.32 allows 32,766; PostgreSQL 65,535)."""


def insert_rows(
    connection: sa.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Insert ``rows`` (values in ``columns`` order) into ``table``; return how many.

    ``table`` and ``columns`` are our own identifiers, never user text.
    """
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row for {table} needs {width} values")
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    largest = _largest_chunk(width)
    start = 0
    while start < len(rows):
        size = largest
        while size > len(rows) - start:
            size //= 2
        part = rows[start : start + size]
        params = tuple(value for row in part for value in row)
        connection.exec_driver_sql(_insert_sql(table, columns, marker, size), params)
        start += size
    return len(rows)


def _largest_chunk(width: int) -> int:
    size = 1
    while size * 2 * width <= MAX_PARAMS:
        size *= 2
    return size


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], marker: str, rows: int) -> str:
    one = "(" + ", ".join(marker for _ in columns) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join(
        one for _ in range(rows)
    )
