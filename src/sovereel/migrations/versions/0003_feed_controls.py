"""feed controls

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:47:27.968357
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_preferences",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("personalised", sa.Boolean(), nullable=False),
        sa.Column("keyword_filters", sa.JSON(), nullable=False),
        sa.Column("profile_reset_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_feed_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_feed_preferences")),
    )
    op.create_table(
        "not_interested",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_not_interested_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", "value", name=op.f("pk_not_interested")),
    )


def downgrade() -> None:
    op.drop_table("not_interested")
    op.drop_table("feed_preferences")
