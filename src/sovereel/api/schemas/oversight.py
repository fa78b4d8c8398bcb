"""The overseer's read-only API and the public description of For You."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sovereel.api.schemas.common import Number, Public


class ImpressionSummary(Public):
    """One logged For You impression, its user pseudonymised."""

    id: int
    request_id: str | None
    user: str | None = Field(description="a pseudonym")
    video_id: str
    position: int
    served_at: Number
    personalised: bool
    sources: list[Any]
    model_version: Any
    params_version: Any
    score: Any
    replayable: bool


class ImpressionList(Public):
    """Impressions, newest first; pass `next_before` back for the next page."""

    items: list[ImpressionSummary]
    next_before: int | None


class Replay(Public):
    """One impression, its redacted reason record, and its scoring re-run term by term."""

    impression: ImpressionSummary
    reason: dict[str, Any]
    replay: dict[str, Any]


class LineageStep(Public):
    """One version in a model's chain of parents."""

    version: str
    in_registry: bool


class ModelCard(Public):
    """A model version's card: training data, configuration, metrics, parentage and signature check."""

    version: str
    current: bool
    region: Any
    trained_at: Any
    code_version: Any
    code_sha256: Any
    training_data: dict[str, Any]
    config: Any
    config_sha256: Any
    params_sha256: Any
    features: Any
    metrics: Any
    parent: Any
    parent_registry_version: str | None
    signature: str = Field(description="`verified`, or why not")
    files: Any


class ModelDetail(ModelCard):
    """One model card with its lineage."""

    lineage: list[LineageStep]


class ModelList(Public):
    """The region's model registry, newest first, and which version is current and serving."""

    current: str | None
    serving: str | None
    models: list[ModelCard]


class AlgorithmDescription(Public):
    """How For You works, in plain words, generated from the live parameter set."""

    params_name: str
    params_version: str
    model_version: Any
    summary: str
    sections: list[dict[str, Any]]
    parameters: dict[str, Any]


class ViewCheckpoint(Public):
    """The newest signed tree head, in the audit view's short form."""

    size: int
    root: str
    ts: Number
    key_id: str
    signature: str


class OversightAudit(Public):
    """Audit entries (people pseudonymised) with inclusion proofs against the newest signed checkpoint."""

    size: int
    checkpoint: ViewCheckpoint | None
    tree_size: int
    tree_root: str
    checkpoint_matches: bool
    entries: list[dict[str, Any]]
    next_start: int | None
    checkpoint_signature: str | None = Field(description="`verified`, or why not; null before the first")
