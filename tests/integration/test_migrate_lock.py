"""Processes starting together on one fresh database: every one's migration
succeeds and the schema is migrated once (``web.migrate.upgrade`` under a lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url

from tests.conftest import require_service
from tests.harness.postgres import fresh_database
from tests.integration.conftest import POSTGRES_ADMIN_URL
from web.db import make_engine
from web.migrate import alembic_config, upgrade

RACERS = 4


def upgrade_at_once(engines: list[Engine]) -> list[BaseException]:
    """Run ``upgrade`` on every engine in a thread of its own, released together;
    return what each raised."""
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def race(engine: Engine) -> None:
        start.wait()
        try:
            upgrade(engine)
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def assert_schema_is_current(engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (head,)
        versions = connection.execute(sa.text("SELECT count(*) FROM alembic_version"))
        assert versions.scalar_one() == 1
    assert "bookings" in sa.inspect(engine).get_table_names()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (not migrated), dropped after the test."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    require_service("PostgreSQL", admin_url.port or 5432, admin_url.host or "127.0.0.1")
    with fresh_database(
        POSTGRES_ADMIN_URL, migrate=False, prefix="skyberth_migrate"
    ) as url:
        yield url


@pytest.mark.postgres
def test_processes_starting_together_on_postgres_all_migrate_it_once(
    fresh_postgres_url: str,
) -> None:
    engines = [make_engine(fresh_postgres_url) for _ in range(RACERS)]
    try:
        assert upgrade_at_once(engines) == []
        assert_schema_is_current(engines[0])
    finally:
        for engine in engines:
            engine.dispose()


def test_processes_starting_together_on_sqlite_all_migrate_it_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'skyberth.sqlite3'}"
    engines = [make_engine(url) for _ in range(RACERS)]
    try:
        assert upgrade_at_once(engines) == []
        assert_schema_is_current(engines[0])
    finally:
        for engine in engines:
            engine.dispose()
