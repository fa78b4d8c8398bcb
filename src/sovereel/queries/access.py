"""Who may see an account and its content: one rule, used by every path that exposes either.

The rule, for a viewer and an account (the owner):

- The owner always sees everything of their own.
- A block hides both ways: the blocked one gets "no such account"; the blocker sees only a "blocked" state.
- A 13-15-year-old's account (a protected teen) is seen only by its approved followers, even when public.
- A private account's header is seen by others, its videos only by approved followers.
- A suspended account's videos and comments are seen by no one else (moderators review them in the queue).
- A video is seen by others only when ready, in a servable moderation state, within its visibility (public, or
  followers-only and followed) and, when age-restricted, by a signed-in viewer known to be 18 or over.

Another region (the content exchange) is an anonymous viewer who follows no one, so it is offered no protected
teen's and no private account's content. The rule has a Python form for one object (`relation`, `account_access`,
`video_refusal`) and a SQL form for lists (`visible_accounts_sql`, `visible_videos_sql`); both read the same
facts, and tests/security/test_account_visibility.py checks that they agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, false, or_, select, true, union
from sqlalchemy.orm import Session

from sovereel.errors import Forbidden, NotFound
from sovereel.queries.safety import (
    block_relations_sql,
    blocked_between,
    private_users_sql,
    protected_teens_sql,
    suspended_users_sql,
    today_utc,
    viewer_is_adult,
    viewer_is_adult_sql,
)
from sovereel.safety.rules import is_protected_teen
from sovereel.storage.models import Block, Follow, Sound, SoundPreferences, User, Video

# Moderation states others may see a video in (held and removed videos are shown to their creator only).
SERVABLE_STATES = ("ok", "not_for_you")
# What `account_access` answers: own | full | private (header only) | blocked_by_me (a "blocked" state) | hidden.
SHOWS_ACCOUNT = frozenset({"own", "full", "private"})
SHOWS_CONTENT = frozenset({"own", "full"})


@dataclass(frozen=True)
class Relation:
    """The facts the rule reads about one viewer and one account."""

    is_self: bool = False
    signed_in: bool = False
    follows: bool = False  # an approved follower (a pending request is not one)
    blocked_by_owner: bool = False
    blocks_owner: bool = False
    owner_private: bool = False
    owner_protected_teen: bool = False
    owner_suspended: bool = False
    viewer_adult: bool = False  # signed in with a birth date that makes them 18 or over


def account_access(r: Relation) -> str:
    """own | blocked_by_me | hidden (answered as if the account did not exist) | private (header only) | full."""
    if r.is_self:
        return "own"
    if r.blocks_owner:
        return "blocked_by_me"
    if r.blocked_by_owner:
        return "hidden"
    if r.owner_protected_teen and not r.follows:
        return "hidden"
    if r.owner_private and not r.follows:
        return "private"
    return "full"


def may_see_account(r: Relation) -> bool:
    """The viewer may see the account's handle, name, avatar and bio (and find it in search)."""
    return account_access(r) in SHOWS_ACCOUNT


def may_see_content(r: Relation) -> bool:
    """The viewer may see the account's videos (each still subject to `video_refusal`)."""
    return account_access(r) in SHOWS_CONTENT and (r.is_self or not r.owner_suspended)


def video_refusal(r: Relation, video: Video) -> str | None:
    """None when the viewer may see the video; else `not_found` or `age_restricted` (why, for the 404)."""
    if r.is_self:
        return None
    if video.status != "ready" or video.moderation_state not in SERVABLE_STATES or not may_see_content(r):
        return "not_found"
    if video.visibility == "followers" and not r.follows:
        return "not_found"
    if video.visibility not in ("public", "followers"):
        return "not_found"
    if video.age_restricted and not r.viewer_adult:
        return "age_restricted"
    return None


def relation(s: Session, viewer_id: str | None, owner: User, today: date | None = None) -> Relation:
    """Read the facts for `relation`'s rule (a few indexed look-ups)."""
    return relations(s, viewer_id, [owner], today)[owner.id]


