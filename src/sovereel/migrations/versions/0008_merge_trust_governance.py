"""merge the parallel branches 0004 (moderation), 0005 (safety), 0006 (audit log), 0007 (regions, rights)

Revision ID: 0008
Revises: 0004, 0005, 0006, 0007
Create Date: 2026-11-21 14:10:00
"""

from __future__ import annotations

revision = "0008"
down_revision = ("0004", "0005", "0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the four branches into one head."""


def downgrade() -> None:
    """Nothing to change."""
