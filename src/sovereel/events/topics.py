"""Every topic on the event bus: its payload, who emits it and who consumes it, in one place.

An event is written by `events.outbox.emit` in the transaction of the change it describes; the relay publishes
it once that commits (`events.relay`), and each consumer subscribes by topic prefix (`runtime.consumers`).
`emit` refuses a topic missing here, or a payload whose fields differ from its declared ones;
tests/backends/test_topics.py checks that every `emit(` in src names a topic declared here, from the modules
declared here, with the declared fields, and that the consumers named here are the ones subscribed.

| topic | payload | emitted by (sovereel.…) | consumed by |
|---|---|---|---|
| video.uploaded | VideoUploaded | actions.videos | media_worker (wakes), feed_snapshot |
| video.ready | VideoReady | actions.media_jobs, actions.exchange | learner (describes), feed_replica, feed_snapshot |
| video.failed | VideoFailed | actions.media_jobs | feed_snapshot |
| video.deleted | VideoDeleted | actions.videos, actions.exchange, actions.rights | feed_snapshot |
| video.moderated | VideoModerated | actions.moderation | learner (re-indexes), feed_replica, feed_snapshot |
| watch.events | WatchEvents | actions.watch | learner (online learning, live state), analytics |
| social.like, social.unlike | Like, Unlike | actions.social | learner |
| social.comment, social.share | Comment, Share | actions.social | learner |
| social.follow | Follow | actions.social, actions.safety_settings | learner (ignores), analytics |
| social.unfollow | Follow | actions.social, actions.blocks | learner (ignores), analytics |
| social.follow_request | FollowRequest | actions.social | learner (ignores), analytics (ignores) |
| safety.block, safety.unblock | Block, Unblock | actions.blocks | none |
| moderation.reported, moderation.held | ModerationReported, ModerationHeld | actions.reports | none |
| moderation.action, moderation.appealed | ModerationAction, ModerationAppealed | actions.moderation | none |
| feed.not_interested | NotInterested | actions.feed_controls | learner (ignores) |
| feed.personalisation | Personalisation | actions.feed_controls | learner (ignores) |
| feed.profile_reset | ProfileReset | actions.feed_controls | learner (forgets the viewer) |
| notification.created | NotificationCreated | actions.notifications | inbox (live: SSE streams, unread badge) |
| notification.cleared | NotificationCleared | actions.notifications | inbox (live: the unread badge) |

"none": nothing in sovereel subscribes today; the events stay on the region's stream for other consumers.
"ignores": the learner is subscribed by prefix and drops the message (it reads follows and filters from the
database when a page is asked for); so does the analytics consumer, whose `social.follow` prefix also matches
`social.follow_request`.

Live topics (`LIVE_TOPICS`) are not events: a process publishes them straight to the bus with `Bus.broadcast`
(`events.live.broadcast`), never through the outbox or the region's stream, and every process listening at that
moment gets a copy (one that was not listening has nothing to catch up on: it rebuilds from the database).

| live topic | payload | published by (sovereel.…) | consumed by |
|---|---|---|---|
| foryou.delta | ForYouDelta | foryou.delta (`sovereel learner`) | feed_replica (API processes, scaled layout) |
| foryou.forget | ForYouForget | actions.rights (account erasure) | learner, feed_replica |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_type_hints

# pydantic validates TypedDicts (tests/backends/test_topics.py) only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict


class VideoUploaded(TypedDict):
    """A new upload awaits transcoding."""

    video_id: str
    creator_id: str


class VideoReady(TypedDict):
    """Renditions verified (or a peer region's video copied in): the video can be served.

    `sound_id`: the sound it credits (`storage.models.sounds`), None when it has none (no audio, or exchanged)."""

    video_id: str
    creator_id: str
    sound_id: str | None


class VideoFailed(TypedDict):
    """Transcoding gave up, or the upload screen refused the video; `reason` is what the uploader sees."""

    video_id: str
    reason: str | None


class VideoDeleted(TypedDict):
    """The video and its media are gone (deleted by its creator, or withdrawn by its home region)."""

    video_id: str


class VideoModerated(TypedDict):
    """A moderation decision changed what a video may be shown in.

    `state`: the video's moderation state (ok, removed, not_for_you, …). For an account's suspension or its
    lifting, one event covers all its videos: `video_id` None, `state` creator_suspended / creator_restored."""

    video_id: str | None
    state: str
    creator_id: str


class WatchEventRecord(TypedDict):
    """One stored watch event. `kind`: one of `events.kinds.WATCH_KINDS`; `ts`: the client's clock, seconds."""

    seq: int  # its event-log sequence number
    video_id: str
    kind: str
    watched_s: float | None
    ts: float


class WatchEvents(TypedDict):
    """The watch events of one accepted batch that were new (a retried batch's duplicates are not repeated)."""

    user_id: str
    events: list[WatchEventRecord]


class Like(TypedDict):
    """A like; `creator_id` is the liked video's creator."""

    user_id: str
    video_id: str
    creator_id: str


class Unlike(TypedDict):
    """A like taken back."""

    user_id: str
    video_id: str


class Follow(TypedDict):
    """`user_id` now follows (`social.follow`) or no longer follows (`social.unfollow`) `followee_id`.

    A follow also comes from approving a follow request; an unfollow also from a block, for each direction."""

    user_id: str
    followee_id: str


class FollowRequest(TypedDict):
    """A follow of an account that needs approval (private, or a young teen's) awaits its holder's answer."""

    user_id: str
    target_id: str


class Comment(TypedDict):
    """A new comment (or reply) on a video."""

    user_id: str
    video_id: str
    comment_id: str


class Share(TypedDict):
    """A counted share (once per viewer, video and day); `user_id` None for a signed-out viewer."""

    user_id: str | None
    video_id: str


class Block(TypedDict):
    """`user_id` blocked `blocked_id`; `source`: where (user, report, …), at most 32 characters."""

    user_id: str
    blocked_id: str
    source: str


class Unblock(TypedDict):
    """A block lifted (follows do not come back)."""

    user_id: str
    blocked_id: str


class ModerationReported(TypedDict):
    """A report filed; `target_kind` video | comment | account (an account's id, not its name)."""

    report_id: str
    target_kind: str
    target_id: str


class ModerationHeld(TypedDict):
    """The system held an upload for review; `reason` is one of `actions.reports.SYSTEM_REASONS`."""

    video_id: str
    reason: str


class ModerationAction(TypedDict):
    """A moderator's decision (`action`: remove, dismiss, suspend, …) on a video, comment or account."""

    action_id: str
    action: str
    target_kind: str
    target_id: str


class ModerationAppealed(TypedDict):
    """An appeal against the decision `action_id`."""

    appeal_id: str
    action_id: str


class NotInterested(TypedDict):
    """A viewer marked a video, creator or hashtag (`kind`) not interesting; `value` its id or tag."""

    user_id: str
    kind: str
    value: str


class Personalisation(TypedDict):
    """A viewer switched For You personalisation on or off."""

    user_id: str
    personalised: bool


class ProfileReset(TypedDict):
    """A viewer reset their For You profile at `at` (epoch seconds): what was learnt before is forgotten."""

    user_id: str
    at: float


class NotificationCreated(TypedDict):
    """A notification for `user_id` was written (`kind`: one of `actions.notifications.KINDS`).

    Carries ids only: every API process's inbox hub tells the recipient's open streams, which read the rest."""

    user_id: str
    notification_id: str
    kind: str


class NotificationCleared(TypedDict):
    """`user_id`'s unread count may have fallen: notifications read, or withdrawn (an unlike, an unfollow)."""

    user_id: str


class DeltaOp(TypedDict):
    """One thing the learner applied, in order: a viewer's signal (`kind` as in `live_state.Signal`) or, with
    `kind` "reset", a viewer's profile reset (`video_id` empty). `id`: the outbox message it came from."""

    id: int
    kind: str
    user_id: str
    video_id: str
    at: float
    watched_s: float | None
    seq: int | None


class RowBatch(TypedDict):
    """Embedding rows the learner changed: `vectors` is base64 of little-endian float32, `len(keys)` x dim."""

    keys: list[str]
    vectors: str


class ForYouForget(TypedDict):
    """An erased account: every process holding live For You state drops the user now (a process that was not
    listening rebuilds from the database, where the account's events are already gone). Not an outbox event: the
    id must not outlive the account in a stored stream."""

    user_id: str


class ForYouDelta(TypedDict):
    """What serving needs of what the region's learner applied since its previous delta.

    `learner`: the learner process's instance id (a restart starts a new one); `part`: this instance's numbering
    of its deltas from 1 (a gap is a lost delta); `base_version`: the model version the rows belong to (a server
    on another version keeps the ops and drops the rows); `ops` in the order applied; `users`, `items`: rows."""

    learner: str
    part: int
    base_version: str
    ops: list[DeltaOp]
    users: RowBatch
    items: RowBatch


TopicName = Literal[
    "video.uploaded",
    "video.ready",
    "video.failed",
    "video.deleted",
    "video.moderated",
    "watch.events",
    "social.like",
    "social.unlike",
    "social.follow",
    "social.unfollow",
    "social.follow_request",
    "social.comment",
    "social.share",
    "safety.block",
    "safety.unblock",
    "moderation.reported",
    "moderation.held",
    "moderation.action",
    "moderation.appealed",
    "feed.not_interested",
    "feed.personalisation",
    "feed.profile_reset",
    "notification.created",
    "notification.cleared",
]


@dataclass(frozen=True)
class Topic:
    """One bus topic: its payload's type, the modules that emit it and the consumers subscribed to it.

    `consumed_by` names consumers of `runtime.consumers.SUBSCRIPTIONS`; empty when nothing here subscribes."""

    name: TopicName
    payload: type
    emitted_by: tuple[str, ...]
    consumed_by: tuple[str, ...]

    @property
    def fields(self) -> frozenset[str]:
        """The payload's field names (every one is required)."""
        return frozenset(get_type_hints(self.payload))


_SNAPSHOT = "feed_snapshot"
_LEARNER = "learner"
_ANALYTICS = "analytics"
_REPLICA = "feed_replica"  # an API process of the scaled layout reads new and moderated videos itself
_ACTIONS = "sovereel.actions."

TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic("video.uploaded", VideoUploaded, (_ACTIONS + "videos",), ("media_worker", _SNAPSHOT)),
        Topic(
            "video.ready",
            VideoReady,
            (_ACTIONS + "media_jobs", _ACTIONS + "exchange"),
            (_LEARNER, _REPLICA, _SNAPSHOT),
        ),
        Topic("video.failed", VideoFailed, (_ACTIONS + "media_jobs",), (_SNAPSHOT,)),
        Topic(
            "video.deleted",
            VideoDeleted,
            (_ACTIONS + "videos", _ACTIONS + "exchange", _ACTIONS + "rights"),
            (_SNAPSHOT,),
        ),
        Topic("video.moderated", VideoModerated, (_ACTIONS + "moderation",), (_LEARNER, _REPLICA, _SNAPSHOT)),
        Topic("watch.events", WatchEvents, (_ACTIONS + "watch",), (_LEARNER, _ANALYTICS)),
        Topic("social.like", Like, (_ACTIONS + "social",), (_LEARNER,)),
        Topic("social.unlike", Unlike, (_ACTIONS + "social",), (_LEARNER,)),
        Topic("social.follow", Follow, (_ACTIONS + "social", _ACTIONS + "safety_settings"), (_LEARNER, _ANALYTICS)),
        Topic("social.unfollow", Follow, (_ACTIONS + "social", _ACTIONS + "blocks"), (_LEARNER, _ANALYTICS)),
        # The analytics consumer's `social.follow` prefix takes this in too; a request is not a follower yet.
        Topic("social.follow_request", FollowRequest, (_ACTIONS + "social",), (_LEARNER, _ANALYTICS)),
        Topic("social.comment", Comment, (_ACTIONS + "social",), (_LEARNER,)),
        Topic("social.share", Share, (_ACTIONS + "social",), (_LEARNER,)),
        Topic("safety.block", Block, (_ACTIONS + "blocks",), ()),
        Topic("safety.unblock", Unblock, (_ACTIONS + "blocks",), ()),
        Topic("moderation.reported", ModerationReported, (_ACTIONS + "reports",), ()),
        Topic("moderation.held", ModerationHeld, (_ACTIONS + "reports",), ()),
        Topic("moderation.action", ModerationAction, (_ACTIONS + "moderation",), ()),
        Topic("moderation.appealed", ModerationAppealed, (_ACTIONS + "moderation",), ()),
        Topic("feed.not_interested", NotInterested, (_ACTIONS + "feed_controls",), (_LEARNER,)),
        Topic("feed.personalisation", Personalisation, (_ACTIONS + "feed_controls",), (_LEARNER,)),
        Topic("feed.profile_reset", ProfileReset, (_ACTIONS + "feed_controls",), (_LEARNER,)),
        Topic("notification.created", NotificationCreated, (_ACTIONS + "notifications",), ("inbox",)),
        Topic("notification.cleared", NotificationCleared, (_ACTIONS + "notifications",), ("inbox",)),
    )
}
"""Every topic the code emits, by name."""


@dataclass(frozen=True)
class LiveTopic:
    """A topic published straight to the bus (`Bus.broadcast`), outside the outbox and the stream."""

    name: str
    payload: type
    published_by: tuple[str, ...]
    consumed_by: tuple[str, ...]

    @property
    def fields(self) -> frozenset[str]:
        """The payload's field names (every one is required)."""
        return frozenset(get_type_hints(self.payload))


LIVE_TOPICS: dict[str, LiveTopic] = {
    t.name: t
    for t in (
        LiveTopic("foryou.delta", ForYouDelta, ("sovereel.foryou.delta",), (_REPLICA,)),
        LiveTopic("foryou.forget", ForYouForget, (_ACTIONS + "rights",), (_LEARNER, _REPLICA)),
    )
}
"""Every live topic, by name."""
