"""regions and user data rights: origin columns, data exports, erasures, content exchange log

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-21 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("users", sa.Column("origin_region", sa.String(length=32), nullable=True))
    op.add_column("videos", sa.Column("origin_region", sa.String(length=32), nullable=True))
    op.add_column("videos", sa.Column("origin_url", sa.String(length=300), nullable=True))
    op.create_table(
        "data_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_data_exports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
    )
    op.create_index(op.f("ix_data_exports_user_id"), "data_exports", ["user_id"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.Float(), nullable=False),
        sa.Column("events_from", sa.Float(), nullable=True),
        sa.Column("events_to", sa.Float(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("models_affected", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_subject_hash"), "erasures", ["subject_hash"], unique=False)
    op.create_table(
        "exchange_log",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("peer_region", sa.String(length=32), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log")),
    )
    op.create_index(op.f("ix_exchange_log_video_id"), "exchange_log", ["video_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_log_video_id"), table_name="exchange_log")
    op.drop_table("exchange_log")
    op.drop_index(op.f("ix_erasures_subject_hash"), table_name="erasures")
    op.drop_table("erasures")
    op.drop_index(op.f("ix_data_exports_user_id"), table_name="data_exports")
    op.drop_table("data_exports")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("origin_url")
        batch.drop_column("origin_region")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("origin_region")
