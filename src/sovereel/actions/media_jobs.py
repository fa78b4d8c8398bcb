"""A transcode job's state changes: claiming it, renewing its lease, and recording how it ended.

The media worker (`runtime.media_worker`) does the I/O (blobs, ffmpeg, work folders) and calls these for every
write to `media_jobs` and `videos`. A video's final state and its `video.ready` / `video.failed` event commit in
one transaction, so the outbox never announces a state the store does not hold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update

from sovereel.actions.notifications import notify_mentions
from sovereel.actions.screening import screen_upload
from sovereel.actions.sounds import ExtractedSound, attach_sound
from sovereel.events.outbox import emit
from sovereel.safety.fingerprint import Fingerprint
from sovereel.settings import Settings
from sovereel.storage.db import RegionDB
from sovereel.storage.models import MediaJob, Video


def _due(now: float) -> Any:
    """SQL condition: a queued job whose time has come, or a running one whose worker's lease lapsed."""
    return or_(
        and_(MediaJob.state == "queued", MediaJob.next_attempt_at <= now),
        and_(MediaJob.state == "running", MediaJob.locked_until < now),
    )


def do_claim_job(db: RegionDB, worker_id: str, lock_s: float, now: float) -> str | None:
    """Lock the next due job for this worker; returns its video id, or None when nothing is due."""
    with db.session() as s:
        due = list(s.scalars(select(MediaJob.video_id).where(_due(now)).order_by(MediaJob.next_attempt_at).limit(5)))
    for video_id in due:
        with db.transaction() as s:
            res = s.execute(
                update(MediaJob)
                .where(MediaJob.video_id == video_id, _due(now))
                .values(
                    state="running",
                    locked_by=worker_id,
                    locked_until=now + lock_s,
                    attempts=MediaJob.attempts + 1,
                    updated_at=now,
                )
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return video_id
    return None


def do_renew_lease(db: RegionDB, video_id: str, worker_id: str, lock_s: float) -> None:
    """Extend this worker's lease on a job by `lock_s` (a job another worker took over is left alone)."""
    with db.transaction() as s:
        s.execute(
            update(MediaJob)
            .where(MediaJob.video_id == video_id, MediaJob.locked_by == worker_id)
            .values(locked_until=time.time() + lock_s)
        )


def do_finish_job(db: RegionDB, video_id: str, state: str, error: str | None) -> None:
    """Release a job in `state` (e.g. `done` for a video that was already ready)."""
    with db.transaction() as s:
        s.execute(
            update(MediaJob)
            .where(MediaJob.video_id == video_id)
            .values(state=state, locked_by=None, locked_until=None, last_error=error, updated_at=time.time())
        )


@dataclass(frozen=True)
class Transcoded:
    """What a finished transcode stored for a video: its renditions, poster and measured size."""

    renditions: dict[str, dict[str, Any]]
    poster_key: str
    duration_s: float
    width: int
    height: int
    fingerprint: Fingerprint | None
    sound: ExtractedSound | None = None  # the video's own track, when it has one and chose no sound
    chosen_sound_used: bool = True  # False: the chosen sound's audio was gone, so the video kept its own


def do_publish_transcoded(db: RegionDB, settings: Settings, video_id: str, media: Transcoded) -> str | None:
    """Record a finished transcode, screen it and close its job, with its `video.ready`/`video.failed` event.

    Returns the original upload's key (now to be deleted), "" when there was none, or None when the video was
    deleted while it transcoded (its media then belongs to no one).
    """
    now = time.time()
    with db.transaction() as s:
        row = s.get(Video, video_id)
        if row is None:
            return None
        original_key = row.original_key or ""
        row.renditions = media.renditions
        row.poster_key = media.poster_key
        row.duration_s = media.duration_s
        row.width, row.height = media.width, media.height
        row.status, row.failure_reason, row.ready_at, row.original_key = "ready", None, now, None
        screen_upload(s, settings, row, media.fingerprint)  # may hold it for review, or refuse a removed video's copy
        if not media.chosen_sound_used:
            row.sound_id = row.sound_mode = None
        attach_sound(s, row, media.sound)  # the sound it credits: a matching one, or a new one made from its audio
        s.execute(
            update(MediaJob)
            .where(MediaJob.video_id == video_id)
            .values(state="done", locked_by=None, locked_until=None, last_error=None, updated_at=now)
        )
        if row.status == "ready":
            emit(s, "video.ready", {"video_id": video_id, "creator_id": row.creator_id, "sound_id": row.sound_id})
            # @mentions in the caption are told now, when the video can be seen, not at upload
            notify_mentions(s, text=row.caption or "", actor_id=row.creator_id, video=row, comment_id=None)
        else:
            emit(s, "video.failed", {"video_id": video_id, "reason": row.failure_reason})
    return original_key


def do_requeue_for_room(db: RegionDB, video_id: str, reason: str, backoff_s: float) -> None:
    """The media store is full: not the video's fault, so the attempt is given back and the job waits."""
    now = time.time()
    with db.transaction() as s:
        s.execute(
            update(MediaJob)
            .where(MediaJob.video_id == video_id)
            .values(
                state="queued",
                attempts=MediaJob.attempts - 1,
                next_attempt_at=now + max(backoff_s, 5.0),
                last_error=f"no room in the media store; waiting to retry ({reason[:300]})",
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
        )


def do_fail_attempt(
    db: RegionDB, settings: Settings, video_id: str, reason: str, detail: str, *, transient: bool
) -> str:
    """Record a failed attempt (re-queued with backoff, or final with `video.failed`); returns the job's state.

    `reason` may reach the uploader; `detail` (ffmpeg's own words) only the job row.
    """
    now = time.time()
    with db.transaction() as s:
        job = s.get(MediaJob, video_id)
        video = s.get(Video, video_id)
        if job is None or video is None:
            return "gone"
        job.last_error, job.locked_by, job.locked_until, job.updated_at = detail[:2000], None, None, now
        if not transient or job.attempts >= settings.job_max_attempts:
            job.state = "failed"
            video.status = "failed"
            video.failure_reason = (
                reason[:500]
                if not transient
                else f"Processing failed after {job.attempts} attempts on our side; you can retry it later."
            )
            emit(s, "video.failed", {"video_id": video_id, "reason": video.failure_reason})
            return "failed"
        job.state = "queued"
        job.next_attempt_at = now + settings.job_backoff_s * (2 ** (job.attempts - 1))
        return "queued"
