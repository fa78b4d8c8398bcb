"""The tables of one region's metadata store (SQLAlchemy 2 declarative).

Every row of personal data belongs to a user of this region; `users.region` and
`videos.region` name it explicitly so a residency scan can prove it. Times are
UTC epoch seconds (float): portable across SQLite and PostgreSQL and cheap to
use in ranking arithmetic.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True)  # lower-cased, for uniqueness
    # Lookalike key (sovereel.usernames.username_skeleton, migration 0010): sign-up refuses a taken skeleton.
    # Not unique: accounts made before 0010 may already share one.
    skeleton: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    bio: Mapped[str] = mapped_column(String(280), default="")
    avatar_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="user")  # user | moderator
    suspended_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)  # a moderator's "suspend"
    # Set only on a creator stub of another region's exchanged video: the stub holds the public handle only.
    origin_region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    # Safety (migration 0005): None = not given (accounts made before birth dates were asked, or internal ones).
    birth_date: Mapped[date | None] = mapped_column(nullable=True, index=True)
    is_private: Mapped[bool] = mapped_column(
        default=False, server_default=false(), index=True
    )  # videos for followers only
    comment_policy: Mapped[str] = mapped_column(String(16), default="everyone", server_default="everyone")


class AuthSession(Base):
    __tablename__ = "auth_sessions"
    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class Video(Base):
    __tablename__ = "videos"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")  # public | followers | private
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | ready | failed
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    poster_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    renditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    share_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    ready_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    age_restricted: Mapped[bool] = mapped_column(
        default=False, server_default=false(), index=True
    )  # never shown under 18
    comment_policy: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None: the creator's setting
    # ok | held (awaits review) | removed | not_for_you (servable by link, profile, search; never in For You)
    moderation_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    # Set on a public video received through the content exchange from its home region.
    origin_region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    origin_url: Mapped[str | None] = mapped_column(String(300), nullable=True)

    __table_args__ = (Index("ix_videos_status_visibility_created", "status", "visibility", "created_at"),)


class MediaJob(Base):
    """A transcode job: one per video, retried with backoff, visible through the video's status."""

    __tablename__ = "media_jobs"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, index=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locked_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class Hashtag(Base):
    __tablename__ = "hashtags"
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)  # lower-cased, without '#'
    video_count: Mapped[int] = mapped_column(Integer, default=0)


class VideoHashtag(Base):
    __tablename__ = "video_hashtags"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(ForeignKey("hashtags.tag", ondelete="CASCADE"), primary_key=True, index=True)


class Mention(Base):
    __tablename__ = "mentions"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Follow(Base):
    __tablename__ = "follows"
    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    followee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class Like(Base):
    __tablename__ = "likes"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class Share(Base):
    __tablename__ = "shares"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str] = mapped_column(String(32), default="link")
    created_at: Mapped[float] = mapped_column(Float)


class CounterMark(Base):
    """That one viewer's view or share of a video was counted on one UTC day, so a repeat is not counted again.

    `viewer_key` is a keyed hash of the day and the viewer (the signed-in account, or the address of an anonymous
    request), never the id or the address itself, and a day's keys cannot be linked to another day's. Rows older
    than yesterday are pruned as new ones are written."""

    __tablename__ = "counter_marks"
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # view | share
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    viewer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)  # days since the epoch, UTC


class Event(Base):
    """The region's event log: append-only, ordered by `seq`, stored once per (user, client_id)."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    video_id: Mapped[str] = mapped_column(String(32), index=True)
    client_ts: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    watched_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_events_user_client"),)


class Watch(Base):
    """What a user has watched: the seen set that For You filters on (one row per user and video)."""

    __tablename__ = "watches"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    watched_s: Mapped[float] = mapped_column(Float, default=0.0)
    completed: Mapped[bool] = mapped_column(default=False)
    last_at: Mapped[float] = mapped_column(Float)


class FeedImpression(Base):
    """One item served in a feed page, with the reason record that explains and replays it."""

    __tablename__ = "feed_impressions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)
    served_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_feed_impressions_user_video", "user_id", "video_id"),)


class OutboxMessage(Base):
    """An event written in the same transaction as the change it describes; relayed after commit."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class FeedPreferences(Base):
    """A user's For You controls; honoured across sessions."""

    __tablename__ = "feed_preferences"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    personalised: Mapped[bool] = mapped_column(default=True)  # False: the EU DSA Art. 38 non-profiled feed
    keyword_filters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    profile_reset_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # "Refresh For You"
    updated_at: Mapped[float] = mapped_column(Float)


