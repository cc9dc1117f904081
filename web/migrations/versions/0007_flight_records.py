"""Flight records: ``flight_forms``, the operator's pre- and post-flight forms.

Revision ID: 0007_flight_records
Revises: 0006_hk
Create Date: 2026-12-07 10:05:00.000000

Every submission is a row (a correction is a new row, the newest counts); the body
is the form as JSON (``booking.flight_forms``). Flights themselves are not stored:
they are computed from the booking's recording each time (``telemetry.flights``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_flight_records"
down_revision: str | Sequence[str] | None = "0006_hk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "flight_forms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=False
        ),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_flight_forms_booking", "flight_forms", ["booking_id", "kind"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_flight_forms_booking", table_name="flight_forms")
    op.drop_table("flight_forms")
