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


def test_the_trending_buckets_are_one_object_until_they_change_or_age_out() -> None:
    now = 1_900_000_000.0
    state = RegionFeedState(snapshot_s=0.0)
    state.apply([Signal("ana", "v1", "like", now - 10)])
    first = state.region_engagement(now)
    assert [(b.video_id, b.kind, b.count) for b in first] == [("v1", "like", 1)]
    # Unchanged: the same tuple even past its reuse age, so region-wide work memoised on it stays valid.
    assert state.region_engagement(now + 60) is first
    state.apply([Signal("ben", "v2", "complete", now)])
    second = state.region_engagement(now + 61)
    assert second is not first and {b.video_id for b in second} == {"v1", "v2"}
    assert [b.video_id for b in state.region_engagement(now + 8 * 86400)] == []  # a week on, both aged out
    # A server rebuilds at most every snapshot_s after a change (the counts lag that much).
    server = RegionFeedState(snapshot_s=60.0)
    server.apply([Signal("ana", "v1", "like", now)])
    built = server.region_engagement(now)
    server.apply([Signal("ben", "v1", "like", now)])
    assert server.region_engagement(now + 1) is built
