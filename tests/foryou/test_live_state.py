"""The live feed state: what a viewer's recent actions leave behind for the next page."""

from __future__ import annotations

from sovereel.feed.interface import Engagement, Skip
from sovereel.foryou.live_state import RegionFeedState, Signal


def test_skips_are_kept_apart_from_engagements_and_refresh_for_you_forgets_both() -> None:
    state = RegionFeedState()
    state.apply(
        [
            Signal("ana", "v1", "impression", 1.0),
            Signal("ana", "v1", "skip", 2.0, watched_s=0.8),
            Signal("ana", "v2", "complete", 3.0, watched_s=10.0),
            Signal("ana", "v3", "skip", 4.0),
            Signal("ben", "v1", "skip", 5.0, watched_s=1.5),
        ]
    )
    assert state.recent_skips("ana") == (Skip("v1", 2.0, 0.8), Skip("v3", 4.0, 0.0))
    assert state.recent("ana") == (Engagement("v2", "complete", 3.0),)
    assert state.exposure()["v1"].impressions == 1  # a skip is no engagement and no completion
    assert state.exposure()["v1"].completes == 0
    state.forget_user("ana")
    assert state.recent_skips("ana") == () and state.recent("ana") == ()
    assert state.recent_skips("ben") == (Skip("v1", 5.0, 1.5),)
