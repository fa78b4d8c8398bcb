"""counter_marks: a view or share is counted once per viewer, video and UTC day

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counter_marks",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_counter_marks_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kind", "video_id", "viewer_key", "day", name=op.f("pk_counter_marks")),
    )
    with op.batch_alter_table("counter_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_marks_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("counter_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_marks_day"))
    op.drop_table("counter_marks")
