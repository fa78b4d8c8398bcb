"""Recording trust-and-safety actions: a `safety_log` row, and (given the region's secret) an audit-log entry
`account.<kind>` whose subject and `by` are pseudonyms, never raw user ids, and which carries no comment text.

Kinds (detail fields):
- `block` / `unblock` {source, removed_follows}: actor blocked / unblocked subject.
- `privacy` {is_private, approved_requests}, `comment_policy` {policy, video_id?}, `comment_filters` {count}:
  actor's own settings (the filter keywords themselves are never logged); `sound_reuse` {allow_reuse}: whether
  others may make videos with actor's original sounds.
- `comment_removed` {video_id, comment_id, excerpt}: the video's creator (actor) deleted subject's comment.
- `follow_request` / `follow_approved` / `follow_declined` {}: between actor and subject.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from sovereel.governance.audit import append_audit, pseudonym
from sovereel.storage.models import SafetyLogEntry


def log_safety(
    s: Session,
    *,
    region: str,
    kind: str,
    actor_id: str | None,
    subject_id: str | None,
    detail: dict[str, Any],
    audit_secret: str | None = None,
) -> SafetyLogEntry:
    """Write the log row (and, with `audit_secret`, the audit entry) in the caller's transaction."""
    entry = SafetyLogEntry(
        region=region, kind=kind, actor_id=actor_id, subject_id=subject_id, detail=detail, created_at=time.time()
    )
    s.add(entry)
    if audit_secret is not None:

        def who(uid: str | None) -> str:
            return f"user:{pseudonym(audit_secret, uid)}" if uid else ""

        public = {k: v for k, v in detail.items() if k != "excerpt"}  # no comment text in an append-only log
        s.flush()  # the audit append is the action's last write: it holds the log's head row to commit
        append_audit(s, region=region, kind=f"account.{kind}", actor_id=None, subject=who(subject_id),
               detail={"by": who(actor_id), **public})  # fmt: skip
    return entry
