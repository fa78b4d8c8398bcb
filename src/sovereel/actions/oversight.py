"""Granting the overseer role: a new read-only account, or an existing one promoted (with its audit entry)."""

from __future__ import annotations

from sqlalchemy import select

from sovereel.actions.accounts import do_signup
from sovereel.errors import Conflict, Invalid
from sovereel.governance.audit import append_audit, pseudonym
from sovereel.governance.overseer import OVERSEER
from sovereel.storage.db import RegionDB
from sovereel.storage.models import User


def do_make_overseer(db: RegionDB, secret: str, username: str, password: str | None) -> tuple[User, bool]:
    """Create `username` as an overseer (a password is then required) or promote the existing account.

    Returns the account and whether it was created. The grant is written to the audit log (subject by
    pseudonym), in the same transaction as the role change.
    """
    with db.session() as s:
        existing = s.scalar(select(User).where(User.username_key == username.lower()))
    created = False
    if existing is None:
        if not password:
            raise Invalid("a new overseer account needs a password", code="bad_password")
        existing = do_signup(db, username, password, role="user")
        created = True
    with db.transaction() as s:
        user = s.get(User, existing.id)
        if user is None:  # deleted between the two steps
            raise Conflict(f"the account {username} disappeared", code="user_gone")
        before = user.role
        if before not in ("user", OVERSEER):
            # A moderator is not silently turned into a read-only account: that would drop their duties.
            raise Conflict(f"{username} has the role {before!r}; make it a user first", code="role_conflict")
        user.role = OVERSEER
        if before != OVERSEER:
            append_audit(
                s,
                region=user.region,
                kind="access.overseer_granted",
                actor_id=None,
                subject=f"user:{pseudonym(secret, user.id)}",
                detail={"from": before, "to": OVERSEER, "created": created},
            )
        s.flush()
        s.expunge(user)
    return user, created
