"""Candidates handed from one For You page to the next page of the same scroll.

A page's sources propose some 600 candidates; the model ranks them all and the re-ranker places ten. The best of
the rest (`FeedPage.carry`) are kept here, in the serving process, for the scroll's next page. That page is then
ranked from them alone, by the model as it is when the page is asked for: every second watched since still
moves the order, and the carried candidates pass the filters again (what was watched, marked, blocked or made
private meanwhile is gone). It saves the sources' work, and ranks ~60 candidates instead of ~600.

Retrieval waits at most a page or two, and never past an explicit signal. A carry is not used, and the sources are
asked again, when any of these holds:
- the viewer liked, shared, commented or followed since the carry was made (`explicit_signals`), or followed
  or unfollowed anyone, or had no engagement at all then and has some now (a new viewer's first finished
  video brings its co-engagement, caption and sound neighbours at once), or no longer has the engagements it
  was retrieved for (a profile reset: its candidates came from the history the viewer asked to forget);
- `CARRY_PAGES` pages in a row were already served from carries;
- it is older than `CARRY_TTL_S`: the trending order, the traffic pools and the viewer's vector move on.

A carry is used once. It is kept per process: a scroll whose next page reaches another API process asks
the sources there. The box holds at most `MAX_SCROLLS` scrolls; the oldest goes first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sovereel.feed.interface import Carried, Engagement, FeedPage
from sovereel.feed.rerank import CARRY_PAGES, CARRY_TTL_S

MAX_SCROLLS = 2048  # up to ~60 candidates each: a few tens of MB at most


def explicit_signals(recent: tuple[Engagement, ...]) -> tuple[Engagement, ...]:
    """The viewer's recent actions that ask for new candidates at once: all but finished videos."""
    return tuple(e for e in recent if e.kind != "complete")


@dataclass(frozen=True)
class Carry:
    """One scroll's candidates for its next page, with what they were retrieved for."""

    hits: Carried
    made_at: float
    depth: int  # pages in a row served from carries before the page that made this one
    signals: tuple[Engagement, ...]  # `explicit_signals` when it was made
    newest: Engagement | None  # the viewer's newest recent engagement then
    following: frozenset[str]

    def fresh(self, now: float, recent: tuple[Engagement, ...], following: frozenset[str]) -> bool:
        """Whether the next page may be ranked from this carry (see the module docstring)."""
        return (
            self.depth < CARRY_PAGES
            and now - self.made_at <= CARRY_TTL_S
            and (not recent if self.newest is None else self.newest in recent)
            and explicit_signals(recent) == self.signals
            and following == self.following
        )


def carry_after(
    page: FeedPage, used: Carry | None, now: float, recent: tuple[Engagement, ...], following: frozenset[str]
) -> Carry:
    """What `page` hands on to the next page of its scroll (`used`: the carry it was offered, if any)."""
    depth = used.depth + 1 if page.from_carry and used is not None else 0
    return Carry(page.carry, now, depth, explicit_signals(recent), recent[-1] if recent else None, following)


class CarryBox:
    """The carries of one serving process, by (viewer, scroll, page number); thread-safe, bounded."""

    def __init__(self, max_scrolls: int = MAX_SCROLLS) -> None:
        self.max_scrolls = max_scrolls
        self._lock = threading.Lock()
        self._carries: OrderedDict[tuple[str, str, int], Carry] = OrderedDict()

    def take(self, viewer_id: str, chain: str, page_no: int) -> Carry | None:
        """The carry left for this page of this scroll, removed (a page asked again retrieves again)."""
        with self._lock:
            return self._carries.pop((viewer_id, chain, page_no), None)

    def put(self, viewer_id: str, chain: str, page_no: int, carry: Carry) -> None:
        """Keep `carry` for that page of that scroll."""
        with self._lock:
            self._carries[(viewer_id, chain, page_no)] = carry
            while len(self._carries) > self.max_scrolls:
                self._carries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._carries)
