"""The watch-event batch the page reports impressions, plays, progress and skips in, and the answer to it."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sovereel.api.schemas.common import Public
from sovereel.events.kinds import ViewSource, WatchKind

FUTURE_SLACK_S = 300.0
MAX_AGE_S = 7 * 86400.0
# The document's form of the client_id check: ECMA and Python regexes both read `(?![\s\S])` as the end of the
# string (`\z`, which the check itself uses, is Rust's and Python 3.14's only).
CLIENT_ID_DOC_PATTERN = r"^[A-Za-z0-9_-]{8,64}(?![\s\S])"
# Pydantic writes the bounds of a union as non-standard `ge`/`le` keys, which validators ignore: say them plainly.
SECONDS_DOC: dict[str, Any] = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 36000}, {"type": "null"}]}


class EventIn(BaseModel):
    """One watch event. `ts` is the client's clock in epoch milliseconds."""

    model_config = ConfigDict(extra="forbid", strict=True)
    client_id: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+\z",  # Rust regex: \z is the end
        json_schema_extra={"pattern": CLIENT_ID_DOC_PATTERN},
    )
    kind: WatchKind
    video_id: str = Field(min_length=1, max_length=32)
    ts: int | float = Field(description="epoch milliseconds, within the last 7 days and at most 5 minutes ahead")
    watched_s: float | int | None = Field(None, ge=0, le=36000, json_schema_extra=SECONDS_DOC)
    position_s: float | int | None = Field(None, ge=0, le=36000, json_schema_extra=SECONDS_DOC)
    request_id: str | None = Field(None, max_length=32)
    source: ViewSource | None = Field(
        None, description="where the viewer found the video (a feed tab, a profile, a hashtag, search, a shared link)"
    )

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, v: float) -> float:
        now = time.time()
        seconds = v / 1000.0
        if seconds > now + FUTURE_SLACK_S:
            raise ValueError("timestamp is in the future")
        if seconds < now - MAX_AGE_S:
            raise ValueError("timestamp is more than 7 days old")
        return v


class EventBatch(BaseModel):
    """A batch: at most 1 MB, the region's `max_event_batch` events (500 by default) naming at most 100 videos."""

    model_config = ConfigDict(extra="forbid", strict=True)
    events: list[EventIn] = Field(json_schema_extra={"maxItems": 500})


class EventsAccepted(Public):
    """How many events were stored, and how many were already (by client_id)."""

    accepted: int
    duplicates: int
