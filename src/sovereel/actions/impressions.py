"""Recording what a For You page showed: one impression per item, with the reason it was ranked there.

Pages hand their rows to `foryou.impression_writer`, which calls `do_record_impressions` with a batch of many
pages' rows in one transaction; this module stays the only code that writes `feed_impressions`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from sovereel.feed.interface import FeedItem
from sovereel.storage.db import RegionDB
from sovereel.storage.models import FeedImpression

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImpressionRow:
    """One served item as it will be stored; `request_id` is the scroll's chain id, known before the write."""

    request_id: str
    user_id: str
    video_id: str
    position: int
    reason: dict[str, Any]
    served_at: float


def page_impressions(
    *, request_id: str, user_id: str, first_position: int, items: Sequence[FeedItem], served_at: float
) -> list[ImpressionRow]:
    """The rows of one served page (positions count on from `first_position` across the scroll)."""
    # The reason is frozen into a dict now, at serving time, so the stored record is what the page was ranked by.
    return [
        ImpressionRow(request_id, user_id, item.video_id, first_position + i, item.reason.as_dict(), served_at)
        for i, item in enumerate(items)
    ]


def _model(row: ImpressionRow) -> FeedImpression:
    return FeedImpression(
        request_id=row.request_id,
        user_id=row.user_id,
        video_id=row.video_id,
        position=row.position,
        reason=row.reason,
        served_at=row.served_at,
    )


def do_record_impressions(db: RegionDB, rows: Sequence[ImpressionRow]) -> int:
    """Store a batch of impressions (any number of pages) in one transaction; returns how many were stored.

    A row whose viewer was erased while it waited in the queue fails its foreign key: the batch is then
    written row by row and such rows are dropped (an erased account's impressions must not come back).
    """
    if not rows:
        return 0
    try:
        with db.transaction() as s:
            s.add_all(_model(r) for r in rows)
        return len(rows)
    except IntegrityError:
        log.warning("impression batch of %d rows refused; writing it row by row", len(rows))
    stored = 0
    for r in rows:
        try:
            with db.transaction() as s:
                s.add(_model(r))
            stored += 1
        except IntegrityError:
            log.info("impression of %s for a viewer no longer here dropped", r.video_id)
    return stored
