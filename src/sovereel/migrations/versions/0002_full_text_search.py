"""full-text search: FTS5 tables kept by triggers on SQLite, GIN expression indexes on PostgreSQL

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE video_fts USING fts5(video_id UNINDEXED, caption, tokenize='unicode61')",
    "CREATE VIRTUAL TABLE user_fts USING fts5(user_id UNINDEXED, username, display_name, tokenize='unicode61')",
    """CREATE TRIGGER videos_fts_ai AFTER INSERT ON videos BEGIN
         INSERT INTO video_fts(video_id, caption) VALUES (new.id, new.caption); END""",
    """CREATE TRIGGER videos_fts_ad AFTER DELETE ON videos BEGIN
         DELETE FROM video_fts WHERE video_id = old.id; END""",
    """CREATE TRIGGER videos_fts_au AFTER UPDATE OF caption ON videos BEGIN
         UPDATE video_fts SET caption = new.caption WHERE video_id = new.id; END""",
    """CREATE TRIGGER users_fts_ai AFTER INSERT ON users BEGIN
         INSERT INTO user_fts(user_id, username, display_name) VALUES (new.id, new.username, new.display_name); END""",
    """CREATE TRIGGER users_fts_ad AFTER DELETE ON users BEGIN
         DELETE FROM user_fts WHERE user_id = old.id; END""",
    """CREATE TRIGGER users_fts_au AFTER UPDATE OF username, display_name ON users BEGIN
         UPDATE user_fts SET username = new.username, display_name = new.display_name WHERE user_id = new.id; END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS videos_fts_ai",
    "DROP TRIGGER IF EXISTS videos_fts_ad",
    "DROP TRIGGER IF EXISTS videos_fts_au",
    "DROP TRIGGER IF EXISTS users_fts_ai",
    "DROP TRIGGER IF EXISTS users_fts_ad",
    "DROP TRIGGER IF EXISTS users_fts_au",
    "DROP TABLE IF EXISTS video_fts",
    "DROP TABLE IF EXISTS user_fts",
]
PG_UP = [
    "CREATE INDEX ix_videos_caption_fts ON videos USING gin (to_tsvector('simple', caption))",
    "CREATE INDEX ix_users_name_fts ON users USING gin (to_tsvector('simple', username || ' ' || display_name))",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_videos_caption_fts", "DROP INDEX IF EXISTS ix_users_name_fts"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for stmt in SQLITE_UP if sqlite else PG_UP:
        op.execute(stmt)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for stmt in SQLITE_DOWN if sqlite else PG_DOWN:
        op.execute(stmt)
