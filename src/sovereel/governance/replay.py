"""Replay of a logged For You impression: the same model version, the logged inputs, the same scores term by term.

What is logged (feed_service writes it into `feed_impressions.reason`): the model version (`base+N`, N online
events after the registry version `base`), the parameter version, every score term, and, for a personalised
item, the ranker's feature row — everything the viewer's state and the video contributed at serving time.
Replay loads the ranker of version `base` from the region's model registry (online learning never changes
the ranker, only the state the features are computed from), runs it on the logged feature row with the same
row-invariant arithmetic serving used (`feed.row_scoring`), and weighs the predictions with the parameter set
of the logged version (kept in the registry's parameter archive, `ModelRegistry.archive_params`). A
non-personalised item's score is region popularity over the page's top popularity: replay recomputes that ratio
from its logged inputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sovereel.errors import AppError
from sovereel.feed.features import FEATURES
from sovereel.feed.interface import TASKS
from sovereel.feed.params import Params, params_from_dict
from sovereel.feed.pipeline import score_terms
from sovereel.feed.ranker_net import RankerNet
from sovereel.feed.row_scoring import UNTRAINED, base_version, predictions_from_features
from sovereel.governance.model_registry import ModelRegistry

MAX_CACHED_MODELS = 4


class ReplayUnavailable(AppError):
    """The impression cannot be replayed: its model or parameter version is no longer available."""

    status = 409
    code = "replay_unavailable"


def load_archived_params(registry: ModelRegistry, version: str, live: Params | None = None) -> Params:
    """The parameter set of `version`: the live one if it matches, else the archived copy (checked by hash)."""
    if live is not None and live.version == version:
        return live
    stored = registry.archived_params(version)  # NotFound for a name that is not a parameter version
    if stored is None:
        raise ReplayUnavailable(f"parameter set {version} is not in the archive")
    params = params_from_dict(stored)
    if params.version != version:
        raise ReplayUnavailable(f"the archived parameter set {version} does not hash to its version")
    return params


class RankerCache:
    """Rankers of registry versions, loaded on first use (a few kept: replays cluster on recent versions)."""

    def __init__(self, registry: ModelRegistry, check: Callable[[str], str | None] | None = None) -> None:
        self.registry = registry
        self.check = check  # version -> None when it may be used, else why not (signature, file digests)
        self._lock = threading.Lock()
        self._rankers: dict[str, RankerNet | None] = {}

    def get(self, version: str) -> RankerNet | None:
        """The ranker of a registry version; None for the untrained prior."""
        if version == UNTRAINED:
            return None
        # Checked on every use, cached or not: a replay is only as good as the registry that still holds the version.
        if not version.replace("-", "").replace("_", "").isalnum() or not self.registry.has_version(version):
            raise ReplayUnavailable(f"model version {version} is not in the region's registry")
        with self._lock:
            if version in self._rankers:
                return self._rankers[version]
        problem = self.check(version) if self.check is not None else None
        if problem is not None:
            raise ReplayUnavailable(f"model version {version} fails its check: {problem}")
        try:
            ranker = self.registry.load(version).ranker
        except ValueError as exc:  # e.g. a version trained on other ranker inputs than this code computes
            raise ReplayUnavailable(f"model version {version} cannot be replayed by this code: {exc}") from exc
        with self._lock:
            if len(self._rankers) >= MAX_CACHED_MODELS:
                self._rankers.pop(next(iter(self._rankers)))
            self._rankers[version] = ranker
        return ranker


@dataclass
class TermCheck:
    """One score term: logged and replayed prediction, weight and term, and whether they are equal."""

    name: str
    weight: float | None
    logged_prediction: float | None
    replayed_prediction: float | None
    logged_term: float
    replayed_term: float

    @property
    def equal(self) -> bool:
        return self.logged_term == self.replayed_term and self.logged_prediction == self.replayed_prediction

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "logged_prediction": self.logged_prediction,
            "replayed_prediction": self.replayed_prediction,
            "logged_term": self.logged_term,
            "replayed_term": self.replayed_term,
            "equal": self.equal,
        }


@dataclass
class ReplayResult:
    """The outcome of replaying one impression."""

    model_version: str
    registry_version: str | None
    params_version: str
    personalised: bool
    logged_score: float
    replayed_score: float
    terms: list[TermCheck] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        return self.logged_score == self.replayed_score and all(t.equal for t in self.terms)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "registry_version": self.registry_version,
            "params_version": self.params_version,
            "personalised": self.personalised,
            "logged_score": self.logged_score,
            "replayed_score": self.replayed_score,
            "equal": self.equal,
            "terms": [t.as_dict() for t in self.terms],
            "features": self.features,
        }


def replay_reason(reason: dict[str, Any], params: Params, rankers: RankerCache) -> ReplayResult:
    """Re-run scoring for one logged reason record and compare every term with what was logged."""
    inputs: dict[str, Any] = dict(reason.get("inputs") or {})
    logged_terms: dict[str, float] = {k: float(v) for k, v in dict(reason.get("terms") or {}).items()}
    model_version = str(reason.get("model_version", ""))
    if not reason.get("personalised", True):
        top = float(inputs.get("max_popularity", 0.0))
        popularity = float(inputs.get("popularity", 0.0)) / top if top > 0 else 0.0
        check = TermCheck("popularity", None, None, None, logged_terms.get("popularity", float("nan")), popularity)
        return ReplayResult(model_version, None, params.version, False, float(reason["score"]), popularity, [check], {})
    features = inputs.get("features")
    if not isinstance(features, list):
        raise ReplayUnavailable("this impression was logged without its ranker inputs (served before replay logging)")
    if len(features) > len(FEATURES):
        raise ReplayUnavailable(
            f"this impression was ranked on {len(features)} ranker inputs and this code computes {len(FEATURES)}"
        )
    # Ranked before some inputs were appended (the sound inputs): its version reads them with zero weight
    # (`RankerNet.widen_inputs`), so zeros in their place replay the same logits.
    features = [*features, *[0.0] * (len(FEATURES) - len(features))]
    registry_version = base_version(model_version)
    ranker = rankers.get(registry_version)
    row = np.asarray(features, dtype=np.float32)[None, :]
    preds = {task: float(values[0]) for task, values in predictions_from_features(ranker, row).items()}
    score, terms = score_terms(params, preds)
    logged_preds: dict[str, Any] = dict(inputs.get("predictions") or {})
    checks = [
        TermCheck(
            task,
            params.weights[task],
            float(logged_preds[task]) if task in logged_preds else None,
            preds[task],
            logged_terms.get(task, float("nan")),
            terms[task],
        )
        for task in TASKS
    ]
    named = {name: float(value) for name, value in zip(FEATURES, features, strict=True)}
    return ReplayResult(
        model_version, registry_version, params.version, True, float(reason["score"]), score, checks, named
    )
