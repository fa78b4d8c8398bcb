"""Row-invariant ranking: the model's predictions computed so that one video's result never depends on the batch.

A served item's score must replay bit for bit from its logged inputs, one item at a time. A batched matrix
product does not give that: BLAS blocks a matrix of 600 candidates differently from a matrix of one, and the
last bits of a row's result change with the batch around it. Here every layer multiplies one row at a time
(numpy's stacked matmul runs one small product per row), so serving a page and replaying one of its items run
the very same arithmetic. The inputs logged for replay are the ranker's feature rows (`FeedModel.features`):
they hold everything the viewer's state and the video contributed at serving time.

Pure: no I/O. The serving scorer (foryou.scorer.LockedScorer) and the overseer's replay both call this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

from sovereel.feed.features import FEATURES
from sovereel.feed.interface import TASKS, VideoInfo
from sovereel.feed.model import FeedModel
from sovereel.feed.ranker_net import LOGIT_CLIP, PRIOR_BIAS, PRIOR_WEIGHTS, Z_CLIP, RankerNet

FloatArray = npt.NDArray[np.float32]
UNTRAINED = "untrained"


class UnsupportedRanker(TypeError):
    """The ranker holds a layer this module cannot evaluate row by row (a new layer type needs adding here)."""


def _rows(x: FloatArray) -> FloatArray:
    # (n, features) -> (n, 1, features): np.matmul then runs one 1-row product per row, identical for any n.
    return np.ascontiguousarray(x, dtype=np.float32)[:, None, :]


def _layer(layer: nn.Module, h: FloatArray) -> FloatArray:
    if isinstance(layer, nn.Linear):
        weight = layer.weight.detach().cpu().numpy().astype(np.float32).T.copy()
        out = np.matmul(h, weight)
        if layer.bias is not None:
            out = out + layer.bias.detach().cpu().numpy().astype(np.float32)
        return np.asarray(out, dtype=np.float32)
    if isinstance(layer, nn.ReLU):
        return np.maximum(h, np.float32(0.0))
    if isinstance(layer, nn.Dropout | nn.Identity):
        return h  # evaluation mode: dropout does nothing
    raise UnsupportedRanker(f"cannot evaluate a {type(layer).__name__} layer row by row")


def ranker_logits(ranker: RankerNet, features: FloatArray) -> FloatArray:
    """The ranker's logits (n x tasks) for feature rows (n x FEATURES), each row computed on its own."""
    mean = ranker.mean.detach().cpu().numpy().astype(np.float32)
    scale = ranker.scale.detach().cpu().numpy().astype(np.float32)
    z = _rows(np.clip((np.asarray(features, dtype=np.float32) - mean) / scale, -Z_CLIP, Z_CLIP))
    total: FloatArray | None = None
    for member in ranker.members:
        h = z
        layers = list(member) if isinstance(member, nn.Sequential) else [member]
        for layer in layers:
            h = _layer(layer, h)
        total = h if total is None else np.asarray(total + h, dtype=np.float32)
    if total is None:
        raise UnsupportedRanker("the ranker has no members")
    offset = ranker.offset.detach().cpu().numpy().astype(np.float32)  # per-task calibration (RankerNet.offset)
    return np.asarray(total / np.float32(len(ranker.members)) + offset, dtype=np.float32)[:, 0, :]


def prior_logits_rows(features: FloatArray) -> FloatArray:
    """The untrained model's fixed prior (ranker_net.prior_logits), each row computed on its own."""
    w = np.zeros((len(FEATURES), 1), dtype=np.float32)
    for name, weight in PRIOR_WEIGHTS.items():
        w[FEATURES.index(name), 0] = weight
    logit = np.matmul(_rows(features), w)[:, 0, 0] + np.float32(PRIOR_BIAS)
    return np.repeat(logit.astype(np.float32)[:, None], len(TASKS), axis=1)


def predictions_from_features(ranker: RankerNet | None, features: FloatArray) -> dict[str, FloatArray]:
    """Per task, predictions in (0, 1) from feature rows; `ranker` None means the untrained prior."""
    feats = np.asarray(features, dtype=np.float32).reshape(-1, len(FEATURES))
    logits = prior_logits_rows(feats) if ranker is None else ranker_logits(ranker, feats)
    # Clipped as FeedModel.score_lists clips them: predictions stay strictly inside (0, 1).
    clipped = np.clip(logits, -LOGIT_CLIP, LOGIT_CLIP)
    probs = (np.float32(1.0) / (np.float32(1.0) + np.exp(-clipped))).astype(np.float32)
    return {task: probs[:, k] for k, task in enumerate(TASKS)}


def serving_ranker(model: FeedModel) -> RankerNet | None:
    """The ranker a model scores with: None while it is untrained (it then uses the fixed prior)."""
    return None if model.base_version == UNTRAINED else model.ranker


def predict_with_features(
    model: FeedModel, user_id: str | None, videos: list[VideoInfo], now: float
) -> tuple[dict[str, Any], FloatArray]:
    """Predictions for videos and the feature rows they were computed from (what replay re-runs)."""
    if not videos:
        empty = np.zeros((0, len(FEATURES)), dtype=np.float32)
        return {t: np.zeros(0, dtype=np.float32) for t in TASKS}, empty
    cols = np.array([model._column(v) for v in videos], dtype=np.int64)[None, :]
    feats = model.features([user_id], cols, np.array([now], dtype=np.float64), keep_scale=True)[0]
    return predictions_from_features(serving_ranker(model), feats), feats


def base_version(model_version: str) -> str:
    """The registry version a served model version derives from ('v1+42' was v1 after 42 online events)."""
    return model_version.split("+", 1)[0]
