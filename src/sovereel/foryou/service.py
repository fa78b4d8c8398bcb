"""Filling feed pages: builds the recommender's world from the region store and records what was served."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from sovereel.actions.impressions import page_impressions
from sovereel.errors import Busy, Invalid
from sovereel.fair_lock import FairLock
from sovereel.feed.cursor import InvalidCursor
from sovereel.feed.interface import CandidateWorld, FeedItem, FeedPage, FeedRequest
from sovereel.foryou.carry import CarryBox, carry_after
from sovereel.foryou.snapshot import EligibleVideos, VideoSnapshot
from sovereel.ids import new_id
from sovereel.queries.safety import FeedGate, feed_gate
from sovereel.queries.videos import following_feed, video_views
from sovereel.queries.viewer_state import ViewerState, viewer_state
from sovereel.runtime.consumers import connect
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import (
    Video,
)
from sovereel.telemetry import FORYOU_PAGES, StageTimer

# The longest scroll a cursor may name, in pages: far past any person's, and small enough that every impression's
# position (page x limit, limit <= 50) fits the 32-bit column. A larger one, written in a batch with other viewers'
# impressions, failed that whole batch on PostgreSQL.
MAX_SCROLL_PAGES = 1_000_000


def _parse_chain(cursor: str | None) -> tuple[str, int, str | None]:
    """A signed-in scroll's cursor: '<chain>:<page>[:<recommender cursor>]' (the chain names its impressions)."""
    if not cursor:
        return new_id(), 0, None
    chain, _, rest = cursor.partition(":")
    page, _, inner = rest.partition(":")
    if not (chain.isascii() and chain.isalnum() and len(chain) <= 32 and page.isascii() and page.isdigit()):
        raise Invalid("malformed cursor", code="bad_cursor")
    if len(page) > 7 or int(page) > MAX_SCROLL_PAGES:  # the length first: int() of a long digit string is slow
        raise Invalid("malformed cursor", code="bad_cursor")
    return chain, int(page), inner or None


def _same_sound(world: CandidateWorld, before: str | None, after: str) -> bool:
    first, second = world.videos.get(before or ""), world.videos.get(after)
    return bool(first and second and first.sound_id and first.sound_id == second.sound_id)


class PageTurns(FairLock):
    """One process's For You pages are ranked one at a time, in the order they were asked for.

    Ranking is Python and small numpy work under one interpreter lock: pages ranked side by side take turns at
    it every few milliseconds and at the model's lock as well, so none finishes sooner, and a page that kept
    losing those races waited many seconds (measured: p99 16.6 s for a p50 of 1.8 s under 32 clients). In line,
    each page waits for those ahead of it and no longer; more cores are used by more processes
    (`serve --processes`). The store reads around ranking stay outside the line.
    """

    def timed_out(self) -> Exception:
        return Busy(f"more For You pages are queued than this server can rank in {self.timeout_s:.0f} s")


PAGE_WAIT_S = 15.0  # past this a page is no use to a scrolling viewer: a 503 with Retry-After instead


