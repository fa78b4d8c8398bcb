"""Creating, deleting and re-queueing videos."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sovereel.actions.sounds import check_usable_sound, retire_sounds
from sovereel.captions import parse_hashtags, parse_mentions
from sovereel.errors import Forbidden, Invalid, NotFound
from sovereel.events.outbox import emit
from sovereel.ids import new_id
from sovereel.media.sounds import SOUND_MODES
from sovereel.storage.blobs.interface import BlobStore
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Hashtag, MediaJob, Mention, User, Video, VideoHashtag
from sovereel.textnorm import clean_text

VISIBILITIES = ("public", "followers", "private")


def check_caption(caption: str, max_chars: int) -> str:
    """The caption as stored (`clean_text`; it may be empty), or Invalid when it is too long."""
    caption = clean_text(caption, multiline=True)
    if len(caption) > max_chars:
        raise Invalid(f"caption is {len(caption)} characters; the limit is {max_chars}", code="caption_too_long")
    return caption


def check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise Invalid("visibility must be public, followers or private", code="bad_visibility")
    return visibility


def check_sound_choice(sound_id: str, sound_mode: str) -> tuple[str | None, str | None]:
    """The (sound id, mode) of an upload's form: none, or a sound with `mix` or `replace` (the default)."""
    sound_id = sound_id.strip()
    if not sound_id:
        return None, None
    if len(sound_id) > 32 or not sound_id.isalnum():
        raise NotFound("no such sound", code="no_such_sound")
    mode = sound_mode.strip() or "replace"
    if mode not in SOUND_MODES:
        raise Invalid("sound_mode must be mix or replace", code="bad_sound_mode")
    return sound_id, mode


def link_hashtags(s: Session, video_id: str, tags: Iterable[str]) -> None:
    """Link a video to its hashtags, creating each new tag or counting one more video on it.

    One INSERT … ON CONFLICT DO UPDATE: concurrent uploads with the same new tag cannot both insert it (a
    look-then-insert fails one with a unique violation on PostgreSQL), the count is incremented by the
    database (no lost update), and tags are taken in sorted order, so two transactions never wait on each
    other's tags in opposite orders (a deadlock)."""
    distinct = sorted(set(tags))
    if not distinct:
        return
    table = cast(Table, Hashtag.__table__)
    ins = pg_insert(table) if s.get_bind().dialect.name == "postgresql" else sqlite_insert(table)
    s.execute(
        ins.values([{"tag": tag, "video_count": 1} for tag in distinct]).on_conflict_do_update(
            index_elements=[table.c.tag], set_={"video_count": table.c.video_count + 1}
        )
    )
    s.add_all(VideoHashtag(video_id=video_id, tag=tag) for tag in distinct)


def _attach_caption(s: Session, video: Video) -> None:
    link_hashtags(s, video.id, parse_hashtags(video.caption))
    names = parse_mentions(video.caption)
    if names:
        for uid in s.scalars(select(User.id).where(User.username_key.in_(names))):
            s.add(Mention(video_id=video.id, user_id=uid))


def do_create_video(
    db: RegionDB,
    blobs: BlobStore,
    *,
    creator_id: str,
    staged: Path,
    original_name: str,
    caption: str,
    visibility: str,
    duration_s: float,
    width: int,
    height: int,
    sound_id: str | None = None,
    sound_mode: str | None = None,
) -> Video:
    """Store a validated upload and queue its transcode; the row, job and event commit together.

    With `sound_id` ("Use this sound") the sound is checked in the same transaction (403 when its creator turned
    reuse off, or its original is gone), and the media worker lays it under the video (`sound_mode`)."""
    now = time.time()
    video_id = new_id(now)
    key = f"videos/{video_id}/original"
    blobs.put_file(key, staged, move=True)  # the staged upload becomes the stored original
    try:
        with db.transaction() as s:
            if sound_id is not None:
                check_usable_sound(s, sound_id, creator_id)
            video = Video(
                id=video_id,
                region=db.region,
                creator_id=creator_id,
                caption=clean_text(caption, multiline=True),  # idempotent: check_caption cleaned it already
                visibility=visibility,
                status="processing",
                duration_s=duration_s,
                width=width,
                height=height,
                original_key=key,
                original_name=original_name[:200],
                renditions={},
                created_at=now,
                sound_id=sound_id,
                sound_mode=sound_mode if sound_id is not None else None,
            )
            s.add(video)
            s.flush()
            _attach_caption(s, video)
            s.add(MediaJob(video_id=video_id, state="queued", attempts=0, next_attempt_at=now, updated_at=now))
            emit(s, "video.uploaded", {"video_id": video_id, "creator_id": creator_id})
    except BaseException:
        blobs.delete_prefix(f"videos/{video_id}")  # no orphan media when the row did not commit
        raise
    return video


def _owned_video(s: Session, video_id: str, user_id: str) -> Video:
    video = s.get(Video, video_id)
    if video is None:
        raise NotFound("no such video")
    if video.creator_id != user_id:
        raise Forbidden("that video is not yours", code="not_owner")
    return video


def do_delete_video(db: RegionDB, blobs: BlobStore, *, video_id: str, user_id: str) -> None:
    """Delete one's own video, its social rows and its media."""
    with db.transaction() as s:
        video = _owned_video(s, video_id, user_id)
        tags = list(s.scalars(select(VideoHashtag.tag).where(VideoHashtag.video_id == video_id)))
        if tags:
            s.execute(update(Hashtag).where(Hashtag.tag.in_(tags)).values(video_count=Hashtag.video_count - 1))
        s.execute(delete(VideoHashtag).where(VideoHashtag.video_id == video_id))
        retired = retire_sounds(s, video_id=video_id)  # its sound stays credited, but its audio goes with it
        s.delete(video)
        emit(s, "video.deleted", {"video_id": video_id})
    blobs.delete_prefix(f"videos/{video_id}")
    for sound_id in retired:
        blobs.delete_prefix(f"sounds/{sound_id}")


def do_retry_video(db: RegionDB, *, video_id: str, user_id: str) -> Video:
    """Re-queue a failed transcode by hand (the original is kept until renditions verify)."""
    now = time.time()
    with db.transaction() as s:
        video = _owned_video(s, video_id, user_id)
        if video.status != "failed":
            raise Invalid("only a failed video can be retried", code="not_failed")
        if not video.original_key:
            raise Invalid("the original file is gone; upload it again", code="no_original")
        video.status = "processing"
        video.failure_reason = None
        job = s.get(MediaJob, video_id)
        if job is None:
            s.add(MediaJob(video_id=video_id, state="queued", attempts=0, next_attempt_at=now, updated_at=now))
        else:
            job.state, job.attempts, job.next_attempt_at, job.last_error, job.updated_at = "queued", 0, now, None, now
            job.locked_by = job.locked_until = None
        emit(s, "video.uploaded", {"video_id": video_id, "creator_id": user_id})
        return video
