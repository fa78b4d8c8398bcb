"""creator analytics: per-video aggregates (totals, reach per second, per day, per source), followers per day,
the folded-message ledger, and each watch event's source

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _video_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["video_id"], ["videos.id"], name=op.f(f"fk_{table}_video_id_videos"), ondelete="CASCADE"
    )


def _creator_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["creator_id"], ["users.id"], name=op.f(f"fk_{table}_creator_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "video_stats",
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("creator_id", sa.String(length=32), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("watch_s", sa.Float(), nullable=False),
        sa.Column("new_followers", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        _video_fk("video_stats"),
        _creator_fk("video_stats"),
        sa.PrimaryKeyConstraint("video_id", name=op.f("pk_video_stats")),
    )
    with op.batch_alter_table("video_stats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_video_stats_creator_id"), ["creator_id"], unique=False)
    op.create_table(
        "video_reach",
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("second", sa.Integer(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        _video_fk("video_reach"),
        sa.PrimaryKeyConstraint("video_id", "second", name=op.f("pk_video_reach")),
    )
    op.create_table(
        "video_daily",
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.String(length=32), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("watch_s", sa.Float(), nullable=False),
        _video_fk("video_daily"),
        _creator_fk("video_daily"),
        sa.PrimaryKeyConstraint("video_id", "day", name=op.f("pk_video_daily")),
    )
    with op.batch_alter_table("video_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_video_daily_creator_id"), ["creator_id"], unique=False)
    op.create_table(
        "video_sources",
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        _video_fk("video_sources"),
        sa.PrimaryKeyConstraint("video_id", "source", name=op.f("pk_video_sources")),
    )
    op.create_table(
        "creator_daily",
        sa.Column("creator_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("gained", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        _creator_fk("creator_daily"),
        sa.PrimaryKeyConstraint("creator_id", "day", name=op.f("pk_creator_daily")),
    )
    op.create_table(
        "analytics_applied",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("applied_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_analytics_applied")),
    )
    with op.batch_alter_table("analytics_applied", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_applied_applied_at"), ["applied_at"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("analytics_applied", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_applied_applied_at"))
    op.drop_table("analytics_applied")
    op.drop_table("creator_daily")
    op.drop_table("video_sources")
    with op.batch_alter_table("video_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_daily_creator_id"))
    op.drop_table("video_daily")
    op.drop_table("video_reach")
    with op.batch_alter_table("video_stats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_stats_creator_id"))
    op.drop_table("video_stats")
