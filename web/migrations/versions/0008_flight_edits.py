"""Flight records: ``flight_edits``, the operator's split/merge overrides.

Revision ID: 0008_flight_edits
Revises: 0007_flight_records
Create Date: 2026-12-08 09:00:00.000000

Flights are computed from the recording each time; an override (split the
flight flying at ``at_utc``, or merge the one started by then with the next)
is applied on top, in the order made (``telemetry.flights.edits``). Append-only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_flight_edits"
down_revision: str | Sequence[str] | None = "0007_flight_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "flight_edits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=False
        ),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.String(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_flight_edits_booking", "flight_edits", ["booking_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_flight_edits_booking", table_name="flight_edits")
    op.drop_table("flight_edits")
