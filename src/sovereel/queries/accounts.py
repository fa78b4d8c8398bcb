"""Reading accounts: who a session token belongs to, and finding a user by name or id."""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sovereel.errors import NotFound
from sovereel.storage.db import RegionDB
from sovereel.storage.models import AuthSession, User


def token_digest(token: str, secret: str) -> str:
    """What we store for a session token: an HMAC, so a database leak yields no usable tokens."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def user_for_token(db: RegionDB, secret: str, token: str) -> User | None:
    """The signed-in user for a session token, or None if unknown or expired."""
    with db.session() as s:
        row = s.get(AuthSession, token_digest(token, secret))
        if row is None or row.expires_at < time.time():
            return None
        return s.get(User, row.user_id)


def user_by_name(s: Session, username: str) -> User:
    """The user called `username` (case-insensitive), else NotFound."""
    user = s.scalar(select(User).where(User.username_key == username.lower()))
    if user is None:
        raise NotFound("no such user")
    return user


def user_by_name_or_id(s: Session, who: str) -> User | None:
    """The user whose username (case-insensitive) or id is `who`, or None."""
    return s.scalar(select(User).where(or_(User.username_key == who.lower(), User.id == who)))


def user_origin_region(db: RegionDB, who: str) -> tuple[bool, str | None]:
    """Whether a user with this username or id is stored here, and its origin region (None for this region's own)."""
    with db.session() as s:
        row = s.execute(select(User.origin_region).where(or_(User.username_key == who.lower(), User.id == who))).first()
    return (False, None) if row is None else (True, row[0])
