"""Saving and loading a FeedModel version: safetensors arrays, an id list and a JSON manifest.

A version directory holds three files:

- `model.safetensors`: every array (ranker weights, embedding rows and their optimizer
  state, co-engagement matrices as CSR parts, item counts, user profiles as CSR parts,
  the D2Q watch-time table). No pickle, so loading runs no code.
- `ids.json`: the raw ids the arrays are aligned with (embedding rows, catalogue columns,
  creators, hashtags, profile owners).
- `manifest.json`: version id, parent version, code version, config, data range, event
  count and digest, metrics, and the SHA-256 of the two other files, so a registry can sign
  the manifest alone and still vouch for the whole version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from safetensors.numpy import load_file, save_file

from sovereel.feed.catalogue import Catalogue
from sovereel.feed.embedding_table import EmbeddingTable
from sovereel.feed.features import FEATURES
from sovereel.feed.interface import TASKS
from sovereel.feed.model import FeedModel, ModelConfig
from sovereel.feed.ranker_net import RankerNet

ARRAYS = "model.safetensors"
IDS = "ids.json"
MANIFEST = "manifest.json"


class IncompatibleModel(ValueError):
    """A version this code cannot serve: trained on another list of ranker inputs (`features.FEATURES`)."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _table_arrays(prefix: str, table: EmbeddingTable, arrays: dict[str, npt.NDArray[Any]]) -> list[str | int]:
    keys, state = table.state()
    for name, arr in state.items():
        arrays[f"{prefix}.{name}"] = np.ascontiguousarray(arr)
    return keys


