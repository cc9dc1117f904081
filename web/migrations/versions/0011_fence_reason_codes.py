"""Fence reasons as codes: ``fence_reports.reason_code`` and ``reason_params``.

Revision ID: 0011_fence_reason_codes
Revises: 0010_fence_reports
Create Date: 2026-12-07 14:00:00.000000

A report's ``reason`` is English; its code and values (JSON) let the pages say it
in the reader's language (``fence.reason.<code>``). Rows stored before keep an
empty code and are shown in their English words.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_fence_reason_codes"
down_revision: str | Sequence[str] | None = "0010_fence_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        "fence_reports",
        sa.Column("reason_code", sa.String(), nullable=False, server_default=""),
    )
    op.add_column(
        "fence_reports",
        sa.Column("reason_params", sa.Text(), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("fence_reports") as batch:
        batch.drop_column("reason_params")
        batch.drop_column("reason_code")
