"""Alembic environment: the booking store's tables, on the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import booking.flight_edit_store
import booking.flight_form_store
import booking.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# The one schema history covers every table; the telemetry tables must be known
# too, or autogenerate would propose dropping them.
import telemetry.incidents.tables
import telemetry.live.fence_reports
import telemetry.recording.track_store  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through web.migrate.upgrade(engine)")
_run(connection)
