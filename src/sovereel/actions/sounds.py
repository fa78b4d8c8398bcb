"""Sounds: giving a finished video its sound, checking a chosen sound, and a creator's reuse setting.

A finished video that chose no sound and has audio brings its track's fingerprint (`ExtractedSound`, made by the
media worker). If that audio matches a sound already here (`media.audio_match`: re-encoded, trimmed or louder
copies match), the video credits that sound; otherwise its track becomes a new sound, "original sound" of its
creator. Only sounds whose original any viewer may see (or the uploader's own) are matched, so a private video's
sound is never revealed through someone else's upload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sovereel.actions.safety_log import log_safety
from sovereel.errors import Forbidden, NotFound
from sovereel.media.audio_match import best_match
from sovereel.queries.access import SERVABLE_STATES, reuse_allowed, sound_state
from sovereel.storage.db import RegionDB
from sovereel.storage.models import Sound, SoundPreferences, Video


@dataclass(frozen=True)
class ExtractedSound:
    """A finished video's own audio track: stored at `audio_key` under a new sound's id, and its fingerprint."""

    sound_id: str
    audio_key: str
    fingerprint: list[int] | None  # None when fpcalc failed: the sound is made, but never matched
    duration_s: float


def _match_candidates(s: Session, uploader_id: str) -> list[tuple[str, Any]]:
    """(sound id, fingerprint) of the sounds a new upload may join: a public, servable original, or the uploader's."""
    stmt = (
        select(Sound.id, Sound.fingerprint)
        .join(Video, Video.id == Sound.original_video_id)
        .where(
            Sound.fingerprint.is_not(None),
            or_(
                Sound.creator_id == uploader_id,
                (Video.visibility == "public") & (Video.moderation_state.in_(SERVABLE_STATES)),
            ),
        )
        .order_by(Sound.created_at)
    )
    return [(sid, fp) for sid, fp in s.execute(stmt) if isinstance(fp, list)]


def attach_sound(s: Session, video: Video, extracted: ExtractedSound | None) -> None:
    """Credit the finished `video` with a sound (inside its publishing transaction); see the module's docstring.

    A video that chose a sound keeps it; a refused one, or one without audio, gets none. The caller deletes the
    extracted audio when no new sound took it (`video.sound_id != extracted.sound_id`).
    """
    if video.sound_id is not None or extracted is None or video.status == "failed":
        return
    if extracted.fingerprint:
        found = best_match(extracted.fingerprint, _match_candidates(s, video.creator_id))
        if found is not None:
            video.sound_id = found
            return
    s.add(
        Sound(
            id=extracted.sound_id,
            region=video.region,
            creator_id=video.creator_id,
            original_video_id=video.id,
            title="original sound",
            audio_key=extracted.audio_key,
            duration_s=extracted.duration_s,
            fingerprint=extracted.fingerprint,
            created_at=time.time(),
        )
    )
    s.flush()
    video.sound_id = extracted.sound_id


def check_usable_sound(s: Session, sound_id: str, user_id: str) -> Sound:
    """The sound `user_id` may make a video with, or NotFound / Forbidden with the reason."""
    sound = s.get(Sound, sound_id)
    state = sound_state(s, sound, user_id) if sound is not None else "hidden"
    if sound is None or state == "hidden":
        raise NotFound("no such sound", code="no_such_sound")
    if state == "unavailable" or sound.audio_key is None:
        raise Forbidden(
            "this sound's original video is no longer available, so the sound cannot be used",
            code="sound_unavailable",
        )
    if not reuse_allowed(s, sound, user_id):
        raise Forbidden("the creator of this sound does not let others use it", code="sound_reuse_off")
    return sound


def do_set_sound_reuse(db: RegionDB, user_id: str, allow: bool, *, audit_secret: str | None = None) -> bool:
    """Let others use (or stop them using) the user's original sounds from now on; returns the new setting.

    A change is a `sound_reuse` safety-log row (the person's Activity) and, with `audit_secret`, an audit entry."""
    with db.transaction() as s:
        row = s.get(SoundPreferences, user_id)
        before = row.allow_reuse if row is not None else True
        if row is None:
            s.add(SoundPreferences(user_id=user_id, allow_reuse=allow, updated_at=time.time()))
        else:
            row.allow_reuse, row.updated_at = allow, time.time()
        if allow != before:
            log_safety(
                s, region=db.region, kind="sound_reuse", actor_id=user_id, subject_id=user_id,
                detail={"allow_reuse": allow}, audit_secret=audit_secret,
            )  # fmt: skip
    return allow


def retire_sounds(s: Session, *, creator_id: str | None = None, video_id: str | None = None) -> list[str]:
    """Drop the audio and fingerprint of the sounds made from a creator's uploads (their account is erased) or from
    one video (deleted by its creator); returns their ids, whose stored audio the caller deletes after commit.

    The rows stay, so the videos that used them keep their credit and the sound page can say the original is gone.
    """
    if (creator_id is None) == (video_id is None):
        raise ValueError("give exactly one of creator_id and video_id")
    made_from = Sound.creator_id == creator_id if creator_id is not None else Sound.original_video_id == video_id
    ids = list(s.scalars(select(Sound.id).where(made_from)))
    if ids:
        s.execute(
            update(Sound)
            .where(Sound.id.in_(ids))
            .values(audio_key=None, fingerprint=None, original_video_id=None, duration_s=None)
        )
    return ids
