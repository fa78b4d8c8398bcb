"""Search over users, captions and hashtags: SQLite FTS5 or PostgreSQL full-text, same results shape."""

from __future__ import annotations

import re

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sovereel.queries.access import visible_accounts_sql
from sovereel.queries.videos import visible_to
from sovereel.storage.models import Hashtag, User, Video

_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(q: str) -> list[str]:
    """The words of a query (punctuation and FTS operators dropped), at most 8."""
    return [w.lower() for w in _WORD.findall(q)][:8]


def _fts5_query(terms: list[str]) -> str:
    return " AND ".join(f'"{t}"*' for t in terms)


def _pg_query(terms: list[str]) -> str:
    return " & ".join(f"{t}:*" for t in terms)


def search_video_ids(s: Session, q: str, viewer_id: str | None, limit: int) -> list[str]:
    """Ids of visible videos whose caption matches every word of q (prefix match), best first."""
    terms = query_terms(q)
    if not terms:
        return []
    if s.get_bind().dialect.name == "sqlite":
        rows = s.execute(
            text("SELECT video_id FROM video_fts WHERE video_fts MATCH :q ORDER BY rank LIMIT 500"),
            {"q": _fts5_query(terms)},
        )
        matched = [r[0] for r in rows]
    else:
        tsv = func.to_tsvector("simple", Video.caption)
        tsq = func.to_tsquery("simple", _pg_query(terms))
        matched = list(
            s.scalars(select(Video.id).where(tsv.op("@@")(tsq)).order_by(func.ts_rank(tsv, tsq).desc()).limit(500))
        )
    if not matched:
        return []
    visible = set(s.scalars(select(Video.id).where(Video.id.in_(matched), visible_to(viewer_id))))
    return [vid for vid in matched if vid in visible][:limit]


def search_users(s: Session, q: str, limit: int, viewer_id: str | None = None) -> list[User]:
    """Accounts matching every word of q that the viewer may see (`queries.access`: blocks, strangers' teens)."""
    terms = query_terms(q)
    if not terms:
        return []
    if s.get_bind().dialect.name == "sqlite":
        rows = s.execute(
            text("SELECT user_id FROM user_fts WHERE user_fts MATCH :q ORDER BY rank LIMIT :n"),
            {"q": _fts5_query(terms), "n": limit},
        )
        ids = [r[0] for r in rows]
    else:
        tsv = func.to_tsvector("simple", User.username + " " + User.display_name)
        tsq = func.to_tsquery("simple", _pg_query(terms))
        ids = list(
            s.scalars(select(User.id).where(tsv.op("@@")(tsq)).order_by(func.ts_rank(tsv, tsq).desc()).limit(limit))
        )
    allowed = visible_accounts_sql(User.id, viewer_id)
    # Creator stubs of other regions' exchanged videos are not accounts here: their profiles live at home.
    local = User.origin_region.is_(None)
    users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids), allowed, local))}
    return [users[i] for i in ids if i in users]


def search_hashtags(s: Session, q: str, limit: int) -> list[Hashtag]:
    terms = query_terms(q)
    if not terms:
        return []
    prefix = terms[0].replace("%", "").replace("_", r"\_")
    stmt = (
        select(Hashtag)
        .where(Hashtag.tag.like(f"{prefix}%", escape="\\"), Hashtag.video_count > 0)
        .order_by(Hashtag.video_count.desc(), Hashtag.tag)
        .limit(limit)
    )
    return list(s.scalars(stmt))
