"""The analytics consumer: folds watch events and follows into the creator-analytics aggregates as they arrive.

Connected to the bus by `runtime.consumers` (as "analytics") in one process per region: the embedded default's
one process, or, in the scaled layout, the learner process (`runtime.processes`), whose durable consumers
hand it each message once and again after a restart; API processes with `learner_process` on leave it alone.
Each message is folded once by `actions.analytics` (redeliveries are recognised by outbox id in the store, so a
restarted process, or a second one, never counts a message twice): alone, in its own transaction, from NATS;
with the others of its relay batch, in one transaction, from the in-process bus and the local hub. A fold that
fails raises to the bus, which logs it: NATS redelivers the message (the fold is idempotent), the in-process
bus goes on to its other handlers, so neither a learner nor another consumer waits on it.
"""

from __future__ import annotations

from sovereel.actions.analytics import do_fold_messages
from sovereel.events.bus.interface import Message
from sovereel.storage.db import RegionDB


class AnalyticsConsumer:
    """Hands each `watch.events`, `social.follow` and `social.unfollow` message to its fold; a bus that delivers
    several at once (`events.bus.interface.batch_of`) gets them folded in one transaction."""

    def __init__(self, db: RegionDB) -> None:
        self.db = db

    def __call__(self, msg: Message) -> None:
        """Fold one message (a redelivered one adds nothing); a failure raises, so NATS redelivers it."""
        do_fold_messages(self.db, [msg])

    def batch(self, messages: list[Message]) -> None:
        """Fold these messages, in order, in one transaction (one by one where that fails)."""
        do_fold_messages(self.db, messages)