def relations(
    s: Session, viewer_id: str | None, owners: Iterable[User], today: date | None = None
) -> dict[str, Relation]:
    """`relation` for several accounts at once, by owner id: one read each of follows, blocks and the viewer's age
    (an event batch or a list checks all its owners in the same few statements as one)."""
    day = today or today_utc()
    by_id = {owner.id: owner for owner in owners}
    follows: set[str] = set()
    blocked_by: set[str] = set()  # owners who blocked the viewer
    blocking: set[str] = set()  # owners the viewer blocked
    adult = False
    if viewer_id is not None and by_id:
        ids = sorted(by_id)
        follows = set(
            s.scalars(select(Follow.followee_id).where(Follow.follower_id == viewer_id, Follow.followee_id.in_(ids)))
        )
        rows = s.execute(
            select(Block.blocker_id, Block.blocked_id).where(
                or_(
                    and_(Block.blocker_id.in_(ids), Block.blocked_id == viewer_id),
                    and_(Block.blocker_id == viewer_id, Block.blocked_id.in_(ids)),
                )
            )
        )
        for blocker, blocked in rows:
            if blocked == viewer_id:
                blocked_by.add(blocker)
            if blocker == viewer_id:
                blocking.add(blocked)
        adult = viewer_is_adult(s, viewer_id, day)
    return {
        oid: Relation(
            is_self=viewer_id == oid,
            signed_in=viewer_id is not None,
            follows=oid in follows,
            blocked_by_owner=oid in blocked_by,
            blocks_owner=oid in blocking,
            owner_private=owner.is_private,
            owner_protected_teen=is_protected_teen(owner.birth_date, day),
            owner_suspended=owner.suspended_at is not None,
            viewer_adult=adult,
        )
        for oid, owner in by_id.items()
    }


def viewable_video(s: Session, video_id: str, viewer_id: str | None) -> Video:
    """The video if the viewer may see it, else NotFound (code `age_restricted` when only age stands in the way)."""
    video = s.get(Video, video_id)
    owner = s.get(User, video.creator_id) if video is not None else None
    if video is None or owner is None:
        raise NotFound("no such video")
    refusal = video_refusal(relation(s, viewer_id, owner), video)
    if refusal == "age_restricted":
        raise NotFound(
            "this video is age-restricted: it is shown only to signed-in viewers aged 18 or over", code="age_restricted"
        )
    if refusal is not None:
        raise NotFound("no such video")
    return video


VIDEO_ID_CHARS = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""What a video id can look like (checked whole, with fullmatch); anything else names no video."""


def own_video(s: Session, video_id: str, viewer_id: str) -> Video:
    """The video if the viewer is its creator, else NotFound: a video's analytics are its creator's alone, and
    everyone else (other signed-in users included) is told the same as for a video that does not exist."""
    if not VIDEO_ID_CHARS.fullmatch(video_id):  # e.g. a NUL byte, which PostgreSQL refuses with an error
        raise NotFound("no such video")
    video = s.get(Video, video_id)
    if video is None or video.creator_id != viewer_id:
        raise NotFound("no such video")
    return video


def sound_state(s: Session, sound: Sound, viewer_id: str | None) -> str:
    """available | unavailable | hidden: what the viewer may do with a sound.

    A sound follows its original video: hidden (404) from whoever may not see that video (private, followers-only,
    blocked, age-restricted); unavailable (shown with its other videos, but no longer usable) once the original is
    deleted, removed or held by moderation, or its creator is suspended or erased. A removed video's audio must not
    keep spreading through new videos, and an erased account's audio is gone (`actions.rights`).
    """
    original = s.get(Video, sound.original_video_id) if sound.original_video_id else None
    owner = s.get(User, sound.creator_id) if sound.creator_id else None
    if original is None or owner is None or sound.audio_key is None:
        return "unavailable"
    if original.moderation_state not in SERVABLE_STATES or original.status != "ready" or owner.suspended_at:
        return "unavailable"
    return "available" if video_refusal(relation(s, viewer_id, owner), original) is None else "hidden"


def reuse_allowed(s: Session, sound: Sound, user_id: str) -> bool:
    """Whether `user_id` may make a video with the sound: its creator always; others unless the creator opted out."""
    if sound.creator_id is None or sound.creator_id == user_id:
        return True
    return allows_sound_reuse(s, sound.creator_id)


def allows_sound_reuse(s: Session, creator_id: str) -> bool:
    """The creator's setting: others may use their original sounds unless they turned it off."""
    prefs = s.get(SoundPreferences, creator_id)
    return prefs is None or prefs.allow_reuse


def visible_user(s: Session, username: str, viewer_id: str | None) -> tuple[User, str]:
    """The account and the viewer's `account_access` to it; NotFound when it does not exist or is hidden."""
    user = s.scalar(select(User).where(User.username_key == username.lower()))
    if user is None:
        raise NotFound("no such user")
    access = account_access(relation(s, viewer_id, user))
    if access == "hidden":
        raise NotFound("no such user")
    return user, access


# The SQL form: conditions over a column holding the owner's id, for list queries.


def _follows_sql(viewer_id: str) -> Any:
    return select(Follow.followee_id).where(Follow.follower_id == viewer_id)


