"""audit log, signed checkpoints and export licences

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-21 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("idx", BIG, autoincrement=False, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_entries")),
    )
    op.create_index(op.f("ix_audit_entries_kind"), "audit_entries", ["kind"], unique=False)
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", BIG, nullable=False),
        sa.Column("last_leaf", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "last_leaf": ""}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", BIG, autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "export_licences",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("source_region", sa.String(length=32), nullable=False),
        sa.Column("dest_region", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.Column("audit_index", BIG, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_licences")),
    )


def downgrade() -> None:
    op.drop_table("export_licences")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    op.drop_index(op.f("ix_audit_entries_kind"), table_name="audit_entries")
    op.drop_table("audit_entries")
