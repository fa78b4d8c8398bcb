"""The bus contract in `events.topics` is the one the code keeps: every emit, payload and subscription.

Static checks read src (an AST scan of every `emit(` call); the flow test drives the real actions and API on
SQLite and validates every outbox row it leaves against its topic's declared payload type.
"""

from __future__ import annotations

import ast
import time
import typing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import select

import sovereel
from sovereel.actions.blocks import do_block, do_unblock
from sovereel.actions.feed_controls import do_not_interested, do_refresh_for_you, do_update_feed_settings
from sovereel.actions.moderation import do_appeal, do_moderate
from sovereel.actions.reports import REASONS, do_report, hold_video
from sovereel.actions.safety_settings import do_answer_follow_request, do_update_safety_settings
from sovereel.actions.social import do_comment, do_follow, do_like, do_share, do_unfollow, do_unlike
from sovereel.actions.videos import do_delete_video
from sovereel.events import kinds, topics
from sovereel.events.live import broadcast
from sovereel.events.outbox import emit
from sovereel.events.topics import LIVE_TOPICS, TOPICS, TopicName
from sovereel.runtime.consumers import SUBSCRIPTIONS, subscribers
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import ModerationNotice, OutboxMessage, User, Video
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip
from tests.support.moderation import moderator, relay_all

SRC = Path(sovereel.__file__).parent