def visible_accounts_sql(owner_id: Any, viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition: `may_see_account` for the account whose id is in `owner_id` (blocks hide both ways)."""
    teens = protected_teens_sql(today or today_utc())
    if viewer_id is None:
        return ~owner_id.in_(teens)
    others = and_(
        ~owner_id.in_(block_relations_sql(viewer_id)), or_(~owner_id.in_(teens), owner_id.in_(_follows_sql(viewer_id)))
    )
    return or_(owner_id == viewer_id, others)


def visible_content_sql(owner_id: Any, viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition: `may_see_content` for the account whose id is in `owner_id`."""
    gated = union(private_users_sql(), protected_teens_sql(today or today_utc()))  # followers only
    if viewer_id is None:
        return and_(~owner_id.in_(gated), ~owner_id.in_(suspended_users_sql()))
    others = and_(
        ~owner_id.in_(block_relations_sql(viewer_id)),
        or_(~owner_id.in_(gated), owner_id.in_(_follows_sql(viewer_id))),
        ~owner_id.in_(suspended_users_sql()),
    )
    return or_(owner_id == viewer_id, others)


def visible_videos_sql(viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition on Video: `video_refusal` is None (others' videos under the rule, and always one's own)."""
    day = today or today_utc()
    follows = _follows_sql(viewer_id) if viewer_id is not None else None
    audience = Video.visibility == "public"
    if follows is not None:
        audience = or_(audience, and_(Video.visibility == "followers", Video.creator_id.in_(follows)))
    adult = viewer_is_adult_sql(viewer_id, day) if viewer_id is not None else false()
    others = and_(
        Video.status == "ready",
        Video.moderation_state.in_(SERVABLE_STATES),
        visible_content_sql(Video.creator_id, viewer_id, day),
        audience,
        or_(Video.age_restricted.is_(False), adult),
    )
    return or_(others, Video.creator_id == viewer_id) if viewer_id is not None else and_(true(), others)


def visible_commenters_sql(owner_id: Any, viewer_id: str | None, today: date | None = None) -> Any:
    """SQL condition: `may_see_comments_by` for the account whose id is in `owner_id`."""
    shown = and_(visible_accounts_sql(owner_id, viewer_id, today), ~owner_id.in_(suspended_users_sql()))
    return or_(owner_id == viewer_id, shown) if viewer_id is not None else shown


def follow_needs_approval(owner: User, today: date | None = None) -> bool:
    """A follow of this account is a request its holder approves: private accounts and 13-15-year-olds' (a
    follow is what lets someone see them, so a stranger may not grant it to themselves)."""
    return owner.is_private or is_protected_teen(owner.birth_date, today or today_utc())


def ensure_not_blocked(s: Session, user_id: str, other_id: str, doing: str) -> None:
    """Refuse (403) an interaction between two users when either blocked the other."""
    if user_id == other_id or not blocked_between(s, user_id, other_id):
        return
    if s.get(Block, (user_id, other_id)) is not None:
        raise Forbidden(f"you blocked this account: unblock it before you {doing}", code="blocked")
    raise Forbidden(f"you cannot {doing}: this account is not available to you", code="blocked")


MODERATOR_ROLES = frozenset({"moderator", "admin"})


def is_moderator(user: User) -> bool:
    """Whether the account holds a moderating role."""
    return user.role in MODERATOR_ROLES


def require_moderator(user: User) -> None:
    """403 unless the user is a moderator."""
    if not is_moderator(user):
        raise Forbidden("only moderators can do this", code="not_moderator")


def ensure_active(user: User) -> None:
    """403 for a suspended account (it may still sign in, read its notices and appeal)."""
    if user.suspended_at is not None:
        raise Forbidden("your account is suspended; see your notices to appeal", code="account_suspended")


def unseen_videos(s: Session, video_ids: set[str], user_id: str) -> list[str]:
    """The ids the viewer may not see, whether no such video exists or it is hidden from them (sorted).

    Both are one answer, so an event batch cannot tell a hidden video from a made-up id. The batch's videos and
    owners are read in one statement and their relations in `relations`' few; each video is then judged by
    `video_refusal`, the rule `viewable_video` applies to one (any refusal, age included, refuses alike)."""
    ids = sorted(video_ids)
    rows = s.execute(select(Video, User).join(User, User.id == Video.creator_id).where(Video.id.in_(ids))).all()
    rel = relations(s, user_id, {owner.id: owner for _, owner in rows}.values())
    seen = {video.id for video, owner in rows if video_refusal(rel[owner.id], video) is None}
    return [vid for vid in ids if vid not in seen]
