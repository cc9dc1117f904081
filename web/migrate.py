"""Schema migrations (Alembic): ``skyberth db upgrade`` and the app's start-up.

Several processes (gateways and web processes) may start together on one database,
so an upgrade runs once under a lock and the others wait for it, then find the
schema current and do nothing: on PostgreSQL a transaction-scoped advisory lock
(``pg_advisory_xact_lock``, released at commit or rollback, even if the process
dies), on SQLite ``BEGIN IMMEDIATE`` (the database's write lock, waited for up to
the busy timeout). The whole upgrade is one transaction on both.
"""

from __future__ import annotations

from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from web.db import IMMEDIATE, is_sqlite

MIGRATIONS = str(files("web") / "migrations")
MIGRATION_LOCK_KEY = int.from_bytes(b"skyberth", "big")
"""PostgreSQL advisory lock key held while migrating ("skyberth" in ASCII)."""


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config that migrates through ``engine``."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(False))
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at; None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (default: the newest).

    Safe to call from several processes at once: the first migrates, the others
    wait for its commit and then find nothing to do.
    """
    config = alembic_config(engine)
    with engine.connect() as connection:
        if is_sqlite(engine):
            connection.execution_options(**{IMMEDIATE: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": MIGRATION_LOCK_KEY},
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
