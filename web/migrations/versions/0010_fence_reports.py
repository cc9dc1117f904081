"""Fence reports: ``fence_reports``, each booking's latest fence on its aircraft.

Revision ID: 0010_fence_reports
Revises: 0009_user_language
Create Date: 2026-12-07 10:40:00.000000

One row per booking, replaced by each upload (``telemetry.live.fence_reports``):
a restart keeps showing ``verified`` / ``mismatch`` / ``refused``, and a site that
requires a verified fence keeps a contradicted booking from starting.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010_fence_reports"
down_revision: str | Sequence[str] | None = "0009_user_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "fence_reports",
        sa.Column(
            "booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), primary_key=True
        ),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("at_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vertices", sa.Integer(), nullable=False),
        sa.Column("alt_max_m", sa.Float(), nullable=True),
        sa.Column("altitude", sa.String(), nullable=False),
        sa.Column("differences", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("fence_reports")
