"""User accounts: ``disabled`` and ``token_version`` on ``users``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:40:00.000000

Tokens carry the user's token version; changing a password or disabling the user
bumps it, which revokes every token issued before (``web/auth.py``). Existing users
start enabled at version 0; tokens from before this revision carry no ``iss``,
``aud`` or ``ver`` and are refused, so users log in again once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ADD COLUMN with server defaults: no table copy, existing rows filled.
    op.add_column(
        "users",
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
        batch.drop_column("disabled")
