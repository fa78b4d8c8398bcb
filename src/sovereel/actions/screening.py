"""Screening a freshly transcoded upload: keep its fingerprint, and hold (or refuse) copies of removed videos.

Called by the media worker inside the transaction that marks the video ready, so a matching copy is never
visible to anyone but its uploader, not even for a moment.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy.orm import Session

from sovereel.actions.moderation import moderate
from sovereel.actions.reports import hold_video
from sovereel.media.frames import FrameError, video_fingerprint
from sovereel.queries.safety import blocked_fingerprints
from sovereel.safety.fingerprint import Fingerprint, best_match
from sovereel.settings import Settings
from sovereel.storage.models import Video, VideoFingerprint

log = logging.getLogger(__name__)
REFUSED_REASON = "This video matches one that was removed for breaking the community guidelines"


def fingerprint_file(path: Path, duration_s: float) -> Fingerprint | None:
    """The file's fingerprint, or None when its frames cannot be read (the upload then goes on unscreened)."""
    started = time.perf_counter()
    try:
        fp = video_fingerprint(path, duration_s)
    except (FrameError, OSError) as exc:
        log.warning("could not fingerprint %s: %s", path.name, exc)
        return None
    log.info("fingerprinted %s: %d frames in %.2fs", path.name, len(fp.full), time.perf_counter() - started)
    return fp


def screen_upload(s: Session, settings: Settings, video: Video, fp: Fingerprint | None) -> str:
    """Store the fingerprint and decide: "ok", "held" (awaits review) or "refused" (the upload fails)."""
    if fp is not None:
        row = s.get(VideoFingerprint, video.id)
        if row is None:
            s.add(
                VideoFingerprint(
                    video_id=video.id,
                    creator_id=video.creator_id,
                    hashes=fp.as_json(),
                    blocked=False,
                    created_at=time.time(),
                )
            )
        else:
            row.hashes = fp.as_json()
        match = best_match(fp.full, blocked_fingerprints(s, video.id))
        if match is not None:
            ref_id, result = match
            detail = f"{result.matched} of {result.compared} sampled frames match removed video {ref_id}"
            if settings.reupload_policy == "refuse":
                video.status = "failed"
                video.failure_reason = REFUSED_REASON
                s.flush()
                moderate(
                    s,
                    region=settings.region,
                    audit_secret=settings.secret_key,
                    moderator_id=None,
                    target_kind="video",
                    target_id=video.id,
                    action="remove",
                    reason=f"Re-upload of removed content ({detail})",
                )
                return "refused"
            hold_video(s, video, reason="reupload_match", detail=detail)
            return "held"
    if settings.hold_new_uploads and video.moderation_state == "ok":
        hold_video(s, video, reason="new_upload_review", detail="every new upload is reviewed before it is shown")
        return "held"
    return "ok"
