"""Comments as a viewer sees them: only by authors the viewer may see (`queries.access`: blocks hide both ways,
strangers do not see 13-15-year-olds, a suspended account's comments are hidden from everyone but itself); the
creator's keyword filters hide matching comments from everyone but their author, and the creator is told how many
were hidden."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sovereel.queries.access import visible_commenters_sql
from sovereel.queries.safety import block_relations, follows
from sovereel.queries.videos import user_view
from sovereel.safety.rules import comment_refusal, matching_filter
from sovereel.storage.models import Comment, CommentFilter, User, Video


def comment_permission(s: Session, video: Video, viewer_id: str | None) -> dict[str, Any]:
    """Who may comment on the video, and whether this viewer may (with the reason when not)."""
    creator = s.get(User, video.creator_id)
    policy = video.comment_policy or (creator.comment_policy if creator else "everyone")
    if viewer_id is None:
        return {"comment_policy": policy, "can_comment": False, "comment_refusal": "sign in to comment"}
    refusal = comment_refusal(
        policy, is_creator=viewer_id == video.creator_id, follows_creator=follows(s, viewer_id, video.creator_id)
    )
    if refusal is None and viewer_id in block_relations(s, video.creator_id):
        refusal = "you cannot comment on this video"
    return {"comment_policy": policy, "can_comment": refusal is None, "comment_refusal": refusal}


def comment_listing(s: Session, video: Video, viewer_id: str | None, limit: int) -> dict[str, Any]:
    """Newest top-level comments with their replies, as the viewer may see them."""
    rows = list(
        s.scalars(select(Comment).where(Comment.video_id == video.id).order_by(Comment.created_at.desc()).limit(limit))
    )
    keywords = list(s.scalars(select(CommentFilter.keyword).where(CommentFilter.user_id == video.creator_id)))
    hidden_ids = {
        c.id for c in rows if c.user_id != video.creator_id and keywords and matching_filter(c.body, keywords)
    }
    hidden_count = len(hidden_ids)
    author_ids = {c.user_id for c in rows}
    authors = {u.id: u for u in s.scalars(select(User).where(User.id.in_(author_ids)))}
    shown = set(s.scalars(select(User.id).where(User.id.in_(author_ids), visible_commenters_sql(User.id, viewer_id))))
    visible = [c for c in rows if c.user_id in shown and (c.id not in hidden_ids or c.user_id == viewer_id)]
    own_video = viewer_id == video.creator_id

    def one(c: Comment) -> dict[str, Any]:
        author = authors.get(c.user_id)
        return {
            "id": c.id,
            "body": c.body,
            "author": user_view(author) if author else None,
            "parent_id": c.parent_id,
            "created_at": c.created_at,
            "is_own": c.user_id == viewer_id,
            "can_delete": c.user_id == viewer_id or own_video,
            "hidden": c.id in hidden_ids,  # only ever true for the author: shown to them, hidden from others
            "replies": [],
        }

    tops = [one(c) for c in visible if c.parent_id is None]
    by_id = {t["id"]: t for t in tops}
    for c in sorted((c for c in visible if c.parent_id is not None), key=lambda c: c.created_at):
        if c.parent_id in by_id:
            by_id[c.parent_id]["replies"].append(one(c))
    return {
        "comments": tops,
        "hidden_count": hidden_count if own_video else None,
        **comment_permission(s, video, viewer_id),
    }