class NotInterested(Base):
    """ "Not interested" marks: a video, a creator (user id) or a hashtag the user does not want in For You."""

    __tablename__ = "not_interested"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # video | creator | hashtag
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Report(Base):
    """A report of a video, a comment or an account; `reporter_id` is None for the system's own holds."""

    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # video | comment | account
    target_id: Mapped[str] = mapped_column(String(32))
    subject_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # whose content or account
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    created_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    action_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_reports_target", "target_kind", "target_id"),
        Index("ix_reports_reporter_created", "reporter_id", "created_at"),
        Index("ix_reports_status", "status"),
    )


class ModerationAction(Base):
    """One decision by a moderator (or by the system, `moderator_id` None): the record of what was done and why."""

    __tablename__ = "moderation_actions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    moderator_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(32))
    subject_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_moderation_actions_target", "target_kind", "target_id"),)


class ModerationNotice(Base):
    """What the affected user is told about an action on their content or account."""

    __tablename__ = "moderation_notices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("moderation_actions.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    appealable: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(Float)
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Appeal(Base):
    """The affected user's one appeal against an action; it goes back to the review queue."""

    __tablename__ = "appeals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("moderation_actions.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | granted
    created_at: Mapped[float] = mapped_column(Float)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision_action_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class VideoFingerprint(Base):
    """Perceptual hashes of frames sampled across a video; `blocked` ones (from removed videos) stop re-uploads.

    No foreign key: a removed video's hashes outlive the video, so deleting it does not reopen the door.
    """

    __tablename__ = "video_fingerprints"
    video_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(32))
    hashes: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"full": [...], "cropped": [...]}: 16-digit hex pHashes
    blocked: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class AuditEntry(Base):
    """One entry of the region's append-only audit log (fields: sovereel.governance.audit)."""

    __tablename__ = "audit_entries"
    idx: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[float] = mapped_column(Float)
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row appends lock to get gap-free indexes: the log's size and last leaf hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_leaf: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head: the log's size and Merkle root, signed with the region's Ed25519 key."""

    __tablename__ = "audit_checkpoints"
    size: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    root: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class ExportLicence(Base):
    """A recorded licence for one model version to leave `source_region` for `dest_region`."""

    __tablename__ = "export_licences"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64))
    source_region: Mapped[str] = mapped_column(String(32))
    dest_region: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[float] = mapped_column(Float)
    audit_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class Block(Base):
    """`blocker_id` blocked `blocked_id`: neither sees the other, nor can follow, comment on or like the other."""

    __tablename__ = "blocks"
    blocker_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class FollowRequest(Base):
    """A request to follow a private account; it becomes a follow when the account holder approves it."""

    __tablename__ = "follow_requests"
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class CommentFilter(Base):
    """A creator's comment keyword: comments on their videos that contain it are hidden (but from the author)."""

    __tablename__ = "comment_filters"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(50), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class SafetyLogEntry(Base):
    """One trust-and-safety action (block, unblock, settings, comment removal, follow request), as it happened."""

    __tablename__ = "safety_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    # An erased account leaves the other party's record, without itself.
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    subject_id: Mapped[str | None] = mapped_column(  # the affected user
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)


class DataExport(Base):
    """A "Download my data" job: built in the background, fetched through a signed, expiring link."""

    __tablename__ = "data_exports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | ready | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    step: Mapped[str] = mapped_column(String(64), default="")
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Erasure(Base):
    """An erased account, by pseudonymous hash only; the trainer consults these before every training run."""

    __tablename__ = "erasures"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[float] = mapped_column(Float)
    events_from: Mapped[float | None] = mapped_column(Float, nullable=True)
    events_to: Mapped[float | None] = mapped_column(Float, nullable=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    models_affected: Mapped[list[Any]] = mapped_column(JSON, default=list)  # versions trained on their events


class ExchangeTransfer(Base):
    """One public video carried by the content exchange: in (pulled from a peer) or out (offered to one)."""

    __tablename__ = "exchange_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(16))  # in | out | withdrawn
    peer_region: Mapped[str] = mapped_column(String(32))
    video_id: Mapped[str] = mapped_column(String(32), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[float] = mapped_column(Float)
