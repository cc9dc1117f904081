"""User language: ``users.language``, the page language each user chose.

Revision ID: 0009_user_language
Revises: 0008_flight_edits
Create Date: 2026-12-07 10:40:00.000000

Null means the user has not chosen: the pages follow the browser's
``Accept-Language`` (``web.i18n``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_user_language"
down_revision: str | Sequence[str] | None = "0008_flight_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("users", sa.Column("language", sa.String(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
