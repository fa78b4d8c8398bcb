"""The analytics consumer: folds watch events and follows into the creator-analytics aggregates as they arrive.

Connected to the bus by `runtime.consumers` (as "analytics"); each message is folded once in its own
transaction by `actions.analytics` (redeliveries are recognised by outbox id in the store, so several
processes, or one restarted, never count a message twice). A fold that fails is logged and skipped rather
than raised into the bus's delivery thread, where it would stall the learner on the same path.
"""

from __future__ import annotations

import logging

from sovereel.actions.analytics import do_fold_follow, do_fold_watch_events
from sovereel.events.bus.interface import Message
from sovereel.storage.db import RegionDB

log = logging.getLogger(__name__)


class AnalyticsConsumer:
    """Hands each `watch.events`, `social.follow` and `social.unfollow` message to its fold."""

    def __init__(self, db: RegionDB) -> None:
        self.db = db

    def on_message(self, msg: Message) -> None:
        """Fold one message (a redelivered one adds nothing)."""
        try:
            if msg.topic == "watch.events":
                do_fold_watch_events(self.db, msg.id, msg.payload)
            elif msg.topic in ("social.follow", "social.unfollow"):
                do_fold_follow(self.db, msg.id, msg.topic, msg.payload, msg.created_at)
        except Exception:
            log.exception("analytics: message %s (%s) was not folded", msg.id, msg.topic)
