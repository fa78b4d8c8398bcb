"""The versioned parameter set of the For You algorithm.

Everything that shapes what the feed shows and is not learned lives here: the
published weights of the final score, source quotas, the exploration traffic
pools, trending half-life and re-rank spacing. A parameter set is loaded from
JSON into frozen dataclasses; its version is a content hash of its canonical
JSON, so a served item's Reason names exactly which parameters ranked it and an
auditor can check a published file against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sovereel.feed.interface import ENGAGEMENT_KINDS, TASKS

SOURCES: tuple[str, ...] = ("embedding", "following", "trending", "exploration", "co_engagement", "content", "sound")
"""Candidate source tags, in the order their hits are merged."""
# Sources a parameter file may leave out (quota 0): parameter sets from before them keep their version.
OPTIONAL_SOURCES: frozenset[str] = frozenset({"sound"})


class ParamsError(ValueError):
    """A parameter file is malformed: unknown or missing keys, or values out of range."""


@dataclass(frozen=True)
class ExplorationParams:
    """The fresh-video traffic pool: audience sizes and the rates that earn the next pool."""

    share: float  # fraction of page slots reserved for exploration
    max_age_s: float  # videos older than this are no longer pushed as new
    pool_sizes: tuple[int, ...]  # impressions granted by each successive pool
    min_completion_rate: tuple[float, ...]  # per pool: completes / impressions needed to graduate
    min_engagement_rate: tuple[float, ...]  # per pool: engagements / impressions needed to graduate


@dataclass(frozen=True)
class TrendingParams:
    """Region popularity: engagement counts weighted by kind and decayed by age."""

    half_life_s: float
    kind_weights: Mapping[str, float]


@dataclass(frozen=True)
class FollowingParams:
    """Followed creators' newest videos."""

    max_age_s: float
    half_life_s: float
    per_creator: int  # so one prolific creator does not fill the source


@dataclass(frozen=True)
class HistoryParams:
    """How the viewer's recent engagements seed co-engagement and content similarity."""

    seed_count: int
    half_life_s: float
    kind_weights: Mapping[str, float]


@dataclass(frozen=True)
class RerankParams:
    """Spacing rules: any `creator_window` consecutive slots hold distinct creators; likewise topics.

    `skip_fatigue`: a topic the viewer swiped away this many times since they last engaged with it waits
    behind the other topics (0: off). Optional in the file, so parameter sets from before it keep their version.
    """

    creator_window: int
    topic_window: int
    skip_fatigue: int = 0


@dataclass(frozen=True)
class IndexParams:
    """The item ANN index: exact inner product below `hnsw_threshold` items, HNSW above."""

    hnsw_threshold: int
    hnsw_m: int
    ef_construction: int
    ef_search: int


