"""Writing events into the outbox, in the same transaction as the change they describe.

Topics (payload fields):
- `video.uploaded` {video_id, creator_id}: a new upload awaits transcoding.
- `video.ready` {video_id, creator_id}: renditions verified; the video can be served.
- `video.failed` {video_id, reason}: transcoding gave up; the uploader sees the reason.
- `video.deleted` {video_id}: the video and its media are gone.
- `watch.events` {events: [{seq, user_id, video_id, kind, watched_s, client_ts}]}: accepted watch events.
- `social.like` / `social.unlike` {user_id, video_id}; `social.follow` / `social.unfollow` {user_id, followee_id};
  `social.comment` {user_id, video_id, comment_id}; `social.share` {user_id, video_id}.
- `social.follow_request` {user_id, target_id}: a follow of a private account awaits its holder's approval.
- `safety.block` {user_id, blocked_id, source} / `safety.unblock` {user_id, blocked_id}.
- `video.moderated` {video_id, state, creator_id}: a moderation decision changed what a video may be shown in
  (the feed snapshot and the learner's catalogue follow it); for an account's suspension or its lifting, one
  event covers all its videos: video_id null, state `creator_suspended` / `creator_restored`.
  `moderation.held` {video_id, reason}: held for review.
- `moderation.reported` {report_id, target_kind, target_id}; `moderation.action` {action_id, action, target_kind,
  target_id}; `moderation.appealed` {appeal_id, action_id}.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from sovereel.storage.models import OutboxMessage


def emit(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event; it leaves only after the surrounding transaction commits."""
    session.add(OutboxMessage(topic=topic, payload=payload, created_at=time.time()))