def save_model(model: FeedModel, directory: Path) -> Path:
    """Write the model's version directory; returns the manifest path."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, tensor in model.ranker.state_dict().items():
        arrays[f"ranker.{name}"] = tensor.detach().cpu().numpy().copy()
    user_keys = _table_arrays("users", model.users, arrays)
    item_keys = _table_arrays("items", model.items, arrays)
    co_shapes = {}
    for name, mat in model.co.items():
        csr = sp.csr_matrix(mat)
        arrays[f"co.{name}.data"] = csr.data.astype(np.float32)
        arrays[f"co.{name}.indices"] = csr.indices.astype(np.int64)
        arrays[f"co.{name}.indptr"] = csr.indptr.astype(np.int64)
        co_shapes[name] = list(csr.shape)
    if model.neighbour_matrix is not None:
        people = sp.csr_matrix(model.neighbour_matrix)
        arrays["knn.indices"] = people.indices.astype(np.int64)
        arrays["knn.indptr"] = people.indptr.astype(np.int64)
        co_shapes["userknn"] = list(people.shape)
    cat = model.catalogue
    n = len(cat.ids)
    arrays["cat.engagements"] = cat.engagements[:n].copy()
    arrays["cat.shown"] = cat.shown[:n].copy()
    arrays["cat.first_seen"] = cat.first_seen[:n].copy()
    arrays["cat.created_at"] = cat.created_at[:n].copy()
    arrays["cat.duration"] = cat.duration[:n].copy()
    arrays["cat.creator"] = cat.creator[:n].copy()
    arrays["cat.sound"] = cat.sound[:n].copy()
    arrays["cat.days"] = np.ascontiguousarray(cat.days[:, :n])
    arrays["cat.tags"] = np.array([t for ts in cat.tags for t in ts], dtype=np.int64)
    arrays["cat.tags_ptr"] = np.cumsum([0] + [len(ts) for ts in cat.tags]).astype(np.int64)
    owners = list(model.history)
    arrays["hist.ptr"] = np.cumsum([0] + [len(model.history[u]) for u in owners]).astype(np.int64)
    arrays["hist.cols"] = np.array([c for u in owners for c in model.history[u]], dtype=np.int64)
    arrays["hist.weights"] = np.array([w for u in owners for w in model.history[u].values()], dtype=np.float32)
    rejecters = list(model.rejections)
    arrays["rej.ptr"] = np.cumsum([0] + [len(model.rejections[u]) for u in rejecters]).astype(np.int64)
    arrays["rej.cols"] = np.array([c for u in rejecters for c in model.rejections[u]], dtype=np.int64)
    arrays["rej.ts"] = np.array([t for u in rejecters for t in model.rejections[u].values()], dtype=np.float64)
    arrays["quantiles"] = model.quantiles.astype(np.float32)
    save_file(arrays, str(directory / ARRAYS))
    ids = {
        "users": user_keys,
        "items": item_keys,
        "catalogue": cat.ids,
        "creators": list(cat.creators),
        "tags": list(cat.tag_ids),
        "sounds": list(cat.sound_ids),
        "history": owners,
        "rejections": rejecters,
        "neighbours": list(model.neighbour_rows),
    }
    (directory / IDS).write_text(json.dumps(ids))
    manifest = dict(model.manifest)
    manifest.update(
        {
            "version": model.version,
            "base_version": model.base_version,
            "online_events": model.online_events,
            "config": model.config.as_dict(),
            "features": list(FEATURES),
            "co_shapes": co_shapes,
            "co_items": model.co_items,
            "day0": cat.day0,
            "files": {ARRAYS: _sha256(directory / ARRAYS), IDS: _sha256(directory / IDS)},
        }
    )
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return path


def _load_table(table: EmbeddingTable, prefix: str, keys: list[str | int], arrays: dict[str, Any]) -> None:
    state = {name: arrays[f"{prefix}.{name}"] for name in ("vectors", "accum", "last_seen")}
    table.load_state(keys, state)


def load_model(directory: Path) -> FeedModel:
    """Read a version directory written by `save_model`, checking the files against the manifest."""
    manifest = json.loads((directory / MANIFEST).read_text())
    for name, digest in manifest["files"].items():
        if _sha256(directory / name) != digest:
            raise ValueError(f"{name} does not match the manifest's digest")
    arrays = load_file(str(directory / ARRAYS))
    ids = json.loads((directory / IDS).read_text())
    saved = list(manifest.get("features", FEATURES))
    # Inputs are only ever appended: a version trained before some were added reads the ones it knew and gives the
    # new ones zero weight, so it serves (and replays) what it served. Any other difference cannot be bridged.
    if saved != list(FEATURES)[: len(saved)]:
        raise IncompatibleModel(
            f"model version {manifest.get('version')} was trained on a different set of ranker inputs than this "
            "code computes; train a new version (`sovereel train`)"
        )
    cfg = ModelConfig.from_dict(manifest["config"])
    model = FeedModel(cfg)
    net = RankerNet(len(saved), cfg.hidden, cfg.dropout, cfg.ensemble, cfg.seed)
    state = {k[len("ranker.") :]: torch.from_numpy(v.copy()) for k, v in arrays.items() if k.startswith("ranker.")}
    state.setdefault("offset", torch.zeros(len(TASKS)))  # versions saved before heads were calibrated
    net.load_state_dict(state)
    if len(saved) < len(FEATURES):
        net.widen_inputs(len(FEATURES) - len(saved))
    net.eval()
    model.ranker = net
    _load_table(model.users, "users", ids["users"], arrays)
    _load_table(model.items, "items", ids["items"], arrays)
    shapes = dict(manifest["co_shapes"])
    knn_shape = shapes.pop("userknn", None)
    model.co = {
        name: sp.csr_matrix(
            (arrays[f"co.{name}.data"], arrays[f"co.{name}.indices"], arrays[f"co.{name}.indptr"]), shape=tuple(shape)
        )
        for name, shape in shapes.items()
    }
    if knn_shape is not None:
        indices, indptr = arrays["knn.indices"], arrays["knn.indptr"]
        people = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=tuple(knn_shape))
        model.neighbour_matrix = people
        model.neighbour_norms = np.sqrt(np.asarray(people.sum(axis=1)).ravel()).astype(np.float32)
        model.neighbour_rows = {u: i for i, u in enumerate(ids["neighbours"])}
    model.co_items = int(manifest["co_items"])
    cat = Catalogue()
    for video_id in ids["catalogue"]:
        cat.ensure(video_id)
    n = len(cat.ids)
    cat.engagements[:n] = arrays["cat.engagements"]
    if "cat.shown" in arrays:
        cat.shown[:n] = arrays["cat.shown"]
    cat.first_seen[:n] = arrays["cat.first_seen"]
    cat.created_at[:n] = arrays["cat.created_at"]
    cat.duration[:n] = arrays["cat.duration"]
    cat.creator[:n] = arrays["cat.creator"]
    if "cat.sound" in arrays:  # versions saved before sounds know none (the catalogue's -1)
        cat.sound[:n] = arrays["cat.sound"]
        cat.sound_ids = {snd: i for i, snd in enumerate(ids.get("sounds", []))}
    days = arrays["cat.days"]
    cat.days = np.zeros((days.shape[0], len(cat.engagements)), dtype=np.float32)
    cat.days[:, :n] = days
    cat.day0 = int(manifest["day0"])
    ptr, flat = arrays["cat.tags_ptr"], arrays["cat.tags"]
    cat.tags = [tuple(int(t) for t in flat[ptr[i] : ptr[i + 1]]) for i in range(n)]
    cat.creators = {c: i for i, c in enumerate(ids["creators"])}
    cat.tag_ids = {t: i for i, t in enumerate(ids["tags"])}
    model.catalogue = cat
    hptr, hcols, hw = arrays["hist.ptr"], arrays["hist.cols"], arrays["hist.weights"]
    model.history = {
        u: dict(zip(hcols[hptr[i] : hptr[i + 1]].tolist(), hw[hptr[i] : hptr[i + 1]].tolist(), strict=True))
        for i, u in enumerate(ids["history"])
    }
    if "rej.ptr" in arrays:
        rptr, rcols, rts = arrays["rej.ptr"], arrays["rej.cols"], arrays["rej.ts"]
        model.rejections = {
            u: dict(zip(rcols[rptr[i] : rptr[i + 1]].tolist(), rts[rptr[i] : rptr[i + 1]].tolist(), strict=True))
            for i, u in enumerate(ids.get("rejections", []))
        }
    model.quantiles = arrays["quantiles"]
    model.base_version = str(manifest["base_version"])
    model.online_events = int(manifest["online_events"])
    model.manifest = {k: v for k, v in manifest.items() if k not in ("files", "co_shapes", "day0", "co_items")}
    return model
