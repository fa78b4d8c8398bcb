"""Recording what a For You page showed: one impression per item, with the reason it was ranked there."""

from __future__ import annotations

from collections.abc import Sequence

from sovereel.feed.interface import FeedItem
from sovereel.storage.db import RegionDB
from sovereel.storage.models import FeedImpression


def do_record_impressions(
    db: RegionDB, *, request_id: str, user_id: str, first_position: int, items: Sequence[FeedItem], served_at: float
) -> None:
    """Store the impressions of one served page (positions count on from `first_position` across the scroll)."""
    with db.transaction() as s:
        s.add_all(
            FeedImpression(
                request_id=request_id,
                user_id=user_id,
                video_id=item.video_id,
                position=first_position + i,
                reason=item.reason.as_dict(),
                served_at=served_at,
            )
            for i, item in enumerate(items)
        )
