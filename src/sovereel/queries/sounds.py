"""Reading sounds as viewers see them: the credit under a video, a sound's page, its videos, search and hashtags.

Who may see or use a sound is one rule in `queries.access` (`sound_state`, `reuse_allowed`); a sound's videos are
listed through the videos' own rule (`visible_videos_sql`), so a sound page never shows a video its viewer could
not open.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from sovereel.errors import Invalid, NotFound
from sovereel.queries.access import reuse_allowed, sound_state, visible_accounts_sql, visible_videos_sql
from sovereel.storage.models import Sound, User, Video, VideoHashtag

_CURSOR_RE = re.compile(r"^([0-9]{1,12}):([0-9A-Za-z]{1,32})\Z")


def sound_title(s: Session, sound: Sound) -> str:
    """ "original sound – @ana"; just the title once its creator's account is erased."""
    creator = s.get(User, sound.creator_id) if sound.creator_id else None
    return f"{sound.title} – @{creator.username}" if creator is not None else sound.title


def sound_credits(s: Session, videos: list[Video], viewer_id: str | None) -> dict[str, dict[str, Any]]:
    """Video id → the sound it credits ({id, title, url}), for the sounds the viewer may see.

    On every feed page, so the common case is two queries: the sounds whose original the viewer may see (the SQL
    form of `sound_state`'s rule), with their creators' handles; only the others (original gone, removed or hidden)
    are checked one by one.
    """
    ids = {v.sound_id for v in videos if v.sound_id}
    if not ids:
        return {}
    seen = set(
        s.scalars(
            select(Sound.id)
            .join(Video, Video.id == Sound.original_video_id)
            .where(Sound.id.in_(ids), visible_videos_sql(viewer_id))
        )
    )
    rows = s.execute(
        select(Sound.id, Sound.title, User.username)
        .outerjoin(User, User.id == Sound.creator_id)
        .where(Sound.id.in_(ids))
    ).all()
    credits: dict[str, dict[str, Any]] = {}
    for sid, title, username in rows:
        if sid not in seen:
            sound = s.get(Sound, sid)
            if sound is None or sound_state(s, sound, viewer_id) == "hidden":
                continue
        full = f"{title} – @{username}" if username else title
        credits[sid] = {"id": sid, "title": full, "url": f"/sounds/{sid}"}
    return {v.id: credits[v.sound_id] for v in videos if v.sound_id in credits}


def visible_sound(s: Session, sound_id: str, viewer_id: str | None) -> tuple[Sound, str]:
    """The sound and its `sound_state` for the viewer; NotFound when it does not exist or is hidden from them."""
    sound = s.get(Sound, sound_id) if len(sound_id) <= 32 else None
    state = sound_state(s, sound, viewer_id) if sound is not None else "hidden"
    if sound is None or state == "hidden":
        raise NotFound("no such sound", code="no_such_sound")
    return sound, state


def sound_view(s: Session, sound: Sound, state: str, viewer_id: str | None) -> dict[str, Any]:
    """A sound as the viewer sees it: title, creator, whether the original is there, whether they may use it."""
    creator = s.get(User, sound.creator_id) if sound.creator_id else None
    original = s.get(Video, sound.original_video_id) if sound.original_video_id and state == "available" else None
    count = s.scalar(
        select(func.count()).select_from(Video).where(Video.sound_id == sound.id, visible_videos_sql(viewer_id))
    )
    usable = state == "available" and (viewer_id is None or reuse_allowed(s, sound, viewer_id))
    return {
        "id": sound.id,
        "title": sound_title(s, sound),
        "creator_username": creator.username if creator is not None else None,
        "duration_s": sound.duration_s,
        "original_video_id": original.id if original is not None else None,
        "original_available": state == "available",
        "reuse_allowed": usable,
        "is_own": viewer_id is not None and viewer_id == sound.creator_id,
        "video_count": int(count or 0),
        "audio_url": f"/api/sounds/{sound.id}/audio" if state == "available" else None,
        "url": f"/sounds/{sound.id}",
    }


def sound_videos(
    s: Session, sound_id: str, viewer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Video], str | None]:
    """The visible videos crediting the sound, most viewed first; keyset cursor '<view_count>:<id>'."""
    stmt = select(Video).where(Video.sound_id == sound_id, visible_videos_sql(viewer_id))
    if cursor:
        m = _CURSOR_RE.fullmatch(cursor)
        if m is None:
            raise Invalid("malformed cursor", code="bad_cursor")
        views, vid = int(m.group(1)), m.group(2)
        stmt = stmt.where(or_(Video.view_count < views, and_(Video.view_count == views, Video.id < vid)))
    rows = list(s.scalars(stmt.order_by(Video.view_count.desc(), Video.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], f"{last.view_count}:{last.id}"
    return rows, None


def _listed(s: Session, sound_ids: list[str], viewer_id: str | None) -> list[dict[str, Any]]:
    """Sound summaries ({id, title, video_count, url}) of the available sounds among `sound_ids`, in order."""
    out = []
    for sid in sound_ids:
        sound = s.get(Sound, sid)
        if sound is None or sound_state(s, sound, viewer_id) != "available":
            continue
        count = s.scalar(
            select(func.count()).select_from(Video).where(Video.sound_id == sid, visible_videos_sql(viewer_id))
        )
        out.append({"id": sid, "title": sound_title(s, sound), "video_count": int(count or 0), "url": f"/sounds/{sid}"})
    return out


def search_sounds(s: Session, terms: list[str], viewer_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Available sounds whose title or creator's handle starts with each word, most used first."""
    if not terms:
        return []
    stmt = select(Sound.id).join(User, User.id == Sound.creator_id).where(visible_accounts_sql(User.id, viewer_id))
    for term in terms:
        like = term.replace("\\", "").replace("%", "").replace("_", r"\_") + "%"
        stmt = stmt.where(
            or_(User.username_key.like(like, escape="\\"), func.lower(Sound.title).like("%" + like, escape="\\"))
        )
    used = select(func.count()).select_from(Video).where(Video.sound_id == Sound.id).scalar_subquery()
    ids = list(s.scalars(stmt.order_by(used.desc(), Sound.created_at.desc()).limit(limit * 3)))
    return _listed(s, ids, viewer_id)[:limit]


def hashtag_sounds(s: Session, tag: str, viewer_id: str | None, limit: int = 6) -> list[dict[str, Any]]:
    """The sounds the tag's visible videos use, most used first."""
    tagged = select(VideoHashtag.video_id).where(VideoHashtag.tag == tag)
    stmt = (
        select(Video.sound_id, func.count().label("n"))
        .where(Video.id.in_(tagged), Video.sound_id.is_not(None), visible_videos_sql(viewer_id))
        .group_by(Video.sound_id)
        .order_by(func.count().desc(), Video.sound_id)
        .limit(limit * 2)
    )
    ids = [str(sid) for sid, _ in s.execute(stmt)]
    return _listed(s, ids, viewer_id)[:limit]