def _emit_calls() -> list[tuple[str, ast.Call]]:
    """(module, call) for every call of a function named `emit` with a session, topic and payload in src."""
    calls = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(("sovereel", *path.relative_to(SRC).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name == "emit" and len(node.args) == 3:
                    calls.append((module, node))
    return calls


def test_every_emit_in_src_names_a_declared_topic_from_a_declared_module_with_its_fields() -> None:
    emitters: dict[str, set[str]] = {}
    for module, call in _emit_calls():
        topic, payload = call.args[1], call.args[2]
        where = f"{module}:{call.lineno}"
        assert isinstance(topic, ast.Constant) and isinstance(topic.value, str), f"{where}: topic is not a literal"
        assert topic.value in TOPICS, f"{where}: {topic.value!r} is not declared in sovereel.events.topics"
        emitters.setdefault(topic.value, set()).add(module)
        assert isinstance(payload, ast.Dict), f"{where}: the payload is not a dict literal"
        keys = {k.value for k in payload.keys if isinstance(k, ast.Constant)}
        assert len(keys) == len(payload.keys), f"{where}: a payload key is not a literal"
        assert keys == TOPICS[topic.value].fields, f"{where}: {sorted(keys)} for {topic.value}"
    assert set(emitters) == set(TOPICS), "declared topics nothing emits: " + str(set(TOPICS) - set(emitters))
    for name, topic in TOPICS.items():
        assert emitters[name] == set(topic.emitted_by), f"{name} is emitted by {sorted(emitters[name])}"


def test_topic_names_the_registry_the_table_and_the_emit_overloads_agree() -> None:
    assert set(typing.get_args(TopicName)) == set(TOPICS)
    table = topics.__doc__ or ""
    assert all(name in table and topic.payload.__name__ in table for name, topic in TOPICS.items())
    assert all(name == topic.name for name, topic in TOPICS.items())
    overloads = {}
    for overload in typing.get_overloads(emit):
        hints = typing.get_type_hints(overload)
        (name,) = typing.get_args(hints["topic"])
        overloads[name] = hints["payload"]
    assert overloads == {name: topic.payload for name, topic in TOPICS.items()}


def test_the_consumers_each_topic_names_are_the_ones_subscribed() -> None:
    for name, topic in TOPICS.items():
        assert set(topic.consumed_by) == subscribers(name), name
    for name, live in LIVE_TOPICS.items():
        assert set(live.consumed_by) == subscribers(name), name
        assert name not in TOPICS and not any(t.startswith(name.split(".")[0] + ".") for t in TOPICS), name
    for consumer, prefixes in SUBSCRIPTIONS.items():
        for prefix in prefixes:
            known = any(name.startswith(prefix) for name in (*TOPICS, *LIVE_TOPICS))
            assert known, f"{consumer} listens to {prefix!r}: no such topic"


def test_live_topics_are_declared_with_their_publishers_and_broadcast_refuses_others() -> None:
    table = topics.__doc__ or ""
    for name, live in LIVE_TOPICS.items():
        assert name in table and live.payload.__name__ in table
        for module in live.published_by:
            source = (SRC / Path(*module.split(".")[1:])).with_suffix(".py").read_text()
            assert f'"{name}"' in source and "broadcast(" in source, f"{module} does not broadcast {name}"
    with pytest.raises(ValueError, match="unknown live topic"):
        broadcast(None, "foryou.other", {}, number=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="declared"):
        broadcast(None, "foryou.delta", {"part": 1}, number=1)  # type: ignore[arg-type]


def test_emit_refuses_an_undeclared_topic_or_other_fields() -> None:
    with pytest.raises(ValueError, match="unknown bus topic"):
        emit(None, "video.vanished", {"video_id": "v"})  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="declared"):
        emit(None, "video.deleted", {"video_id": "v", "extra": 1})  # type: ignore[call-overload]


def test_kind_subsets_are_drawn_from_the_one_definition() -> None:
    raw = set(kinds.WATCH_KINDS) | set(kinds.SOCIAL_KINDS) | {"follow"}
    assert kinds.PLAYBACK_KINDS | {"impression"} == set(kinds.WATCH_KINDS)
    assert kinds.WATCHED_TO_END_KINDS <= kinds.PLAYBACK_KINDS
    assert raw - {"loop"} == kinds.MODEL_KINDS  # the learner folds a loop into a complete
    assert set(kinds.ENGAGEMENT_KINDS) <= kinds.MODEL_KINDS and kinds.SHOWN_KINDS <= kinds.MODEL_KINDS
    assert raw >= kinds.POSITIVE_HISTORY_KINDS


def _flow(client: TestClient, rt: RegionRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One of everything: uploads, a failed transcode, watching, interactions, blocks, feed controls, moderation."""
    db, secret = rt.db, rt.settings.secret_key
    maker, viewer = signup(client, "maker"), signup(client, "viewer")
    signup(client, "shy")
    moderator(client, rt, "mod")
    with db.session() as s:
        ids = {u.username: u.id for u in s.scalars(select(User))}
    vid = upload(client, maker, make_clip(tmp_path / "a.mp4"), caption="a clip #topics").json()["id"]
    process_all(rt)
    doomed = upload(client, maker, make_clip(tmp_path / "b.mp4")).json()["id"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg: every attempt fails, so the video does
    process_all(rt)
    monkeypatch.undo()

    ms = int(time.time() * 1000)
    batch = [
        {"client_id": "topics-1", "kind": "impression", "video_id": vid, "ts": ms},
        {"client_id": "topics-2", "kind": "play", "video_id": vid, "ts": ms, "watched_s": 0, "position_s": 0},
        {"client_id": "topics-3", "kind": "loop", "video_id": vid, "ts": ms + 1, "watched_s": 2.5},
    ]
    assert client.post("/api/events", headers=viewer, json={"events": batch}).status_code < 300

    viewer_id, shy_id = ids["viewer"], ids["shy"]
    do_like(db, user_id=viewer_id, video_id=vid)
    do_unlike(db, user_id=viewer_id, video_id=vid)
    do_comment(db, user_id=viewer_id, video_id=vid, body="lovely")
    do_share(db, user_id=viewer_id, video_id=vid, counter_secret=secret)
    do_share(db, user_id=None, video_id=vid, address="203.0.113.9", counter_secret=secret)
    do_follow(db, user_id=viewer_id, username="maker")
    do_unfollow(db, user_id=viewer_id, username="maker")
    do_update_safety_settings(db, shy_id, is_private=True)
    do_follow(db, user_id=viewer_id, username="shy")
    do_answer_follow_request(db, user_id=shy_id, username="viewer", approve=True)
    do_block(db, user_id=shy_id, username="viewer")  # drops viewer's follow of shy: social.unfollow
    do_unblock(db, user_id=shy_id, username="viewer")

    do_not_interested(db, user_id=viewer_id, kind="hashtag", value="topics")
    do_update_feed_settings(db, user_id=viewer_id, personalised=False)
    do_refresh_for_you(db, user_id=viewer_id)

    do_report(db, reporter_id=viewer_id, target_kind="video", target_id=vid, reason=REASONS[0])
    with db.transaction() as s:
        video = s.get(Video, vid)
        assert video is not None
        hold_video(s, video, reason="new_upload_review", detail="")
    with db.session() as s:
        mod = s.scalar(select(User).where(User.username == "mod"))
    assert mod is not None
    do_moderate(
        db, audit_secret=secret, moderator=mod, target_kind="video", target_id=vid, action="remove", reason="spam"
    )
    with db.session() as s:
        notice = s.scalar(
            select(ModerationNotice).where(ModerationNotice.user_id == ids["maker"], ModerationNotice.appealable)
        )
    assert notice is not None
    do_appeal(db, audit_secret=secret, user_id=ids["maker"], notice_id=notice.id, body="it is my own cat")
    do_delete_video(db, rt.blobs, video_id=doomed, user_id=ids["maker"])
    do_moderate(
        db, audit_secret=secret, moderator=mod, target_kind="account", target_id=ids["maker"], action="suspend",
        reason="spam again",
    )  # fmt: skip


@pytest.mark.usefixtures("ffmpeg")
def test_every_payload_a_real_flow_emits_matches_its_declared_type(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flow(sqlite_client, sqlite_rt, tmp_path, monkeypatch)
    relay_all(sqlite_rt)  # every consumer takes every message without failing (an exception would stop the relay)
    seen: set[str] = set()
    with sqlite_rt.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    for row in rows:
        topic = TOPICS[row.topic]
        payload: dict[str, Any] = row.payload  # as consumers receive it: after the JSON round trip
        assert set(payload) == topic.fields, row.topic
        TypeAdapter(topic.payload).validate_python(payload, strict=True)
        assert row.delivered_at is not None, row.topic
        seen.add(row.topic)
        if row.topic == "watch.events":
            assert {e["kind"] for e in payload["events"]} <= set(kinds.WATCH_KINDS)
    assert seen == set(TOPICS), f"not exercised: {sorted(set(TOPICS) - seen)}"
