"""One typed settings object, read from the environment (SOVEREEL_*) and .env.

Every setting is documented in its Field description; `tests/test_settings.py`
fails if one is not. A process serves exactly one region and holds the URLs of
that region's stores only.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Refused outside development (see the validator).
DEV_SECRET = "dev-insecure-secret-change-me"  # nosec B105
REGION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")  # \Z, not $: "eu\n" is no region


def parse_rate(spec: str) -> tuple[int, float]:
    """'COUNT/SECONDS' as (count, seconds); ValueError when malformed."""
    count, _, seconds = spec.partition("/")
    try:
        n, s = int(count), float(seconds)
    except ValueError:
        raise ValueError(f"a rate limit is COUNT/SECONDS, like 10/60, not {spec!r}") from None
    if n < 1 or s <= 0:
        raise ValueError(f"a rate limit needs COUNT >= 1 and SECONDS > 0, not {spec!r}")
    return n, s


class Settings(BaseSettings):
    """Settings of one sovereel process (one region)."""

    model_config = SettingsConfigDict(env_prefix="SOVEREEL_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development | test | production; production refuses the default secret."
    )
    data_dir: Path = Field(Path("data"), description="Root folder of the embedded stores (SQLite files, media).")
    region: str = Field("default", description="The region (jurisdiction) this process serves.")
    database_url: str = Field(
        "", description="SQLAlchemy URL of the region's metadata store; empty = SQLite file under data_dir/<region>."
    )
    media_url: str = Field(
        "", description="Blob store URL of the region's media (file://…); empty = data_dir/<region>/media."
    )
    bus_url: str = Field(
        "memory://",
        description="Event bus URL: memory:// (in process), local:///path/bus.sock (the processes of "
        "`serve --processes`, through its hub) or nats://host:4222 (JetStream, scaled layout).",
    )
    bus_consumer: str = Field(
        "", description="Durable NATS consumer name of this process (empty = a per-process consumer from its start)."
    )
    hot_state_url: str = Field(
        "memory://",
        description="Hot state (rate limits, session lookups): memory:// (in process), local:///path/bus.sock "
        "(kept by the hub of `serve --processes`) or redis://host:6379/0.",
    )
    run_relay: bool = Field(
        True, description="Relay the outbox to the bus inside this process (off when a separate `sovereel relay` runs)."
    )
    learner_process: bool = Field(
        False,
        description="A separate `sovereel learner` process learns from the region's events (the scaled layout): "
        "this process applies the deltas it publishes instead of learning itself, and leaves the creator-analytics "
        "fold to it. Needs a shared bus (local:// or nats://).",
    )
    metrics_enabled: bool = Field(
        True,
        description="Serve Prometheus metrics at /metrics: to loopback requests not relayed by a proxy, and to "
        "any request bearing SOVEREEL_METRICS_TOKEN; 404 to everyone else.",
    )
    metrics_token: str = Field(
        "",
        description="A scraper sends `Authorization: Bearer <token>` to read /metrics from another host "
        "(empty = only loopback may read it).",
    )
    body_idle_s: float = Field(
        30.0,
        gt=0,
        description="A request body that sends nothing for this many seconds is answered 408 and dropped.",
    )
    body_min_rate: int = Field(
        1024,
        ge=0,
        description="After its first body_idle_s, a request body must average at least this many bytes a "
        "second (0 = no minimum), so a trickle cannot hold a connection open.",
    )
    rate_limits: bool = Field(True, description="Enforce the request rate limits below (429 with Retry-After).")
    rate_signup: str = Field("10/3600", description="Sign-ups per client IP: COUNT/SECONDS.")
    rate_login_ip: str = Field("30/300", description="Login attempts per client IP: COUNT/SECONDS.")
    rate_login_account: str = Field(
        "5/900",
        description="Sign-in attempts on one account from one address (or known device) without a success, "
        "before that address must wait: COUNT/SECONDS.",
    )
    rate_login_new_device: str = Field(
        "20/3600",
        description="Sign-in attempts on one account from all new devices and addresses together, before only "
        "the account's known devices may try: COUNT/SECONDS.",
    )
    rate_upload: str = Field("20/3600", description="Video uploads per user: COUNT/SECONDS.")
    rate_comment: str = Field("20/60", description="Comments per user: COUNT/SECONDS.")
    rate_events: str = Field("120/60", description="Watch-event batches per user: COUNT/SECONDS.")
    rate_share_ip: str = Field("60/3600", description="Shares per client IP, signed in or not: COUNT/SECONDS.")
    rate_writes_ip: str = Field(
        "600/60", description="Uploads, comments and event batches per client IP: COUNT/SECONDS."
    )
    secret_key: str = Field(
        DEV_SECRET, description="Secret used to derive session-token digests; set it in production."
    )
    session_days: int = Field(30, ge=1, description="How long a login session lasts, in days.")
    max_upload_mb: int = Field(200, ge=1, description="Largest accepted upload, in MiB (413 above it).")
    max_duration_s: float = Field(180.0, gt=0, description="Longest accepted video, in seconds (422 above it).")
    max_caption_chars: int = Field(2200, ge=1, description="Longest accepted caption, in characters.")
    max_event_batch: int = Field(500, ge=1, description="Most events accepted in one POST /api/events batch.")
    run_workers: bool = Field(
        True, description="Run the media worker as threads inside `serve` (off when a separate `sovereel worker` runs)."
    )
    media_threads: int = Field(1, ge=1, le=16, description="Transcode jobs run at once by an in-process worker.")
    ffmpeg_threads: int = Field(0, ge=0, description="Threads ffmpeg may use per job (0 = ffmpeg decides).")
    job_max_attempts: int = Field(
        4,
        ge=1,
        description=(
            "Transcode attempts, for failures on the server's side, before a video is marked failed "
            "(a damaged file fails at once)."
        ),
    )
    job_backoff_s: float = Field(2.0, ge=0, description="Base of the exponential retry backoff for media jobs.")
    job_lock_s: float = Field(
        60.0,
        gt=0,
        description="A media job's lease; renewed while it runs, taken over by another worker once it lapses.",
    )
    train_every_s: float = Field(
        3600.0, ge=0, description="`serve` trains a new For You version this often if 100+ new events came (0 = off)."
    )
    x264_preset: str = Field("veryfast", description="x264 preset used for renditions.")
    reports_per_day: int = Field(20, ge=1, description="Reports one account may file in 24 hours (429 above it).")
    hold_new_uploads: bool = Field(
        False, description="Hold every new upload for a moderator's review before anyone else can see it."
    )
    reupload_policy: Literal["hold", "refuse"] = Field(
        "hold", description="What happens to an upload whose frames match a removed video: hold (for review) | refuse."
    )
    signing_key_file: Path | None = Field(
        None,
        description="The region's Ed25519 signing key (PEM, 0600); default <region dir>/signing_key.pem",
    )
    trusted_keys_dir: Path | None = Field(
        None, description="Folder of other regions' public keys (<region>.pub, hex); empty = <region dir>/trusted_keys."
    )
    regions: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="The deployment's regions as JSON: {name: {database_url, media_url, bus_url, public_url}}; "
        "a process keeps only its own region's store URLs and the others' public URLs.",
    )
    public_url: str = Field("", description="This region's public base URL (links, content exchange); empty = none.")
    exchange_every_s: float = Field(
        60.0, ge=0, description="`serve` pulls other regions' public videos through the exchange this often (0 = off)."
    )
    export_link_s: int = Field(3600, ge=60, description='How long a "Download my data" link stays valid, in seconds.')

    @field_validator(
        "rate_signup",
        "rate_login_ip",
        "rate_login_account",
        "rate_login_new_device",
        "rate_upload",
        "rate_comment",
        "rate_events",
        "rate_writes_ip",
        "rate_share_ip",
    )
    @classmethod
    def _rate(cls, v: str) -> str:
        parse_rate(v)
        return v

    @field_validator("region")
    @classmethod
    def _region_name(cls, v: str) -> str:
        if not REGION_RE.fullmatch(v):
            raise ValueError("region must be lower-case letters, digits, '-' or '_' (max 32)")
        return v

    @model_validator(mode="after")
    def _learner_process_needs_a_shared_bus(self) -> Settings:
        if self.learner_process and self.bus_url == "memory://":
            raise ValueError("SOVEREEL_LEARNER_PROCESS needs a bus shared with the learner: SOVEREEL_BUS_URL=nats://…")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("SOVEREEL_SECRET_KEY must be set in production")
        return self

    @property
    def region_dir(self) -> Path:
        return self.data_dir / self.region

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.region_dir / 'sovereel.db').resolve()}"

    @cached_property
    def effective_media_url(self) -> str:
        if self.media_url:
            return self.media_url
        return f"file://{(self.region_dir / 'media').resolve()}"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
