"""The versioned parameter set: loaded strictly, frozen, versioned by content."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from sovereel.feed.interface import TASKS
from sovereel.feed.params import SOURCES, ParamsError, canonical_json, default_params, load_params, params_from_dict


def _raw() -> dict[str, Any]:
    text = resources.files("sovereel.feed").joinpath("params/default.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_default_params_publish_a_weight_for_every_task_and_a_quota_for_every_source() -> None:
    params = default_params()
    assert set(params.weights) == set(TASKS)
    assert set(params.quotas) == set(SOURCES)
    assert len(params.exploration.pool_sizes) == len(params.exploration.min_completion_rate)


def test_version_is_the_first_12_hex_of_the_sha256_of_the_canonical_json() -> None:
    params = default_params()
    expected = hashlib.sha256(canonical_json(params.to_dict()).encode()).hexdigest()[:12]
    assert params.version == expected
    assert len(params.version) == 12 and int(params.version, 16) >= 0


def test_the_version_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    raw = _raw()
    reformatted = tmp_path / "reformatted.json"
    # Keys reordered, indentation changed and 1.0 written as 1: the same parameters, the same version.
    shuffled = dict(reversed(list(raw.items())))
    shuffled["weights"] = {k: (int(v) if float(v).is_integer() else v) for k, v in raw["weights"].items()}
    reformatted.write_text(json.dumps(shuffled, indent=7), encoding="utf-8")
    assert load_params(reformatted).version == default_params().version

    changed = copy.deepcopy(raw)
    changed["weights"]["share"] = raw["weights"]["share"] + 0.5
    assert params_from_dict(changed).version != default_params().version


def test_the_loaded_parameters_round_trip_through_their_dict() -> None:
    params = default_params()
    again = params_from_dict(json.loads(json.dumps(params.to_dict())))
    assert again == params and again.version == params.version


def test_parameters_cannot_be_changed_after_loading() -> None:
    params = default_params()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.max_candidates = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.weights["like"] = 100.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["weights"].pop("follow"), "follow"),
        (lambda r: r["weights"].update(dwell=1.0), "unknown"),
        (lambda r: r.update(surprise=1), "unknown"),
        (lambda r: r["quotas"].update(embedding=-1), "embedding"),
        (lambda r: r["weights"].update(like=True), "like"),
        (lambda r: r["exploration"].update(share=1.5), "share"),
        (lambda r: r["exploration"]["pool_sizes"].append(100000), "threshold"),
        (lambda r: r["trending"].update(half_life_s="6h"), "half_life_s"),
        (lambda r: r["rerank"].update(creator_window=0), "creator_window"),
        (lambda r: r["rerank"].update(skip_fatigue=-1), "skip_fatigue"),
    ],
)
def test_malformed_parameter_files_are_refused_with_the_offending_key(mutate: Any, message: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(ParamsError, match=message):
        params_from_dict(raw)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{weights: 1", encoding="utf-8")
    with pytest.raises(ParamsError, match="not JSON"):
        load_params(bad)


def test_a_parameter_set_from_before_skip_fatigue_loads_with_the_rule_off_and_keeps_its_version() -> None:
    raw = _raw()
    assert raw["rerank"]["skip_fatigue"] == 2
    del raw["rerank"]["skip_fatigue"]
    older = params_from_dict(raw)
    assert older.rerank.skip_fatigue == 0
    assert "skip_fatigue" not in older.to_dict()["rerank"]  # the version hashes exactly the file it came from
    current = default_params().to_dict()
    del current["rerank"]["skip_fatigue"]
    assert older.to_dict() == current  # exactly what was hashed before the rule existed
    assert older.version != default_params().version
