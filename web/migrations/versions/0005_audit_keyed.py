"""Keyed audit chain: ``chain_version`` on ``audit_log``; PostgreSQL refuses TRUNCATE.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00.000000

Records from here on are hashed with HMAC-SHA256 under the audit key, which is not
in the database (``booking.audit_chain``, ``chain_version`` 2). Existing records are
NOT re-keyed: they keep their unkeyed SHA-256 hashes (``chain_version`` NULL) and
still verify. Re-keying would need the key here and would launder any edit made
before the migration into a valid keyed chain; versioned records keep that evidence.
An unkeyed record after a keyed one is a break, so a writer cannot fall back to the
unkeyed hash to forge records.

Migration 0001 refuses UPDATE and DELETE on the table; PostgreSQL's TRUNCATE skips
row triggers, so a statement trigger refuses it too. (Numbered 0005 so as not to
clash with another 0004 in progress; it follows 0003 until that one lands.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NO_TRUNCATE = (
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
)


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ADD COLUMN, not a batch: SQLite's batch mode copies the table, which
    # would drop the append-only triggers. No default: no row is rewritten.
    op.add_column("audit_log", sa.Column("chain_version", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NO_TRUNCATE)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.drop_column("audit_log", "chain_version")
