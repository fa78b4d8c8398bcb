"""probe: the pure parser on hand-written ffprobe JSON, and probe_file on real clips made by ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sovereel.media.probe import ProbeError, parse_probe, probe_file, stream_rotation
from tests.support.media_clips import ffmpeg, make_audio_only, make_clip


def _video(width: int = 1080, height: int = 1920, **extra: Any) -> dict[str, Any]:
    return {"codec_type": "video", "codec_name": "h264", "width": width, "height": height, **extra}


def _data(*streams: dict[str, Any], duration: str | None = "12.5") -> dict[str, Any]:
    fmt: dict[str, Any] = {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}
    if duration is not None:
        fmt["duration"] = duration
    return {"streams": list(streams), "format": fmt}


def _code(data: dict[str, Any], max_duration_s: float = 180) -> str:
    with pytest.raises(ProbeError) as caught:
        parse_probe(data, max_duration_s=max_duration_s)
    return caught.value.code


def test_parse_portrait_clip_with_audio() -> None:
    result = parse_probe(_data(_video(), {"codec_type": "audio", "codec_name": "aac"}), max_duration_s=180)
    assert (result.width, result.height, result.rotation) == (1080, 1920, 0)
    assert result.duration_s == 12.5
    assert (result.video_codec, result.has_audio, result.audio_codec) == ("h264", True, "aac")
    assert result.format_name.startswith("mov,mp4")


@pytest.mark.parametrize(
    ("stream", "rotation"),
    [
        # Display Matrix side data is counter-clockwise: an iPhone portrait clip reports -90.
        (_video(1920, 1080, side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}]), 90),
        (_video(1920, 1080, side_data_list=[{"side_data_type": "Display Matrix", "rotation": 90}]), 270),
        (_video(1920, 1080, tags={"rotate": "90"}), 90),
        (_video(1920, 1080, tags={"rotate": "-90"}), 270),
        (_video(1920, 1080, tags={"rotate": "270"}, side_data_list=[{"rotation": -90}]), 90),
    ],
)
def test_quarter_turns_swap_display_dimensions(stream: dict[str, Any], rotation: int) -> None:
    result = parse_probe(_data(stream), max_duration_s=180)
    assert (result.width, result.height, result.rotation) == (1080, 1920, rotation)


def test_half_turn_keeps_dimensions() -> None:
    result = parse_probe(_data(_video(1920, 1080, side_data_list=[{"rotation": 180}])), max_duration_s=180)
    assert (result.width, result.height, result.rotation) == (1920, 1080, 180)
    assert stream_rotation(_video(tags={"rotate": "not a number"})) == 0


def test_cover_art_is_not_a_video_stream() -> None:
    cover = _video(600, 600, codec_name="mjpeg", disposition={"attached_pic": 1})
    assert _code(_data({"codec_type": "audio", "codec_name": "mp3"}, cover)) == "no_video_stream"


@pytest.mark.parametrize(("width", "height"), [(32, 640), (640, 63), (9000, 1080), (None, 1080)])
def test_bad_dimensions(width: int | None, height: int) -> None:
    assert _code(_data({"codec_type": "video", "codec_name": "h264", "width": width, "height": height})) == (
        "bad_dimensions"
    )


def test_duration_falls_back_to_the_video_stream() -> None:
    result = parse_probe(_data(_video(duration="7.25"), duration=None), max_duration_s=180)
    assert result.duration_s == 7.25
    assert _code(_data(_video(), duration=None)) == "no_duration"
    assert _code(_data(_video(), duration="N/A")) == "no_duration"


def test_too_long_and_too_short() -> None:
    with pytest.raises(ProbeError) as caught:
        parse_probe(_data(_video(), duration="200.04"), max_duration_s=180)
    assert caught.value.code == "too_long"
    assert "200.0" in caught.value.message
    assert "180" in caught.value.message
    assert _code(_data(_video(), duration="0.3")) == "too_short"


@pytest.mark.ffmpeg
@pytest.mark.parametrize("container", ["mp4", "mov", "webm", "mkv"])
def test_probe_real_containers(tmp_path: Path, container: str) -> None:
    clip = make_clip(tmp_path / f"clip.{container}", width=96, height=160, duration_s=1.0, container=container)
    result = probe_file(clip, max_duration_s=10)
    assert (result.width, result.height, result.rotation) == (96, 160, 0)
    assert result.duration_s == pytest.approx(1.0, abs=0.1)
    assert result.has_audio
    assert result.video_codec == ("vp8" if container == "webm" else "h264")


@pytest.mark.ffmpeg
def test_rotated_phone_clip_reports_display_dimensions(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "phone.mp4", width=288, height=160, duration_s=1.0, rotate=90)
    result = probe_file(clip, max_duration_s=10)
    assert result.rotation in (90, 270)
    assert (result.width, result.height) == (160, 288)


@pytest.mark.ffmpeg
def test_audio_only_files_have_no_video_stream(tmp_path: Path) -> None:
    # An audio-only MP4 is opened (it is a container we accept) and has no video stream; an iTunes
    # .m4a (brand M4A) or an MP3 is no container we accept, so it never reaches ffprobe at all.
    for name, code in (("voice.mp4", "no_video_stream"), ("voice.m4a", "unreadable"), ("song.mp3", "unreadable")):
        with pytest.raises(ProbeError) as caught:
            probe_file(make_audio_only(tmp_path / name), max_duration_s=10)
        assert caught.value.code == code, name


@pytest.mark.ffmpeg
def test_audio_with_cover_art_has_no_video_stream(tmp_path: Path) -> None:
    # An MP4 (brand isom, so the sniffer accepts it) whose only picture is cover art.
    song = tmp_path / "cover.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=d=1", "-f", "lavfi", "-i", "testsrc2=s=128x128:d=0.1",
        "-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", "-f", "mp4", str(song),
    )  # fmt: skip
    with pytest.raises(ProbeError) as caught:
        probe_file(song, max_duration_s=10)
    assert caught.value.code == "no_video_stream"


@pytest.mark.ffmpeg
@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4_is_unreadable(tmp_path: Path, faststart: bool) -> None:
    clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0, faststart=faststart)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProbeError) as caught:
        probe_file(clip, max_duration_s=10)
    assert caught.value.code == "unreadable"
    assert caught.value.message.startswith("video file unreadable")
    assert str(tmp_path) not in caught.value.message


def test_text_file_is_unreadable(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("just some notes\n")
    with pytest.raises(ProbeError) as caught:
        probe_file(fake, max_duration_s=10)
    assert caught.value.code == "unreadable"


@pytest.mark.ffmpeg
def test_longer_than_the_limit(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long.mp4", width=64, height=64, duration_s=3.0)
    with pytest.raises(ProbeError) as caught:
        probe_file(clip, max_duration_s=2)
    assert caught.value.code == "too_long"
    assert "3.0 s" in caught.value.message
    assert "2 s" in caught.value.message
