"""Audit chain: ``prev_hash`` and ``hash`` on ``audit_log``, backfilled in id order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000

Each audit record holds the hash of the one before it and its own (see
``booking/audit_chain.py``). Existing records are chained in id order. The audit
table refuses UPDATE (migration 0001's guards), so the backfill lifts the guard for
its own updates and puts it back in the same transaction. A unique index on
``prev_hash`` makes a fork (two records chained onto the same one) impossible even
for a writer that skips the store's lock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The hash definition is the running code's on purpose: a chain backfilled with any
# other definition would not verify.
from booking.audit_chain import CHAINED_FIELDS, GENESIS_HASH, link_hash

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH_ROWS = 1000
_PREV_HASH_INDEX = "ux_audit_log_prev_hash"
# Migration 0001's SQLite guard against UPDATE, recreated verbatim after the backfill.
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ADD COLUMN, not a batch: SQLite's batch mode copies the table, which
    # would drop the append-only triggers.
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    _backfill()
    op.create_index(_PREV_HASH_INDEX, "audit_log", ["prev_hash"], unique=True)


def _backfill() -> None:
    conn = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        *(
            sa.column(name, sa.DateTime(timezone=True) if name == "at" else sa.String())
            for name in CHAINED_FIELDS
        ),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    if conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one() == 0:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_log_no_update")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    update = (
        sa.update(audit)
        .where(audit.c.id == sa.bindparam("row_id"))
        .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash"))
    )
    prev, last_id = GENESIS_HASH, None
    while True:
        query = sa.select(audit).order_by(audit.c.id).limit(_BATCH_ROWS)
        if last_id is not None:
            query = query.where(audit.c.id > last_id)
        rows = conn.execute(query).mappings().all()
        if not rows:
            break
        links = []
        for row in rows:
            digest = link_hash(prev, {name: row[name] for name in CHAINED_FIELDS})
            links.append({"row_id": row["id"], "new_prev": prev, "new_hash": digest})
            prev, last_id = digest, row["id"]
        conn.execute(update, links)
    if dialect == "sqlite":
        op.execute(_SQLITE_NO_UPDATE)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(_PREV_HASH_INDEX, table_name="audit_log")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "prev_hash")
