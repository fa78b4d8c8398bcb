"""index users.suspended_at: every feed, search and profile query leaves out suspended accounts' videos

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_users_suspended_at"), "users", ["suspended_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_users_suspended_at"), table_name="users")
