"""Hong Kong data: CAD registration on ``drones``; imported zones on ``closures``.

Revision ID: 0006_hk
Revises: 0005
Create Date: 2026-12-07 10:00:00.000000

Drones gain their CAD registration (mark, serial number, category, operator and
remote-pilot registration numbers with the last day each is valid); closures gain
the origin of an imported official zone (``source`` file or provider and the zone's
own ``source_zone_id``), unique per site so a re-import updates the closure instead
of adding a second one. Every new column is nullable: existing rows stay as they
are (drones unregistered, closures drawn by hand). One file for both so it can be
renumbered in one place when merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_hk"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DRONE_COLUMNS = (
    sa.Column("registration_mark", sa.String(), nullable=True),
    sa.Column("registration_valid_until", sa.Date(), nullable=True),
    sa.Column("serial_number", sa.String(), nullable=True),
    sa.Column("uas_category", sa.String(), nullable=True),
    sa.Column("operator_registration", sa.String(), nullable=True),
    sa.Column("operator_registration_valid_until", sa.Date(), nullable=True),
    sa.Column("remote_pilot_registration", sa.String(), nullable=True),
    sa.Column("remote_pilot_valid_until", sa.Date(), nullable=True),
)


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ADD COLUMN (nullable, no default): no table copy, no row rewritten.
    for column in _DRONE_COLUMNS:
        op.add_column("drones", column)
    op.add_column("closures", sa.Column("source", sa.String(), nullable=True))
    op.add_column("closures", sa.Column("source_zone_id", sa.String(), nullable=True))
    # Plain closures have NULLs here, which never clash in a unique index.
    op.create_index(
        "ux_closures_origin",
        "closures",
        ["site_id", "source", "source_zone_id"],
        unique=True,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ux_closures_origin", table_name="closures")
    with op.batch_alter_table("closures") as batch:
        batch.drop_column("source_zone_id")
        batch.drop_column("source")
    with op.batch_alter_table("drones") as batch:
        for column in reversed(_DRONE_COLUMNS):
            batch.drop_column(column.name)
