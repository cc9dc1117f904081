"""Telemetry: incidents, their timeline and evidence, and replay track samples.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:10:00.000000

The tables of ``telemetry/incidents/tables.py`` and
``telemetry/recording/track_store.py``. Incident evidence (samples, frames) is kept
for good; only ``track_samples`` is purged by retention, hence its index on ``t_s``.
The sample tables' ids are 64-bit on PostgreSQL (a site records about a thousand
rows a second); on SQLite a plain INTEGER primary key already is the 64-bit rowid.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vehicle_key", sa.String(), nullable=False),
        sa.Column("sysid", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.String(), nullable=True),
        sa.Column("operator_id", sa.String(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("corridor_id", sa.String(), nullable=True),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("rule_json", sa.Text(), nullable=False),
        sa.Column("volume_json", sa.Text(), nullable=True),
        sa.Column("link_json", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("last_occurrence_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("assignee_id", sa.String(), nullable=True),
        sa.Column("root_cause", sa.String(), nullable=True),
        sa.Column("closing_summary", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for column in (
            "site_id",
            "kind",
            "state",
            "opened_at",
            "vehicle_key",
            "drone_id",
            "operator_id",
            "booking_id",
        ):
            batch_op.create_index(f"ix_incidents_{column}", [column], unique=False)

    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_events_incident_id", ["incident_id"], unique=False
        )

    op.create_table(
        "incident_samples",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_amsl_m", sa.Float(), nullable=False),
        sa.Column("rel_alt_m", sa.Float(), nullable=False),
        sa.Column("vn_mps", sa.Float(), nullable=False),
        sa.Column("ve_mps", sa.Float(), nullable=False),
        sa.Column("vd_mps", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_samples_incident_t", ["incident_id", "t_s"], unique=False
        )

    op.create_table(
        "incident_frames",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_frames", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_frames_incident_t", ["incident_id", "t_s"], unique=False
        )

    op.create_table(
        "track_samples",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("vehicle_key", sa.String(), nullable=False),
        sa.Column("sysid", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.String(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_amsl_m", sa.Float(), nullable=False),
        sa.Column("rel_alt_m", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("track_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_track_samples_booking_t", ["booking_id", "t_s"], unique=False
        )
        batch_op.create_index(
            "ix_track_samples_vehicle_t", ["vehicle_key", "t_s"], unique=False
        )
        batch_op.create_index("ix_track_samples_t", ["t_s"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("track_samples")
    op.drop_table("incident_frames")
    op.drop_table("incident_samples")
    op.drop_table("incident_events")
    op.drop_table("incidents")
