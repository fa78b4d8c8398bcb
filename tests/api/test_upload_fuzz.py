"""Upload validation under fuzzing: random and mutated bytes never crash or hang sniffing, probing or the endpoint.

Hypothesis drives a bounded number of examples (a fixed seed through `derandomize`, so CI runs the same
inputs every time); every ffprobe call has its own timeout, and each test has a wall-clock deadline.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovereel.api.app import create_app
from sovereel.media.probe import ProbeError, ProbeResult, parse_probe, probe_file
from sovereel.media.sniff import EBML_MAGIC, SNIFF_BYTES, ebml_doctype, read_boxes, sniff_container
from sovereel.runtime.region import RegionRuntime
from tests.support.api import signup
from tests.support.media_clips import make_clip
from tests.support.settings import make_settings

FUZZ = settings(
    derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None, max_examples=300
)
CONTAINERS = {"mp4", "mov", "webm", "mkv", None}

# Leading bytes that steer random data into each branch of the sniffer and box walker.
PREFIXES = st.sampled_from(
    [b"", b"\x00\x00\x00\x18ftypisom", b"\x00\x00\x00\x14ftypqt  ", b"\x00\x00\x00\x08moov", EBML_MAGIC,
     EBML_MAGIC + b"\x42\x82\x84webm", EBML_MAGIC + b"\x42\x82\x88matroska", b"\x00\x00\x00\x01mdat"]
)  # fmt: skip


@FUZZ
@given(prefix=PREFIXES, tail=st.binary(max_size=SNIFF_BYTES))
def test_sniffing_random_bytes_returns_a_known_container_or_none(prefix: bytes, tail: bytes) -> None:
    head = (prefix + tail)[:SNIFF_BYTES]
    assert sniff_container(head) in CONTAINERS
    doctype = ebml_doctype(head)
    assert doctype is None or isinstance(doctype, str)


@FUZZ
@given(prefix=PREFIXES, tail=st.binary(max_size=2048))
def test_walking_boxes_of_random_bytes_terminates_within_the_file(prefix: bytes, tail: bytes) -> None:
    data = prefix + tail
    started = time.perf_counter()
    boxes = read_boxes(io.BytesIO(data), len(data))
    assert time.perf_counter() - started < 1.0
    for box in boxes:
        assert 0 <= box.offset < len(data)
        assert box.complete == (box.offset + box.size <= len(data))


# ffprobe's JSON has a fixed shape; the values come from the file, so any of them may be odd.
NUMBERISH = st.none() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8)
NUMBERISH |= st.sampled_from(["N/A", "", "90", "-90.5", "1e309"])
TAGS = st.dictionaries(st.sampled_from(["rotate", "language", "DURATION", "title"]), st.text(max_size=12), max_size=3)
SIDE_DATA = st.lists(
    st.dictionaries(st.sampled_from(["side_data_type", "rotation", "displaymatrix"]), NUMBERISH, max_size=3),
    max_size=2,
)
STREAM = st.fixed_dictionaries(
    {"codec_type": st.sampled_from(["video", "audio", "data", "subtitle", ""])},
    optional={
        "codec_name": st.sampled_from(["h264", "hevc", "vp9", "aac", "mjpeg", "png", ""]),
        "width": NUMBERISH,
        "height": NUMBERISH,
        "duration": NUMBERISH,
        "tags": TAGS,
        "side_data_list": SIDE_DATA,
        "disposition": st.dictionaries(st.sampled_from(["attached_pic", "default"]), st.integers(0, 1), max_size=2),
    },
)
PROBE_JSON = st.fixed_dictionaries(
    {},
    optional={
        "streams": st.lists(STREAM, max_size=3),
        "format": st.fixed_dictionaries(
            {},
            optional={
                "format_name": st.sampled_from(["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mp3", "png_pipe", ""]),
                "duration": NUMBERISH,
                "size": NUMBERISH,
                "tags": TAGS,
            },
        ),
    },
)


@FUZZ
@given(data=PROBE_JSON)
def test_any_ffprobe_description_is_accepted_or_refused_with_a_reason(data: dict[str, Any]) -> None:
    try:
        result = parse_probe(data, max_duration_s=180.0)
    except ProbeError as exc:
        assert exc.code and exc.message
        return
    assert isinstance(result, ProbeResult)
    assert result.width > 0 and result.height > 0 and 0 < result.duration_s <= 180.0


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory, has_ffmpeg: bool) -> bytes:
    if not has_ffmpeg:
        pytest.skip("ffmpeg is not installed")
    path = make_clip(tmp_path_factory.mktemp("fuzz") / "seed.mp4", width=96, height=160, duration_s=0.6)
    return path.read_bytes()


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """Flip, overwrite, cut or splice a real video's bytes the way broken uploads do."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "overwrite", "truncate", "insert", "box_size"]))
        at = draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            buf[at : at + len(chunk)] = chunk
        elif op == "truncate":
            del buf[at:]
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "box_size" and len(buf) >= 8:  # a lying size field in the first box header
            buf[0:4] = draw(st.integers(0, 2**32 - 1)).to_bytes(4, "big")
    return bytes(buf)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    return mutate(data, draw)


@pytest.mark.ffmpeg
def test_probing_mutated_videos_accepts_or_refuses_without_crashing(clip_bytes: bytes, tmp_path: Path) -> None:
    started = time.perf_counter()

    @settings(FUZZ, max_examples=40)
    @given(data=mutated(clip_bytes))
    def check(data: bytes) -> None:
        path = tmp_path / "upload.bin"
        path.write_bytes(data)
        assert sniff_container(data[:SNIFF_BYTES]) in CONTAINERS
        try:
            probe_file(path, max_duration_s=180.0, timeout_s=10)
        except ProbeError as exc:
            assert exc.message and str(tmp_path) not in exc.message  # never shows where the file sits

    check()
    assert time.perf_counter() - started < 120


@pytest.fixture
def upload_client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], RegionRuntime]]:
    from sovereel.runtime.region import open_runtime

    rt = open_runtime(make_settings(tmp_path, rate_limits=False))
    with TestClient(create_app(rt.settings, runtime=rt, start_background=False)) as client:
        yield client, signup(client, "fuzzer"), rt
    rt.close()


@pytest.mark.ffmpeg
def test_uploading_mutated_videos_gets_a_clear_answer_and_stores_nothing_refused(
    clip_bytes: bytes, upload_client: tuple[TestClient, dict[str, str], RegionRuntime]
) -> None:
    client, headers, rt = upload_client
    staging = rt.settings.region_dir / "tmp"
    accepted = 0

    @settings(FUZZ, max_examples=25)
    @given(data=mutated(clip_bytes) | st.binary(max_size=4096))
    def check(data: bytes) -> None:
        nonlocal accepted
        r = client.post(
            "/api/videos", headers=headers, files={"file": ("clip.mp4", data, "video/mp4")}, data={"caption": "fuzz"}
        )
        assert r.status_code in (202, 413, 415, 422), r.text
        body = r.json()
        if r.status_code == 202:
            accepted += 1
        else:
            assert body["error"]["code"] and body["error"]["message"]
        assert not list(staging.glob("*")) if staging.exists() else True  # no staged file survives a request

    check()
    with rt.db.session() as s:
        from sqlalchemy import func, select

        from sovereel.storage.models import Video

        assert s.scalar(select(func.count()).select_from(Video)) == accepted  # refused uploads left no row
