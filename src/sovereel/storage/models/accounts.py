"""Accounts and the social graph: users, sessions, follows, likes, comments, shares, blocks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from sovereel.storage.models.base import Base


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


class Follow(Base):
    __tablename__ = "follows"
    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    followee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class FollowRequest(Base):
    """A request to follow a private account; it becomes a follow when the account holder approves it."""

    __tablename__ = "follow_requests"
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
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


class Block(Base):
    """`blocker_id` blocked `blocked_id`: neither sees the other, nor can follow, comment on or like the other."""

    __tablename__ = "blocks"
    blocker_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class CommentFilter(Base):
    """A creator's comment keyword: comments on their videos that contain it are hidden (but from the author)."""

    __tablename__ = "comment_filters"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(50), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Mention(Base):
    __tablename__ = "mentions"
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
