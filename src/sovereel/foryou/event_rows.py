"""Interaction signals as the For You model learns from them (pure: no I/O)."""

from __future__ import annotations

from sovereel.events.kinds import MODEL_KINDS
from sovereel.feed.interface import VideoInfo
from sovereel.feed.model import Event as ModelEvent
from sovereel.foryou.live_state import Signal


def model_events(signals: list[Signal], durations: dict[str, float]) -> list[ModelEvent]:
    """Signals as the model learns from them (a loop counts as a complete; unlikes teach nothing)."""
    out = []
    for sig in signals:
        kind = "complete" if sig.kind == "loop" else sig.kind
        if kind not in MODEL_KINDS:
            continue
        out.append(
            ModelEvent(
                user_id=sig.user_id,
                video_id=sig.video_id,
                ts=sig.at,
                kind=kind,
                watched_s=float(sig.watched_s or 0.0),
                duration_s=durations.get(sig.video_id, 0.0),
            )
        )
    return out


def durations_of(videos: list[VideoInfo]) -> dict[str, float]:
    """Each video's duration by id (what a watch event's progress is measured against)."""
    return {v.id: v.duration_s for v in videos}
