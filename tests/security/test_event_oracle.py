"""Issue 14 item 10 (events): a watch event naming a video the viewer may not see is refused exactly like one
naming no video at all (same status, code and message), so event batches cannot probe what exists."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Event
from tests.support.api import signup
from tests.support.counters import events, ready_video, user_id

UNKNOWN = "01zzzzzzzzzzzzzzzzzzzzzzzz"


def refusal(client: TestClient, headers: dict[str, str], vid: str) -> tuple[int, bytes]:
    r = client.post("/api/events", headers=headers, json=events(vid, "play"))
    return r.status_code, r.content


def teen_birth_date() -> str:
    today = date.today()
    return today.replace(year=today.year - 16, day=min(today.day, 28)).isoformat()


HIDDEN: dict[str, dict[str, Any]] = {
    "followers-only, not followed": {"visibility": "followers"},
    "private": {"visibility": "private"},
    "held by moderation": {"moderation_state": "held"},
    "removed by moderation": {"moderation_state": "removed"},
    "still processing": {"status": "processing"},
}


@pytest.mark.parametrize("label", list(HIDDEN))
def test_hidden_video_answers_like_an_unknown_id(client: TestClient, rt: RegionRuntime, label: str) -> None:
    ana, viewer = signup(client, "ana"), signup(client, "viewer")
    hidden = ready_video(rt, user_id(client, ana), **HIDDEN[label])
    unknown = refusal(client, viewer, UNKNOWN)
    assert unknown[0] == 422
    assert refusal(client, viewer, hidden) == unknown, label
    mixed = events(hidden, "play")["events"] + events(ready_video(rt, user_id(client, ana)), "play")["events"]
    r = client.post("/api/events", headers=viewer, json={"events": mixed})
    assert (r.status_code, r.content) == unknown  # a batch naming it is refused whole, like any unknown id
    with rt.db.session() as s:
        assert s.query(Event).count() == 0


def test_blocked_and_age_restricted_answer_like_an_unknown_id(client: TestClient, rt: RegionRuntime) -> None:
    ana, viewer = signup(client, "ana"), signup(client, "viewer")
    teen = signup(client, "teen", birth_date=teen_birth_date())
    creator = user_id(client, ana)
    adults_only, public = ready_video(rt, creator, age_restricted=True), ready_video(rt, creator)
    unknown = refusal(client, teen, UNKNOWN)
    assert refusal(client, teen, adults_only) == unknown
    assert client.post("/api/users/ana/block", headers=viewer).status_code == 200
    assert refusal(client, viewer, public) == refusal(client, viewer, UNKNOWN)


def test_a_follower_may_report_a_followers_only_video(client: TestClient, rt: RegionRuntime) -> None:
    ana, fan = signup(client, "ana"), signup(client, "fan")
    vid = ready_video(rt, user_id(client, ana), visibility="followers")
    assert client.post("/api/users/ana/follow", headers=fan).status_code in (200, 201)
    r = client.post("/api/events", headers=fan, json=events(vid, "play"))
    assert r.status_code == 200, r.text
    assert client.post("/api/events", headers=ana, json=events(vid, "play")).status_code == 200  # the creator too
