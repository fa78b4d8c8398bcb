"""sounds: every upload's audio becomes a reusable sound; videos.sound_id credits it; creators may refuse reuse

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sounds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("creator_id", sa.String(length=32), nullable=True),
        sa.Column("original_video_id", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("audio_key", sa.String(length=200), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("fingerprint", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_sounds_creator_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["original_video_id"], ["videos.id"], name=op.f("fk_sounds_original_video_id_videos"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sounds")),
    )
    with op.batch_alter_table("sounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sounds_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_sounds_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sounds_original_video_id"), ["original_video_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sounds_created_at"), ["created_at"], unique=False)
    op.create_table(
        "sound_preferences",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("allow_reuse", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sound_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_sound_preferences")),
    )
    # Plain ADD COLUMN (no foreign key): SQLite would otherwise rebuild `videos` and drop its search triggers.
    op.add_column("videos", sa.Column("sound_id", sa.String(length=32), nullable=True))
    op.add_column("videos", sa.Column("sound_mode", sa.String(length=8), nullable=True))
    op.create_index(op.f("ix_videos_sound_id"), "videos", ["sound_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_videos_sound_id"), table_name="videos")
    op.drop_column("videos", "sound_mode")
    op.drop_column("videos", "sound_id")
    op.drop_table("sound_preferences")
    with op.batch_alter_table("sounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sounds_created_at"))
        batch_op.drop_index(batch_op.f("ix_sounds_original_video_id"))
        batch_op.drop_index(batch_op.f("ix_sounds_creator_id"))
        batch_op.drop_index(batch_op.f("ix_sounds_region"))
    op.drop_table("sounds")