class FeedService:
    """For You and Following pages for one region."""

    def __init__(self, rt: RegionRuntime) -> None:
        self.rt = rt
        self.snapshot = VideoSnapshot(rt.db)
        self.turns = PageTurns(PAGE_WAIT_S)
        self.carries = CarryBox()  # each scroll's candidates for its next page (`foryou.carry`)
        connect(rt.bus, "feed_snapshot", self.snapshot.on_message)

    def _recommend(self, request: FeedRequest, world: CandidateWorld, timer: StageTimer) -> FeedPage:
        try:
            with self.turns:
                timer.lap("queue")
                return self.rt.learner.recommender.recommend(request, world, timer.lap)
        except InvalidCursor as exc:
            raise Invalid("malformed cursor", code="bad_cursor") from exc

    def _viewer_state(self, viewer_id: str, chain: str) -> ViewerState:
        """The viewer's follows, history, marks, controls and gate, in one statement (`queries.viewer_state`)."""
        # The scroll's earlier pages may still be queued for writing: look there before the table, not after.
        queued = frozenset(r.video_id for r in self.rt.impressions.pending() if r.request_id == chain)
        with self.rt.db.session() as s:
            state = viewer_state(s, viewer_id, chain)
        return replace(state, served=state.served | queued) if queued else state

    def _gate(self, viewer_id: str | None) -> FeedGate:
        with self.rt.db.session() as s:
            return feed_gate(s, viewer_id)

    def for_you(self, viewer_id: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        """One For You page; signed-in pages of one scroll session never repeat each other."""
        timer = StageTimer()  # sovereel_foryou_stage_seconds{stage}
        now = time.time()
        catalogue = self.snapshot.get()
        state = self.rt.learner.state
        base = CandidateWorld(
            videos={},
            region_engagement=state.region_engagement(now),
            exposure=state.exposure(),
            co_engagement=state.co_engagement(),
            region_videos=catalogue.public,
            region_by_creator=catalogue.by_creator,
            region_by_sound=catalogue.by_sound,
        )
        if viewer_id is None:
            world = replace(base, videos=EligibleVideos(catalogue, None, frozenset(), self._gate(None)))
            request = FeedRequest(user_id=None, region=self.rt.region, limit=limit, cursor=cursor, now=now)
            timer.lap("world")
            page = self._recommend(request, world, timer)
            return self._timed_render(timer, page.items, None, page.next_cursor, None)
        chain, page_no, inner = _parse_chain(cursor)
        viewer = self._viewer_state(viewer_id, chain)
        gate = viewer.gate  # blocks, age-restricted videos, private and 13-15 accounts
        personalised = viewer.personalised
        recent = state.recent(viewer_id) if personalised else ()
        carry = self.carries.take(viewer_id, chain, page_no) if personalised else None
        if carry is not None and not carry.fresh(now, recent, viewer.following):
            carry = None
        world = replace(
            base,
            videos=EligibleVideos(catalogue, viewer_id, viewer.following, gate),
            hidden_creators=gate.blocked,
            seen=viewer.watched,
            served=viewer.served,
            following=viewer.following,
            recent_engagements=recent,
            recent_skips=state.recent_skips(viewer_id) if personalised else (),
            not_interested_videos=viewer.not_interested["video"],
            not_interested_creators=viewer.not_interested["creator"],
            not_interested_hashtags=viewer.not_interested["hashtag"],
            keyword_filters=viewer.keywords,
            carried=carry.hits if carry is not None else None,
        )
        # The recommender's own cursor rides along, so creator and topic spacing hold across page breaks.
        request = FeedRequest(
            user_id=viewer_id,
            region=self.rt.region,
            limit=limit,
            cursor=inner,
            now=now,
            personalised=personalised,
        )
        timer.lap("world")
        page = self._recommend(request, world, timer)
        items = list(page.items)
        FORYOU_PAGES.labels(candidates="carried" if page.from_carry else "retrieved").inc()
        if page.carry and len(items) >= limit:
            kept = carry_after(page, carry, now, recent, viewer.following)
            self.carries.put(viewer_id, chain, page_no + 1, kept)
        if len(items) < limit:
            # Everything new has been seen: offer watched videos again rather than an empty feed.
            again = self._recommend(
                request,
                replace(world, seen=frozenset(), served=viewer.served | {i.video_id for i in items}, carried=None),
                timer,
            )
            for item in again.items:
                if len(items) >= limit:
                    break
                if _same_sound(world, items[-1].video_id if items else None, item.video_id):
                    continue  # the re-ranker keeps one sound from playing twice in a row; so does this seam
                item.reason.sources.append("rewatch")
                item.reason.explanation.append("You have seen everything new here; this one again")
                items.append(item)
        # Queued, not written: the cursor names the chain (made in memory), so nothing below waits for the store.
        self.rt.impressions.submit(
            page_impressions(
                request_id=chain, user_id=viewer_id, first_position=page_no * limit, items=items, served_at=now
            )
        )
        timer.lap("impressions")
        next_cursor = None
        if items:
            next_cursor = f"{chain}:{page_no + 1}" + (f":{page.next_cursor}" if page.next_cursor else "")
        return self._timed_render(timer, items, viewer_id, next_cursor, chain)

    def _timed_render(
        self,
        timer: StageTimer,
        items: list[FeedItem],
        viewer_id: str | None,
        next_cursor: str | None,
        chain: str | None,
    ) -> dict[str, Any]:
        page = self._render(items, viewer_id, next_cursor, chain)
        timer.lap("render")
        timer.observe()
        return page

    def _render(
        self, items: list[FeedItem], viewer_id: str | None, next_cursor: str | None, chain: str | None
    ) -> dict[str, Any]:
        ids = [item.video_id for item in items]
        with self.rt.db.session() as s:
            rows = {v.id: v for v in s.scalars(select(Video).where(Video.id.in_(ids)))}
            views = video_views(s, [rows[i] for i in ids if i in rows], viewer_id)
        reasons = {item.video_id: item.reason.as_dict() for item in items}
        for view in views:
            reason = reasons[view["id"]]
            view["reason"] = {
                k: reason.get(k) for k in ("sources", "model_version", "params_version", "explanation", "personalised")
            }
        return {"items": views, "next_cursor": next_cursor, "request_id": chain}

    def following(self, viewer_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        with self.rt.db.session() as s:
            rows, nxt = following_feed(s, viewer_id, cursor, limit)
            return {"items": video_views(s, rows, viewer_id), "next_cursor": nxt}
