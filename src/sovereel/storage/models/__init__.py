"""The tables of one region's metadata store, one module per concern.

Importing this package registers every table on `Base.metadata`, which the residency scan, the
data-rights export and erasure and Alembic all walk: a new table module must be imported here.
"""

from sovereel.storage.models.accounts import (
    AuthSession,
    Block,
    Comment,
    CommentFilter,
    CounterMark,
    Follow,
    FollowRequest,
    Like,
    Mention,
    Share,
    User,
)
from sovereel.storage.models.analytics import (
    AnalyticsApplied,
    CreatorDaily,
    VideoDaily,
    VideoReach,
    VideoSource,
    VideoStats,
)
from sovereel.storage.models.base import NAMING, Base
from sovereel.storage.models.feed import Event, FeedImpression, FeedPreferences, NotInterested, OutboxMessage, Watch
from sovereel.storage.models.governance import (
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    DataExport,
    Erasure,
    ExchangeTransfer,
    ExportLicence,
)
from sovereel.storage.models.inbox import Notification, NotificationSettings
from sovereel.storage.models.moderation import Appeal, ModerationAction, ModerationNotice, Report, SafetyLogEntry
from sovereel.storage.models.sounds import Sound, SoundPreferences
from sovereel.storage.models.videos import Hashtag, MediaJob, Video, VideoFingerprint, VideoHashtag

__all__ = [
    "NAMING",
    "AnalyticsApplied",
    "Appeal",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuthSession",
    "Base",
    "Block",
    "Comment",
    "CommentFilter",
    "CounterMark",
    "CreatorDaily",
    "DataExport",
    "Erasure",
    "Event",
    "ExchangeTransfer",
    "ExportLicence",
    "FeedImpression",
    "FeedPreferences",
    "Follow",
    "FollowRequest",
    "Hashtag",
    "Like",
    "MediaJob",
    "Mention",
    "ModerationAction",
    "ModerationNotice",
    "NotInterested",
    "Notification",
    "NotificationSettings",
    "OutboxMessage",
    "Report",
    "SafetyLogEntry",
    "Share",
    "Sound",
    "SoundPreferences",
    "User",
    "Video",
    "VideoDaily",
    "VideoFingerprint",
    "VideoHashtag",
    "VideoReach",
    "VideoSource",
    "VideoStats",
    "Watch",
]
