"""Multi-row inserts against the real databases (SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from telemetry.bulk_insert import MAX_PARAMS, insert_rows

COLUMNS = ("name", "value_m", "raw")


@pytest.fixture
def table(engine: Engine) -> Iterator[sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        "bulk_insert_probe",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("value_m", sa.Float),
        sa.Column("raw", sa.LargeBinary),
    )
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield table
    metadata.drop_all(engine)


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 2 * MAX_PARAMS // len(COLUMNS) + 3])
def test_every_row_arrives_in_order_with_its_values(
    engine: Engine, table: sa.Table, n: int
) -> None:
    rows = [
        (f"v{i}", None if i % 5 == 0 else i / 4, bytes([i % 256, 0xFD]))
        for i in range(n)
    ]
    statements: list[str] = []

    def count(*args: object) -> None:
        if str(args[2]).startswith("INSERT"):
            statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as connection:
            assert insert_rows(connection, table.name, COLUMNS, rows) == n
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(table.c.name, table.c.value_m, table.c.raw).order_by(table.c.id)
        ).all()
    assert [tuple(r) for r in stored] == rows
    # A statement per power-of-two chunk, never one per row.
    largest = 1 << (MAX_PARAMS // len(COLUMNS)).bit_length() - 1
    assert len(statements) == n // largest + bin(n % largest).count("1")


def test_a_row_of_the_wrong_width_is_refused_before_anything_is_written(
    engine: Engine, table: sa.Table
) -> None:
    with engine.begin() as connection, pytest.raises(ValueError, match="3 values"):
        insert_rows(connection, table.name, COLUMNS, [("a", 1.0, b"x"), ("b", 2.0)])
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            == 0
        )