@dataclass(frozen=True)
class Params:
    """One versioned parameter set."""

    name: str
    description: str
    weights: Mapping[str, float]
    quotas: Mapping[str, int]
    max_candidates: int
    exploration: ExplorationParams
    trending: TrendingParams
    following: FollowingParams
    history: HistoryParams
    rerank: RerankParams
    index: IndexParams

    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the canonical JSON."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode("utf-8")).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """The parameter set as JSON-ready data (what the version hashes)."""
        ex, tr, fo, hi, rr, ix = self.exploration, self.trending, self.following, self.history, self.rerank, self.index
        return {
            "name": self.name,
            "description": self.description,
            "weights": dict(self.weights),
            "quotas": {s: n for s, n in self.quotas.items() if n or s not in OPTIONAL_SOURCES},
            "max_candidates": self.max_candidates,
            "exploration": {
                "share": ex.share,
                "max_age_s": ex.max_age_s,
                "pool_sizes": list(ex.pool_sizes),
                "min_completion_rate": list(ex.min_completion_rate),
                "min_engagement_rate": list(ex.min_engagement_rate),
            },
            "trending": {"half_life_s": tr.half_life_s, "kind_weights": dict(tr.kind_weights)},
            "following": {"max_age_s": fo.max_age_s, "half_life_s": fo.half_life_s, "per_creator": fo.per_creator},
            "history": {
                "seed_count": hi.seed_count,
                "half_life_s": hi.half_life_s,
                "kind_weights": dict(hi.kind_weights),
            },
            "rerank": {
                "creator_window": rr.creator_window,
                "topic_window": rr.topic_window,
                **({"skip_fatigue": rr.skip_fatigue} if rr.skip_fatigue else {}),
            },
            "index": {
                "hnsw_threshold": ix.hnsw_threshold,
                "hnsw_m": ix.hnsw_m,
                "ef_construction": ix.ef_construction,
                "ef_search": ix.ef_search,
            },
        }


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 as is: the bytes a version hash covers."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _Section:
    """Strict reader for one JSON object: every key must be read, and none may be missing."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise ParamsError(f"{where}: expected an object")
        self._raw: dict[str, Any] = raw
        self._where = where
        self._read: set[str] = set()

    def _get(self, key: str) -> Any:
        if key not in self._raw:
            raise ParamsError(f"{self._where}.{key}: missing")
        self._read.add(key)
        return self._raw[key]

    def has(self, key: str) -> bool:
        return key in self._raw

    def section(self, key: str) -> _Section:
        return _Section(self._get(key), f"{self._where}.{key}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise ParamsError(f"{self._where}.{key}: expected a string")
        return value

    def number(self, key: str, *, low: float = 0.0, high: float = float("inf")) -> float:
        return _number(self._get(key), f"{self._where}.{key}", low, high)

    def count(self, key: str, *, low: int = 0) -> int:
        return _count(self._get(key), f"{self._where}.{key}", low)

    def numbers(self, key: str, *, low: float = 0.0, high: float = float("inf")) -> tuple[float, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            raise ParamsError(f"{self._where}.{key}: expected a non-empty list")
        return tuple(_number(v, f"{self._where}.{key}[{i}]", low, high) for i, v in enumerate(value))

    def counts(self, key: str, *, low: int = 0) -> tuple[int, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not value:
            raise ParamsError(f"{self._where}.{key}: expected a non-empty list")
        return tuple(_count(v, f"{self._where}.{key}[{i}]", low) for i, v in enumerate(value))

    def weights(self, key: str, allowed: tuple[str, ...], *, required: bool) -> Mapping[str, float]:
        table = self.section(key)
        unknown = set(table._raw) - set(allowed)
        if unknown:
            raise ParamsError(f"{self._where}.{key}: unknown keys {sorted(unknown)}")
        keys = allowed if required else tuple(k for k in allowed if k in table._raw)
        return MappingProxyType({k: table.number(k) for k in keys})

    def done(self) -> None:
        unknown = set(self._raw) - self._read
        if unknown:
            raise ParamsError(f"{self._where}: unknown keys {sorted(unknown)}")


def _number(value: Any, where: str, low: float, high: float) -> float:
    # bool is an int subclass; `true` as a weight is a typo, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamsError(f"{where}: expected a number")
    if not low <= float(value) <= high:
        raise ParamsError(f"{where}: {value} outside [{low}, {high}]")
    return float(value)


def _count(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParamsError(f"{where}: expected an integer >= {low}")
    return value


def params_from_dict(raw: Any) -> Params:
    """Validate a parsed parameter file and build the frozen parameter set."""
    top = _Section(raw, "params")
    quotas_section = top.section("quotas")
    quotas = MappingProxyType(
        {s: quotas_section.count(s) if s not in OPTIONAL_SOURCES or quotas_section.has(s) else 0 for s in SOURCES}
    )
    quotas_section.done()

    ex = top.section("exploration")
    exploration = ExplorationParams(
        share=ex.number("share", high=1.0),
        max_age_s=ex.number("max_age_s"),
        pool_sizes=ex.counts("pool_sizes", low=1),
        min_completion_rate=ex.numbers("min_completion_rate", high=1.0),
        min_engagement_rate=ex.numbers("min_engagement_rate", high=1.0),
    )
    ex.done()
    n_pools = len(exploration.pool_sizes)
    if len(exploration.min_completion_rate) != n_pools or len(exploration.min_engagement_rate) != n_pools:
        raise ParamsError("params.exploration: one completion and one engagement threshold per pool")

    tr = top.section("trending")
    trending = TrendingParams(
        half_life_s=tr.number("half_life_s", low=1.0),
        kind_weights=tr.weights("kind_weights", ENGAGEMENT_KINDS, required=False),
    )
    tr.done()
    fo = top.section("following")
    following = FollowingParams(
        max_age_s=fo.number("max_age_s"),
        half_life_s=fo.number("half_life_s", low=1.0),
        per_creator=fo.count("per_creator"),
    )
    fo.done()
    hi = top.section("history")
    history = HistoryParams(
        seed_count=hi.count("seed_count"),
        half_life_s=hi.number("half_life_s", low=1.0),
        kind_weights=hi.weights("kind_weights", ENGAGEMENT_KINDS, required=False),
    )
    hi.done()
    rr = top.section("rerank")
    rerank = RerankParams(
        creator_window=rr.count("creator_window", low=1),
        topic_window=rr.count("topic_window", low=1),
        skip_fatigue=rr.count("skip_fatigue") if rr.has("skip_fatigue") else 0,
    )
    rr.done()
    ix = top.section("index")
    index = IndexParams(
        hnsw_threshold=ix.count("hnsw_threshold"),
        hnsw_m=ix.count("hnsw_m", low=2),
        ef_construction=ix.count("ef_construction", low=1),
        ef_search=ix.count("ef_search", low=1),
    )
    ix.done()

    params = Params(
        name=top.text("name"),
        description=top.text("description"),
        weights=top.weights("weights", TASKS, required=True),
        quotas=quotas,
        max_candidates=top.count("max_candidates", low=1),
        exploration=exploration,
        trending=trending,
        following=following,
        history=history,
        rerank=rerank,
        index=index,
    )
    top.done()
    return params


def load_params(path: str | Path) -> Params:
    """Read and validate a parameter file."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ParamsError(f"{path}: not JSON ({exc})") from exc
    return params_from_dict(raw)


def default_params() -> Params:
    """The parameter set shipped with sovereel (feed/params/default.json)."""
    text = resources.files("sovereel.feed").joinpath("params/default.json").read_text(encoding="utf-8")
    return params_from_dict(json.loads(text))
