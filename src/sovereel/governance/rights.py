"""User data rights: what "Download my data" contains, signed expiring links, and erasure bookkeeping.

The export's files and fields are documented in docs/data-export.md; `EXPORT_SCHEMA_VERSION` changes when
they do. Reading is done here (plain query functions over one region's store); writing is in
`sovereel.actions.rights`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sovereel.events.kinds import POSITIVE_HISTORY_KINDS
from sovereel.governance.model_registry import ModelRegistry
from sovereel.storage.db import RegionDB
from sovereel.storage.models import (
    AuthSession,
    Comment,
    CreatorDaily,
    DataExport,
    Erasure,
    Event,
    FeedImpression,
    FeedPreferences,
    Follow,
    Like,
    Notification,
    NotificationSettings,
    NotInterested,
    Share,
    Sound,
    SoundPreferences,
    User,
    Video,
    VideoHashtag,
    VideoStats,
    Watch,
)

EXPORT_SCHEMA_VERSION = 1
PROFILE_HIDDEN = frozenset({"password_hash", "username_key", "avatar_key", "origin_region"})

HOW_FOR_YOU_WORKS = [
    "For You is chosen in two steps. First, candidate videos are gathered from several sources: videos whose "
    "learned vectors are close to yours (embedding retrieval), creators you follow, videos trending in your "
    "region, new videos being shown to a first audience, videos often watched together with ones you engaged "
    "with, and videos whose captions and hashtags resemble them.",
    "Then videos you have watched, marked Not interested, or that match your keyword filters are removed, and "
    "a ranking model predicts how likely you are to watch each one to the end, watch it for longer than most "
    "videos of its length, like, share, comment on it, and follow its creator. It learned those chances from "
    "what viewers in your region did with the videos they were shown, the ones they swiped away included, and "
    "it weighs what you swiped away: videos with hashtags or creators you keep skipping score lower. The "
    "published weights in the parameter set combine those predictions into one score.",
    "The model learns from what you do: every watch, completion, skip, like, share and comment updates your "
    "interest vector within seconds and is kept in your region's event log, from which new model versions "
    "are trained. Only your region's data trains your region's model.",
    "If you switch personalisation off, For You ignores your activity and shows what is popular in your "
    "region. 'Refresh For You' makes the model forget your history up to that moment. Deleting your account "
    "erases your events, and the next model version is trained without them.",
]


def sign_link(secret: str, export_id: str, user_id: str, expires: int) -> str:
    """The signature of a download link: an HMAC over the export, its owner and the expiry time."""
    msg = f"export:{export_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def link_is_signed(secret: str, export_id: str, user_id: str, expires: int, sig: str) -> bool:
    """True when `sig` is the link signature for this export, owner and expiry (constant-time compare)."""
    return hmac.compare_digest(sign_link(secret, export_id, user_id, expires), sig)


def erasure_hash(region: str, user_id: str) -> str:
    """The pseudonymous name of an erased account kept in `erasures` (the account's id itself is gone)."""
    return hashlib.sha256(f"erasure:{region}:{user_id}".encode()).hexdigest()


def models_trained_on(region_dir: Path, region: str, events_from: float | None, events_to: float | None) -> list[str]:
    """Model versions whose manifest's training data range overlaps [events_from, events_to]."""
    if events_from is None or events_to is None:
        return []
    out = []
    for version, manifest in ModelRegistry(region_dir).manifests():
        lo, hi = manifest.get("data_from"), manifest.get("data_to")
        if manifest.get("region", region) != region or lo is None or hi is None:
            continue
        if float(lo) <= events_to and float(hi) >= events_from:
            out.append(version)
    return out


def consult_erasures(db: RegionDB, user_ids: Iterable[str]) -> tuple[set[str], int]:
    """For the trainer: which of `user_ids` belong to erased accounts, and how many erasures there are."""
    with db.session() as s:
        erased = set(s.scalars(select(Erasure.subject_hash)))
    return {u for u in set(user_ids) if erasure_hash(db.region, u) in erased}, len(erased)


def describe_interests(
    engaged: Sequence[tuple[str, Sequence[str], str]],
    *,
    personalised: bool,
    has_vector: bool,
    model_version: str,
    not_interested: Sequence[tuple[str, str]] = (),
    keyword_filters: Sequence[str] = (),
) -> dict[str, Any]:
    """The learned interest profile in plain words, from (action kind, video hashtags, creator handle) triples."""
    tags: Counter[str] = Counter()
    creators: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for kind, hashtags, creator in engaged:
        kinds[kind] += 1
        for tag in hashtags:
            tags[tag] += 1
        if creator:
            creators[creator] += 1
    top_tags = [t for t, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    top_creators = [c for c, _ in sorted(creators.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    words: list[str] = []
    if not personalised:
        words.append("Personalisation is off: For You does not use anything below to choose your videos.")
    if top_tags:
        words.append("You mostly engage with videos tagged " + ", ".join(f"#{t}" for t in top_tags[:5]) + ".")
    if top_creators:
        words.append(
            "The creators whose videos you engage with most: " + ", ".join(f"@{c}" for c in top_creators[:5]) + "."
        )
    if kinds:
        parts = [f"{n} {k}" for k, n in sorted(kinds.items())]
        words.append("Actions the model learned from: " + ", ".join(parts) + ".")
    else:
        words.append("The model has not learned anything about you yet.")
    if has_vector:
        words.append(
            f"Model version {model_version} holds an interest vector for you: a list of numbers, learned from "
            "the actions above, that places you near videos like the ones you engaged with."
        )
    else:
        words.append(f"Model version {model_version} holds no interest vector for you.")
    for kind, value in not_interested:
        words.append(f"You marked {kind} {value} as not interesting; For You leaves it out.")
    if keyword_filters:
        words.append("Your keyword filters hide videos mentioning: " + ", ".join(keyword_filters) + ".")
    return {
        "summary": words,
        "top_hashtags": top_tags,
        "top_creators": top_creators,
        "actions_learned_from": dict(sorted(kinds.items())),
        "model_version": model_version,
        "model_has_interest_vector": has_vector,
        "personalised": personalised,
    }


def _rows(rows: Iterable[Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    return [{f: getattr(r, f) for f in fields} for r in rows]


def _notifications(s: Session, user_id: str) -> dict[str, Any]:
    """The inbox: every notification the account received (who from, by handle) and the kinds it turned off."""
    rows = list(s.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)))
    actor_ids = {r.actor_id for r in rows if r.actor_id}
    names = dict(s.execute(select(User.id, User.username).where(User.id.in_(actor_ids))).all())
    prefs = s.get(NotificationSettings, user_id)
    received = [
        {**{f: getattr(r, f) for f in _NOTIFICATION_FIELDS}, "from": names.get(r.actor_id) if r.actor_id else None}
        for r in rows
    ]
    return {"received": received, "turned_off": list(prefs.muted) if prefs is not None else []}


_NOTIFICATION_FIELDS = ("id", "kind", "video_id", "comment_id", "notice_id", "created_at", "read_at")


def collect_user_data(s: Session, user_id: str) -> dict[str, Any]:
    """Everything the region's store holds about one user, as JSON-ready sections (one file each)."""
    user = s.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    # Every column of the account (new ones included), less secrets and internal keys.
    profile = {c.key: getattr(user, c.key) for c in User.__table__.columns if c.key not in PROFILE_HIDDEN}
    profile["has_avatar"] = bool(user.avatar_key)
    videos = list(s.scalars(select(Video).where(Video.creator_id == user_id).order_by(Video.created_at)))
    tags: dict[str, list[str]] = {}
    for vid, tag in s.execute(
        select(VideoHashtag.video_id, VideoHashtag.tag).where(VideoHashtag.video_id.in_([v.id for v in videos]))
    ):
        tags.setdefault(vid, []).append(tag)
    video_fields = (
        "id", "caption", "visibility", "status", "duration_s", "width", "height", "like_count",
        "comment_count", "share_count", "view_count", "created_at", "ready_at", "original_name", "sound_id",
    )  # fmt: skip
    video_rows = [{**{f: getattr(v, f) for f in video_fields}, "hashtags": sorted(tags.get(v.id, []))} for v in videos]
    follows = s.scalars(select(Follow).where(or_(Follow.follower_id == user_id, Follow.followee_id == user_id)))
    names = dict(s.execute(select(User.id, User.username)).all())
    follow_rows = {"following": [], "followers": []}  # type: dict[str, list[dict[str, Any]]]
    for f in follows:
        if f.follower_id == user_id:
            follow_rows["following"].append({"username": names.get(f.followee_id), "since": f.created_at})
        else:
            follow_rows["followers"].append({"username": names.get(f.follower_id), "since": f.created_at})
    prefs = s.get(FeedPreferences, user_id)
    sound_prefs = s.get(SoundPreferences, user_id)
    sessions = s.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
    return {
        "profile": profile,
        "videos": video_rows,
        "likes": _rows(
            s.scalars(select(Like).where(Like.user_id == user_id).order_by(Like.created_at)), ("video_id", "created_at")
        ),
        "comments": _rows(
            s.scalars(select(Comment).where(Comment.user_id == user_id).order_by(Comment.created_at)),
            ("id", "video_id", "parent_id", "body", "created_at"),
        ),
        "follows": follow_rows,
        "shares": _rows(
            s.scalars(select(Share).where(Share.user_id == user_id)), ("video_id", "channel", "created_at")
        ),
        "watch_history": _rows(
            s.scalars(select(Watch).where(Watch.user_id == user_id).order_by(Watch.last_at)),
            ("video_id", "watched_s", "completed", "last_at"),
        ),
        "events": _rows(
            s.scalars(select(Event).where(Event.user_id == user_id).order_by(Event.seq)),
            ("seq", "kind", "video_id", "client_ts", "received_at", "watched_s", "position_s", "request_id", "source"),
        ),
        "feed_impressions": _rows(
            s.scalars(select(FeedImpression).where(FeedImpression.user_id == user_id).order_by(FeedImpression.id)),
            ("request_id", "video_id", "position", "reason", "served_at"),
        ),
        "feed_preferences": {
            "personalised": prefs.personalised if prefs else True,
            "keyword_filters": list(prefs.keyword_filters) if prefs else [],
            "profile_reset_at": prefs.profile_reset_at if prefs else None,
            "not_interested": _rows(
                s.scalars(select(NotInterested).where(NotInterested.user_id == user_id)),
                ("kind", "value", "created_at"),
            ),
        },
        "sessions": _rows(sessions, ("created_at", "expires_at")),
        "notifications": _notifications(s, user_id),
        "data_exports": _rows(
            s.scalars(select(DataExport).where(DataExport.user_id == user_id)),
            ("id", "state", "created_at", "finished_at"),
        ),
        # Your audience's figures (counts only: the aggregates name no viewer).
        "analytics": {
            "videos": _rows(
                s.scalars(select(VideoStats).where(VideoStats.creator_id == user_id).order_by(VideoStats.video_id)),
                ("video_id", "views", "viewers", "completed", "watch_s", "new_followers", "updated_at"),
            ),
            "followers_by_day": _rows(
                s.scalars(select(CreatorDaily).where(CreatorDaily.creator_id == user_id).order_by(CreatorDaily.day)),
                ("day", "gained", "lost"),
            ),
        },
        # The sounds made from your uploads' audio, and whether others may use them.
        "sounds": {
            "original_sounds": _rows(
                s.scalars(select(Sound).where(Sound.creator_id == user_id).order_by(Sound.created_at)),
                ("id", "title", "original_video_id", "duration_s", "created_at"),
            ),
            "allow_reuse": (sound_prefs.allow_reuse if sound_prefs else True),
        },
    }


def engaged_triples(s: Session, data: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    """(kind, hashtags, creator handle) for the user's positive actions, for `describe_interests`."""
    actions = [(e["kind"], e["video_id"]) for e in data["events"] if e["kind"] in POSITIVE_HISTORY_KINDS]
    actions += [("like", r["video_id"]) for r in data["likes"]]
    actions += [("comment", r["video_id"]) for r in data["comments"]]
    actions += [("share", r["video_id"]) for r in data["shares"]]
    ids = {vid for _, vid in actions}
    tags: dict[str, list[str]] = {}
    for vid, tag in s.execute(select(VideoHashtag.video_id, VideoHashtag.tag).where(VideoHashtag.video_id.in_(ids))):
        tags.setdefault(vid, []).append(tag)
    creators = dict(
        s.execute(
            select(Video.id, User.username).join(User, User.id == Video.creator_id).where(Video.id.in_(ids))
        ).all()
    )
    return [("complete" if k == "loop" else k, sorted(tags.get(v, [])), creators.get(v, "")) for k, v in actions]
