"""Recording trust-and-safety actions: a `safety_log` row, and (given the region's secret) an audit-log entry
`account.<kind>` whose subject and `by` are pseudonyms, never raw user ids, and which carries no comment text.

Kinds (detail fields):
- `block` / `unblock` {source, removed_follows}: actor blocked / unblocked subject.
- `privacy` {is_private, approved_requests}, `comment_policy` {policy, video_id?}, `comment_filters` {count}:
  actor's own settings (the filter keywords themselves are never logged).
- `comment_removed` {video_id, comment_id, excerpt}: the video's creator (actor) deleted subject's comment.
- `follow_request` / `follow_approved` / `follow_declined` {}: between actor and subject.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from sovereel.storage.models import SafetyLogEntry


def _audit_functions() -> tuple[Callable[..., Any], Callable[[str, str], str]] | None:
    """`append_audit` and `pseudonym` from `sovereel.governance.audit`, when that module is part of this build."""
    try:
        module = importlib.import_module("sovereel.governance.audit")
    except ImportError:
        return None
    append, pseudonym = getattr(module, "append_audit", None), getattr(module, "pseudonym", None)
    return (append, pseudonym) if callable(append) and callable(pseudonym) else None


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
    audit = _audit_functions() if audit_secret is not None else None
    if audit is not None and audit_secret is not None:
        append, pseudonym = audit

        def who(uid: str | None) -> str:
            return f"user:{pseudonym(audit_secret, uid)}" if uid else ""

        public = {k: v for k, v in detail.items() if k != "excerpt"}  # no comment text in an append-only log
        s.flush()  # the audit append is the action's last write: it holds the log's head row to commit
        append(s, region=region, kind=f"account.{kind}", actor_id=None, subject=who(subject_id),
               detail={"by": who(actor_id), **public})  # fmt: skip
    return entry
