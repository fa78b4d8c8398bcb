"""users.skeleton: the lookalike key of each username, indexed, so sign-up refuses a name that looks taken

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# A frozen copy of sovereel.usernames.username_skeleton as of this revision: a migration must compute the same
# thing whenever it runs. A later change to the rule needs its own migration to recompute the column.
_CHARS = str.maketrans({"0": "o", "1": "l", "i": "l", "_": "."})
_SEPARATORS = re.compile(r"\.+")


def _skeleton(username: str) -> str:
    key = _SEPARATORS.sub(".", username.lower().translate(_CHARS)).strip(".")
    return key.replace("rn", "m").replace("vv", "w")


def upgrade() -> None:
    op.add_column("users", sa.Column("skeleton", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_users_skeleton"), "users", ["skeleton"], unique=False)
    users = sa.table("users", sa.column("id", sa.String), sa.column("username", sa.String), sa.column("skeleton"))
    conn = op.get_bind()
    # Existing rows keep their names even where two already share a skeleton (hence no unique index).
    rows = conn.execute(sa.select(users.c.id, users.c.username).where(users.c.skeleton.is_(None))).all()
    for user_id, username in rows:
        conn.execute(users.update().where(users.c.id == user_id).values(skeleton=_skeleton(username)))


def downgrade() -> None:
    op.drop_index(op.f("ix_users_skeleton"), table_name="users")
    op.drop_column("users", "skeleton")
