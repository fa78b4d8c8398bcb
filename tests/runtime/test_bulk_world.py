"""`sovereel world`: a bulk-built region serves For You pages over the API, with playable shared media and a
per-stage timing of every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from sovereel.api.app import create_app
from sovereel.cli.main import main
from sovereel.demo.bulk_world import MEDIA_PREFIX, WORLD_PASSWORD
from sovereel.governance.model_registry import ModelRegistry
from sovereel.runtime.region import open_runtime
from sovereel.storage.models import Event, User, Video
from sovereel.telemetry import FORYOU_STAGES
from tests.support.settings import make_settings


def _stage_count(stage: str) -> float:
    return REGISTRY.get_sample_value("sovereel_foryou_stage_seconds_count", {"stage": stage}) or 0.0


@pytest.mark.usefixtures("ffmpeg")
def test_a_bulk_world_serves_for_you_with_shared_media(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    argv = ["--data-dir", str(settings.data_dir), "world", "--videos", "200", "--users", "50", "--events", "2000"]
    assert main([*argv, "--epochs", "1"]) == 0
    assert main(argv) == 0  # a second run leaves the world as it is
    version = ModelRegistry(settings.region_dir).current()
    assert version is not None

    before = {stage: _stage_count(stage) for stage in FORYOU_STAGES}
    rt = open_runtime(settings)
    try:
        with rt.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Video).where(Video.status == "ready")) == 200
            assert s.scalar(select(func.count()).select_from(User)) == 50
            assert 2000 <= (s.scalar(select(func.count()).select_from(Event)) or 0) < 2003
            world_ids = set(s.scalars(select(Video.id)))
        with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
            token = client.post("/api/auth/login", json={"username": "world7", "password": WORLD_PASSWORD}).json()
            client.headers["Authorization"] = f"Bearer {token['token']}"
            r = client.get("/api/feed/foryou", params={"limit": 10})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert len(items) == 10 and {i["id"] for i in items} <= world_ids
            # The trained version ranked them (personalised items record the model that scored them).
            assert any(str(i["reason"]["model_version"]).startswith(version) for i in items)
            nxt = client.get("/api/feed/foryou", params={"limit": 10, "cursor": r.json()["next_cursor"]})
            assert nxt.status_code == 200 and not {i["id"] for i in nxt.json()["items"]} & {i["id"] for i in items}

            # Every video's media is the one shared, transcoded set, served with Range like any other.
            first = items[0]
            rendition = first["renditions"][0]
            media = client.get(rendition["url"], headers={"Range": "bytes=0-99"})
            assert media.status_code == 206 and len(media.content) == 100
            assert media.headers["content-type"] == "video/mp4"

            # Deleting one video removes its own prefix only: the shared files stay for every other video.
            with rt.db.session() as s:
                keys = [
                    r["key"] for r in s.scalars(select(Video.renditions).where(Video.id == first["id"])).one().values()
                ]
            assert keys and all(k.startswith(f"{MEDIA_PREFIX}/") for k in keys)
            creator = client.post(
                "/api/auth/login",
                json={"username": first["creator"]["username"], "password": WORLD_PASSWORD},
            ).json()["token"]
            gone = client.delete(f"/api/videos/{first['id']}", headers={"Authorization": f"Bearer {creator}"})
            assert gone.status_code == 204, gone.text
            other = items[1]
            again = client.get(other["renditions"][0]["url"], headers={"Range": "bytes=0-99"})
            assert again.status_code == 206

        # Each page gave one sample per stage it ran (signed in: all of them).
        for stage in FORYOU_STAGES:
            assert _stage_count(stage) - before[stage] >= 2, stage
    finally:
        rt.close()


@pytest.mark.parametrize(
    "command", [["world", "--videos", "5", "--users", "2", "--events", "10"], ["demo", "--videos", "1"]]
)
def test_worlds_with_published_passwords_are_refused_in_production(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOVEREEL_ENVIRONMENT", "production")
    monkeypatch.setenv("SOVEREEL_SECRET_KEY", "a-real-production-secret-of-enough-length-0123456789")
    assert main(["--data-dir", str(tmp_path / "data"), *command]) == 1
    assert "not in production" in capsys.readouterr().err
    assert not any((tmp_path / "data").rglob("*.db")), "nothing may be created before the refusal"


@pytest.mark.parametrize("count", ["-5", "0", "many", "99999999999"])
def test_world_sizes_must_be_whole_numbers_in_range(count: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--data-dir", str(tmp_path / "data"), "world", "--videos", count])
    assert refused.value.code == 2
    assert not (tmp_path / "data").exists(), "nothing may be created for a refused size"
