"""Sign-up, sign-in, sign-out and profile edits."""

from __future__ import annotations

import time
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from sovereel.errors import Conflict, Invalid, Unauthorized
from sovereel.governance.regions import new_session_token
from sovereel.ids import new_user_id
from sovereel.queries.accounts import token_digest
from sovereel.queries.safety import today_utc
from sovereel.safety.rules import check_birth_date, is_protected_teen
from sovereel.storage.db import RegionDB
from sovereel.storage.models import AuthSession, User
from sovereel.textnorm import clean_text, has_visible_text
from sovereel.usernames import is_username, username_skeleton

RESERVED = frozenset({"api", "admin", "login", "logout", "signup", "upload", "search", "tag", "static", "docs", "me"})
_RESERVED_SKELETONS = frozenset(username_skeleton(name) for name in RESERVED)  # "adm1n" is "admin" too
_hasher = PasswordHasher()


def check_username(username: str) -> str:
    """Return the username if it is acceptable, else raise Invalid."""
    if not is_username(username) or username_skeleton(username) in _RESERVED_SKELETONS:
        raise Invalid("username must be 2-30 letters, digits, '_' or '.', not starting with '.'", code="bad_username")
    return username


def check_password(password: str) -> str:
    if not 8 <= len(password) <= 256:
        raise Invalid("password must be 8 to 256 characters", code="bad_password")
    return password


def do_signup(
    db: RegionDB,
    username: str,
    password: str,
    display_name: str = "",
    role: str = "user",
    *,
    birth_date: date | None = None,
) -> User:
    """Create an account in this region; usernames are unique case-insensitively.

    Under 13 is refused before anything is stored; a 13-15-year-old's account starts private. Without a birth
    date (internal accounts; the API always asks) the person counts as under 18 for age-restricted videos.
    """
    check_username(username)
    check_password(password)
    today = today_utc()
    if birth_date is not None:
        check_birth_date(birth_date, today)
    now = time.time()
    user = User(
        id=new_user_id(db.region, now),
        region=db.region,
        username=username,
        username_key=username.lower(),
        skeleton=username_skeleton(username),
        display_name=_display_name(display_name, username),
        bio="",
        password_hash=_hasher.hash(password),
        role=role,
        created_at=now,
        birth_date=birth_date,
        is_private=is_protected_teen(birth_date, today),
        comment_policy="everyone",
    )
    with db.transaction() as s:
        # The lookalike check shares the insert's transaction, and comes after the insert: the key is unique in
        # the schema, the skeleton cannot be (older accounts may share one). Writing first takes SQLite's write
        # lock, so racing sign-ups queue and each sees the ones before it; PostgreSQL queues them on a lock.
        if db.dialect == "postgresql":
            s.execute(select(func.pg_advisory_xact_lock(func.hashtext(user.skeleton))))
        if s.scalar(select(User.id).where(User.username_key == username.lower())):
            raise Conflict("that username is taken", code="username_taken")
        s.add(user)
        try:
            s.flush()
        except IntegrityError as exc:  # the same name, signed up at the same moment
            raise Conflict("that username is taken", code="username_taken") from exc
        if s.scalar(select(User.id).where(User.skeleton == user.skeleton, User.id != user.id).limit(1)):
            raise Conflict(  # leaving the transaction rolls the insert back
                "that username looks too much like an existing one; pick another", code="username_too_similar"
            )
    return user


def _display_name(display_name: str, username: str) -> str:
    """The cleaned display name, or the username when nothing visible is left."""
    shown = clean_text(display_name)[:64]
    return shown if has_visible_text(shown) else username


def do_login(db: RegionDB, secret: str, username: str, password: str, session_days: int) -> tuple[User, str]:
    """Check a password and open a session; returns the user and the bearer/cookie token."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.username_key == username.lower()))
    if user is None:
        _hasher.hash(password)  # spend the same time as a real check, so usernames cannot be probed by timing
        raise Unauthorized("wrong username or password", code="bad_credentials")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise Unauthorized("wrong username or password", code="bad_credentials") from exc
    token = new_session_token(db.region)  # names its region, so another region can refuse it outright
    now = time.time()
    with db.transaction() as s:
        if _hasher.check_needs_rehash(user.password_hash):
            db_user = s.get(User, user.id)
            if db_user:
                db_user.password_hash = _hasher.hash(password)
        s.add(
            AuthSession(
                token_digest=token_digest(token, secret),
                user_id=user.id,
                created_at=now,
                expires_at=now + session_days * 86400,
            )
        )
    return user, token


def do_logout(db: RegionDB, secret: str, token: str) -> None:
    with db.transaction() as s:
        s.execute(delete(AuthSession).where(AuthSession.token_digest == token_digest(token, secret)))


def do_update_profile(
    db: RegionDB,
    user_id: str,
    *,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_key: str | None = None,
) -> User:
    """Change a user's display name, bio or avatar."""
    if display_name is not None:
        display_name = clean_text(display_name)
        if not has_visible_text(display_name) or len(display_name) > 64:
            raise Invalid("display name must be 1 to 64 characters", code="bad_display_name")
    if bio is not None:
        bio = clean_text(bio, multiline=True)
    if bio is not None and len(bio) > 280:
        raise Invalid("bio must be at most 280 characters", code="bad_bio")
    with db.transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise Unauthorized("no such user")
        if display_name is not None:
            user.display_name = display_name
        if bio is not None:
            user.bio = bio
        if avatar_key is not None:
            user.avatar_key = avatar_key
        return user
