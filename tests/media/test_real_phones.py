"""Issue 15: what real phones record — HDR, non-square pixels, mixed frame rates, stray bytes, damage,
several audio tracks, 1080p sources — each through the real pipeline on a clip ffmpeg makes here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sovereel.media.ffmpeg_args import poster_time, renditions_for
from sovereel.media.probe import ProbeError, parse_probe, probe_file
from sovereel.media.transcode import DAMAGED, TranscodeError, ffmpeg_failure, transcode
from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import MediaJob
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import (
    corrupt_media_data,
    frame_count,
    make_anamorphic_clip,
    make_bt709_clip,
    make_clip,
    make_hdr_clip,
    make_mixed_rate_clip,
    make_two_audio_tracks,
    mean_volume_db,
    rgb_thumbnail,
    stream_field,
)

pytestmark = pytest.mark.usefixtures("ffmpeg")
BT709_FIELDS = ("color_primaries", "color_transfer", "color_space")


def _sdr_reference(tmp_path: Path) -> Path:
    return make_bt709_clip(tmp_path / "sdr.mp4", width=320, height=180, duration_s=1.0)


def _difference(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(np.abs(a - b).mean())


# --- 1. HDR is tone-mapped to SDR BT.709 -------------------------------------------------------------


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"])
def test_hdr_phone_clip_becomes_tone_mapped_sdr_bt709(tmp_path: Path, transfer: str) -> None:
    src = make_hdr_clip(tmp_path / "hdr.mp4", transfer=transfer)
    probe = probe_file(src, max_duration_s=60)
    assert probe.color_transfer == transfer
    result = transcode(src, tmp_path / "work", probe, preset="ultrafast")
    reference = rgb_thumbnail(_sdr_reference(tmp_path))
    # Showing the HDR pixels as they are (a re-tag, no tone-mapping) is far off: washed out, dull.
    assert _difference(rgb_thumbnail(src), reference) > 40
    for rendition in result.renditions.values():
        tags = [stream_field(rendition.path, f) for f in BT709_FIELDS]
        assert tags == ["bt709", "bt709", "bt709"], rendition.name
        assert stream_field(rendition.path, "pix_fmt") == "yuv420p"
        output = rgb_thumbnail(rendition.path)
        assert _difference(output, reference) < 25, rendition.name
        assert abs(output.mean() - reference.mean()) < 12, rendition.name  # neither dimmed nor washed out
    # The poster is a JPEG (read as sRGB): tone-mapped the same way.
    at_s = poster_time(probe.duration_s)
    assert _difference(rgb_thumbnail(result.poster), rgb_thumbnail(_sdr_reference(tmp_path), at_s=at_s)) < 25


def test_sdr_clip_is_tagged_bt709_and_left_as_it_is(tmp_path: Path) -> None:
    src = make_bt709_clip(tmp_path / "sdr.mp4")
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    rendition = result.renditions["720"].path
    assert [stream_field(rendition, f) for f in BT709_FIELDS] == ["bt709"] * 3
    assert _difference(rgb_thumbnail(rendition), rgb_thumbnail(src)) < 5
    # A JPEG is full-range BT.601 read as sRGB: the poster's colours are converted, not relabelled.
    assert _difference(rgb_thumbnail(result.poster), rgb_thumbnail(src, at_s=poster_time(1.0))) < 5


def test_untagged_clip_is_tagged_bt709(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "plain.mp4", width=160, height=288, duration_s=1.0)
    assert stream_field(src, "color_transfer") in ("", "unknown")
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    assert [stream_field(result.renditions["360"].path, f) for f in BT709_FIELDS] == ["bt709"] * 3


# --- 2. Non-square pixels follow the display aspect --------------------------------------------------


def test_anamorphic_probe_reports_display_size() -> None:
    stream = {"codec_type": "video", "codec_name": "h264", "width": 1440, "height": 1080, "sample_aspect_ratio": "4:3"}
    probe = parse_probe({"streams": [stream], "format": {"duration": "5", "format_name": "mov"}}, max_duration_s=60)
    assert (probe.width, probe.height) == (1920, 1080)
    assert renditions_for(probe.width, probe.height) == ["1080", "720", "360"]
    turned = {**stream, "side_data_list": [{"rotation": -90}]}
    probe = parse_probe({"streams": [turned], "format": {"duration": "5", "format_name": "mov"}}, max_duration_s=60)
    assert (probe.width, probe.height) == (1080, 1920)
    broken = {**stream, "sample_aspect_ratio": "0:1"}
    probe = parse_probe({"streams": [broken], "format": {"duration": "5", "format_name": "mov"}}, max_duration_s=60)
    assert (probe.width, probe.height) == (1440, 1080)


@pytest.mark.parametrize(("rotate", "display"), [(None, (960, 540)), (90, (540, 960))])
def test_anamorphic_clip_comes_out_with_square_pixels(
    tmp_path: Path, rotate: int | None, display: tuple[int, int]
) -> None:
    src = make_anamorphic_clip(tmp_path / "hdv.mp4", width=720, height=540, sar="4/3", rotate=rotate)
    probe = probe_file(src, max_duration_s=60)
    assert (probe.width, probe.height) == display
    result = transcode(src, tmp_path / "work", probe, preset="ultrafast")
    small = (640, 360) if rotate is None else (360, 640)
    assert {n: (r.width, r.height) for n, r in result.renditions.items()} == {"720": display, "360": small}
    for rendition in result.renditions.values():
        assert stream_field(rendition.path, "sample_aspect_ratio") in ("1:1", "")
        assert stream_field(rendition.path, "width") == str(rendition.width)
    assert stream_field(result.poster, "width") == str(display[0])
    assert stream_field(result.poster, "height") == str(display[1])


def test_api_reports_the_display_size(sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path) -> None:
    headers = signup(sqlite_client, "hdv")
    r = upload(sqlite_client, headers, make_anamorphic_clip(tmp_path / "hdv.mp4", width=720, height=540))
    assert r.status_code == 202, r.text
    process_all(sqlite_rt)
    video = sqlite_client.get(f"/api/videos/{r.json()['id']}", headers=headers).json()
    assert video["status"] == "ready"
    assert (video["width"], video["height"]) == (960, 540)
    assert video["aspect"] == pytest.approx(16 / 9, abs=0.01)


# --- 3. Mixed frame rates keep their timing -----------------------------------------------------------


def test_mixed_frame_rate_clip_is_not_resampled(tmp_path: Path) -> None:
    src = make_mixed_rate_clip(tmp_path / "mixed.mp4", rates=(24, 60))
    source_frames = frame_count(src)
    assert source_frames == 84
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    for rendition in result.renditions.values():
        frames = frame_count(rendition.path)
        # Neither multiplied to a constant 120 fps nor thinned to a constant 24 fps.
        assert source_frames * 0.95 <= frames <= source_frames * 1.05, (rendition.name, frames)


def test_slow_motion_is_capped_at_60_fps(tmp_path: Path) -> None:
    src = make_mixed_rate_clip(tmp_path / "slomo.mp4", rates=(120,), width=96, height=160)
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    assert frame_count(result.renditions["360"].path) <= 62


# --- 4. Stray bytes after the last box are ignored; a cut-off file is refused, saying so ---------------


def test_stray_bytes_after_the_last_box_are_accepted(tmp_path: Path) -> None:
    for stray in (b"\x00" * 5, b"garbage that is no box at all\n", b"\x00\x00\x00\x01"):
        clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0)
        clip.write_bytes(clip.read_bytes() + stray)
        probe = probe_file(clip, max_duration_s=10)
        assert probe.trailing_bytes == len(stray)


@pytest.mark.parametrize("faststart", [False, True])
def test_cut_off_file_is_refused_as_incomplete(tmp_path: Path, faststart: bool) -> None:
    clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0, faststart=faststart)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ProbeError) as caught:
        probe_file(clip, max_duration_s=10)
    assert "the file ends before its data does (incomplete upload?)" in caught.value.message


def test_upload_with_stray_bytes_becomes_ready(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "stray")
    clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0)
    clip.write_bytes(clip.read_bytes() + b"\r\n--boundary-left-by-a-broken-uploader--\r\n")
    r = upload(sqlite_client, headers, clip)
    assert r.status_code == 202, r.text
    process_all(sqlite_rt)
    assert sqlite_client.get(f"/api/videos/{r.json()['id']}", headers=headers).json()["status"] == "ready"


# --- 5. A damaged file fails once, with a sentence a person understands --------------------------------


def test_damaged_upload_fails_once_with_a_plain_sentence(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "damaged")
    clip = corrupt_media_data(make_clip(tmp_path / "clip.mp4", duration_s=3.0, faststart=True))
    r = upload(sqlite_client, headers, clip)
    assert r.status_code == 202, r.text  # the boxes are whole: intake cannot tell
    assert process_all(sqlite_rt) == 1  # one attempt, no retries
    video = sqlite_client.get(f"/api/videos/{r.json()['id']}", headers=headers).json()
    assert video["status"] == "failed"
    assert video["failure_reason"] == DAMAGED
    with sqlite_rt.db.session() as s:
        job = s.get(MediaJob, r.json()["id"])
        assert job is not None and job.state == "failed" and job.attempts == 1
        assert "ffmpeg failed" in (job.last_error or "")  # the technical account stays in the job row


def test_failures_are_told_apart() -> None:
    damaged = ffmpeg_failure(b"[h264 @ 0x55d0c8a1e2c0] Invalid NAL unit size\nError while decoding stream #0:0", 69)
    assert (damaged.transient, damaged.reason) == (False, DAMAGED)
    assert "0x55d0c8a1e2c0" not in damaged.reason and "0x55d0c8a1e2c0" in damaged.detail
    for stderr, code in ((b"", -9), (b"", 137), (b"av_interleaved_write_frame(): No space left on device", 1)):
        failure = ffmpeg_failure(stderr, code)
        assert failure.transient, (stderr, code)
        assert "ffmpeg" not in failure.reason
    assert ffmpeg_failure(b"Decoder (codec prores_raw) not found", 1).transient is False
    assert isinstance(damaged, TranscodeError)


# --- 6. The default audio track, and durations that do not round to the limit ---------------------------


def test_the_default_audio_track_is_the_one_kept(tmp_path: Path) -> None:
    src = make_two_audio_tracks(tmp_path / "two.mp4", default=1)
    probe = probe_file(src, max_duration_s=60)
    assert probe.audio_stream == 1
    result = transcode(src, tmp_path / "work", probe, preset="ultrafast")
    assert mean_volume_db(result.renditions["360"].path) > -40  # the tone, not the silent first track


@pytest.mark.parametrize(
    ("duration", "shown"), [("180.02", "180.02 s"), ("180.0004", "180.001 s"), ("200.04", "200.0 s")]
)
def test_too_long_message_never_reads_as_the_limit(duration: str, shown: str) -> None:
    video = {"codec_type": "video", "codec_name": "h264", "width": 640, "height": 360}
    with pytest.raises(ProbeError) as caught:
        parse_probe({"streams": [video], "format": {"duration": duration, "format_name": "mov"}}, max_duration_s=180)
    assert f"The video is {shown} long; the limit is 180 s." == caught.value.message


def test_too_short_message_never_reads_as_the_minimum() -> None:
    video = {"codec_type": "video", "codec_name": "h264", "width": 640, "height": 360}
    with pytest.raises(ProbeError) as caught:
        parse_probe({"streams": [video], "format": {"duration": "0.499", "format_name": "mov"}}, max_duration_s=180)
    assert "0.499 s" in caught.value.message


# --- 7. A 1080 rendition for sources that have 1080 lines ------------------------------------------------


def test_1080_source_gets_a_1080_rendition_listed_by_the_api(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, tmp_path: Path
) -> None:
    headers = signup(sqlite_client, "fullhd")
    r = upload(sqlite_client, headers, make_clip(tmp_path / "hd.mp4", width=1080, height=1920, duration_s=1.0))
    assert r.status_code == 202, r.text
    process_all(sqlite_rt)
    video_id = r.json()["id"]
    video = sqlite_client.get(f"/api/videos/{video_id}", headers=headers).json()
    assert video["status"] == "ready"
    assert sorted(video["media"]) == ["1080", "360", "720"]
    assert video["media"]["1080"] == f"/api/videos/{video_id}/media/1080"
    played = sqlite_client.get(video["media"]["1080"], headers=headers)
    assert played.status_code == 200 and played.content[4:8] == b"ftyp"
    assert stream_field_bytes(tmp_path, played.content) == ("1080", "1920")


def stream_field_bytes(tmp_path: Path, data: bytes) -> tuple[str, str]:
    path = tmp_path / "served.mp4"
    path.write_bytes(data)
    return stream_field(path, "width"), stream_field(path, "height")


def test_smaller_sources_are_never_upscaled() -> None:
    assert renditions_for(720, 1280) == ["720", "360"]
    assert renditions_for(1079, 1920) == ["720", "360"]
    assert renditions_for(2160, 3840) == ["1080", "720", "360"]
    assert renditions_for(300, 500) == ["720", "360"]
