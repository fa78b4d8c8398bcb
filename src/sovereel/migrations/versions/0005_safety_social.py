"""safety (social): blocks, follow requests, comment controls, birth dates, age-restricted videos

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-21 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("birth_date", sa.Date(), nullable=True))
    op.add_column("users", sa.Column("is_private", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("users", sa.Column("comment_policy", sa.String(length=16), server_default="everyone", nullable=False))
    op.add_column("videos", sa.Column("age_restricted", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("videos", sa.Column("comment_policy", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_users_birth_date"), "users", ["birth_date"], unique=False)
    op.create_index(op.f("ix_users_is_private"), "users", ["is_private"], unique=False)
    op.create_index(op.f("ix_videos_age_restricted"), "videos", ["age_restricted"], unique=False)
    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.String(length=32), nullable=False),
        sa.Column("blocked_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocker_id"], ["users.id"], name=op.f("fk_blocks_blocker_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["blocked_id"], ["users.id"], name=op.f("fk_blocks_blocked_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_blocks")),
    )
    op.create_index(op.f("ix_blocks_blocked_id"), "blocks", ["blocked_id"], unique=False)
    op.create_table(
        "follow_requests",
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_follow_requests_requester_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["users.id"], name=op.f("fk_follow_requests_target_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("requester_id", "target_id", name=op.f("pk_follow_requests")),
    )
    op.create_index(op.f("ix_follow_requests_target_id"), "follow_requests", ["target_id"], unique=False)
    op.create_table(
        "comment_filters",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("keyword", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comment_filters_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "keyword", name=op.f("pk_comment_filters")),
    )
    op.create_table(
        "safety_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_safety_log_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["users.id"], name=op.f("fk_safety_log_subject_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_log")),
    )
    op.create_index(op.f("ix_safety_log_actor_id"), "safety_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_safety_log_subject_id"), "safety_log", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_safety_log_subject_id"), table_name="safety_log")
    op.drop_index(op.f("ix_safety_log_actor_id"), table_name="safety_log")
    op.drop_table("safety_log")
    op.drop_table("comment_filters")
    op.drop_index(op.f("ix_follow_requests_target_id"), table_name="follow_requests")
    op.drop_table("follow_requests")
    op.drop_index(op.f("ix_blocks_blocked_id"), table_name="blocks")
    op.drop_table("blocks")
    op.drop_index(op.f("ix_videos_age_restricted"), table_name="videos")
    op.drop_index(op.f("ix_users_is_private"), table_name="users")
    op.drop_index(op.f("ix_users_birth_date"), table_name="users")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("comment_policy")
        batch.drop_column("age_restricted")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("comment_policy")
        batch.drop_column("is_private")
        batch.drop_column("birth_date")
