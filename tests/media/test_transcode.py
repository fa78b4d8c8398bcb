"""Rendition sizes and ffmpeg arguments (pure), then real transcodes of tiny clips and their verification."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovereel.media.ffmpeg_args import poster_args, poster_time, rendition_size, transcode_args
from sovereel.media.probe import ProbeResult, probe_file
from sovereel.media.sniff import is_faststart, top_level_boxes
from sovereel.media.transcode import TranscodeError, transcode, verify_rendition
from tests.support.media_clips import make_clip


def _probe(width: int = 1080, height: int = 1920, *, has_audio: bool = True, duration_s: float = 12.0) -> ProbeResult:
    return ProbeResult(
        duration_s=duration_s,
        width=width,
        height=height,
        rotation=0,
        video_codec="h264",
        has_audio=has_audio,
        audio_codec="aac" if has_audio else None,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
    )


@pytest.mark.parametrize(
    ("source", "short_side", "expected"),
    [
        ((1080, 1920), 720, (720, 1280)),
        ((1080, 1920), 360, (360, 640)),
        ((1920, 1080), 720, (1280, 720)),
        ((1920, 1080), 360, (640, 360)),
        ((300, 500), 720, (300, 500)),
        ((300, 500), 360, (300, 500)),
        ((301, 501), 720, (300, 500)),
        ((720, 720), 360, (360, 360)),
        # 886x1920 is an odd phone crop: 360 * 1920 / 886 = 780.1 -> nearest even 780.
        ((886, 1920), 360, (360, 780)),
    ],
)
def test_rendition_size(source: tuple[int, int], short_side: int, expected: tuple[int, int]) -> None:
    assert rendition_size(*source, short_side) == expected


def test_transcode_args_build_one_command_for_every_rendition() -> None:
    out = {"720": Path("/w/720.mp4"), "360": Path("/w/360.mp4")}
    args = transcode_args(Path("/in/src.mov"), out, _probe(), container="mov", preset="veryfast", threads=2)
    assert args[:6] == ["ffmpeg", "-y", "-nostdin", "-hide_banner", "-loglevel", "error"]
    assert args.count("ffmpeg") == 1
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]split=2")
    assert "scale=720:1280" in graph
    assert "scale=360:640" in graph
    assert args.count("libx264") == 2
    assert args.count("high") == 2
    assert args.count("+faststart") == 2
    assert args.count("rotate=0") == 2
    assert args.count("0:a:0") == 2
    assert "anullsrc" not in " ".join(args)
    assert args[args.index("-crf") + 1] == "23"
    assert args[args.index("-b:a") + 1] == "128k"
    assert args.count("-threads") == 3  # decoder, and each encoder
    assert args[-1] == "/w/360.mp4"
    assert "/w/720.mp4" in args


def test_transcode_args_add_silence_and_leave_threads_to_ffmpeg() -> None:
    args = transcode_args(
        Path("src.mp4"),
        {"360": Path("360.mp4")},
        _probe(has_audio=False, duration_s=4.5),
        container="mp4",
        preset="fast",
        threads=0,
    )
    assert "anullsrc=channel_layout=stereo:sample_rate=48000" in args
    assert args[args.index("-t") + 1] == "4.500"
    assert args[args.index("-map", args.index("-map") + 1) + 1] == "1:a:0"
    assert "-threads" not in args
    assert args[args.index("-preset") + 1] == "fast"
    with pytest.raises(ValueError, match="unknown renditions"):
        transcode_args(Path("s.mp4"), {"4k": Path("4k.mp4")}, _probe(), container="mp4", preset="fast", threads=0)


def test_poster_args_and_time() -> None:
    assert poster_time(12.0) == 1.0
    assert poster_time(1.5) == 0.5
    args = poster_args(Path("in.mp4"), Path("poster.jpg"), 0.5, 720, container="mp4")
    assert args[args.index("-ss") + 1] == "0.500"
    assert args.index("-ss") < args.index("-i")
    graph = args[args.index("-vf") + 1]
    assert graph.startswith("scale=720:-2:flags=bicubic:")
    # JPEG is full-range BT.601: the frame is converted from BT.709, square-pixelled.
    assert "out_color_matrix=bt601:out_range=full" in graph and "setsar=1" in graph
    sized = poster_args(Path("in.mp4"), Path("p.jpg"), 1.0, 720, container="mp4", probe=_probe(1080, 1920))
    assert "scale=720:1280:flags=bicubic" in sized[sized.index("-vf") + 1]
    assert args[args.index("-frames:v") + 1] == "1"
    assert args[-1] == "poster.jpg"


def _assert_rendition(path: Path, size: tuple[int, int], duration_s: float) -> None:
    checked = probe_file(path, max_duration_s=60)
    assert (checked.video_codec, checked.audio_codec) == ("h264", "aac")
    assert (checked.width, checked.height, checked.rotation) == (*size, 0)
    assert checked.duration_s == pytest.approx(duration_s, abs=0.5)
    assert is_faststart(top_level_boxes(path))


@pytest.mark.ffmpeg
def test_transcode_portrait_clip(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", width=400, height=720, duration_s=1.5)
    probe = probe_file(src, max_duration_s=60)
    work = tmp_path / "work"
    result = transcode(src, work, probe, preset="ultrafast", threads=1)
    assert set(result.renditions) == {"720", "360"}
    top, low = result.renditions["720"], result.renditions["360"]
    assert (top.width, top.height) == (400, 720)  # the source is smaller than 720p: not upscaled
    assert (low.width, low.height) == (360, 648)
    for rendition in (top, low):
        _assert_rendition(rendition.path, (rendition.width, rendition.height), 1.5)
        assert rendition.bytes == rendition.path.stat().st_size
        assert rendition.bitrate_kbps > 0
    assert result.poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert sorted(p.name for p in work.iterdir()) == ["360.mp4", "720.mp4", "poster.jpg"]


@pytest.mark.ffmpeg
def test_rotated_phone_clip_comes_out_portrait(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "phone.mp4", width=288, height=160, duration_s=1.0, rotate=90)
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    for rendition in result.renditions.values():
        _assert_rendition(rendition.path, (160, 288), 1.0)


@pytest.mark.ffmpeg
def test_silent_source_gets_an_aac_track(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "silent.mp4", width=160, height=288, duration_s=1.0, audio=False)
    probe = probe_file(src, max_duration_s=60)
    assert not probe.has_audio
    result = transcode(src, tmp_path / "work", probe, preset="ultrafast")
    for rendition in result.renditions.values():
        _assert_rendition(rendition.path, (160, 288), 1.0)


@pytest.mark.ffmpeg
def test_webm_source_becomes_h264_aac(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "browser.webm", width=160, height=288, duration_s=1.0, container="webm")
    result = transcode(src, tmp_path / "work", probe_file(src, max_duration_s=60), preset="ultrafast")
    _assert_rendition(result.renditions["360"].path, (160, 288), 1.0)


@pytest.mark.ffmpeg
def test_verify_rendition(tmp_path: Path) -> None:
    slow = make_clip(tmp_path / "slow.mp4", duration_s=1.0)
    with pytest.raises(TranscodeError, match="faststart"):
        verify_rendition(slow)
    fast = make_clip(tmp_path / "fast.mp4", duration_s=1.0, faststart=True)
    verify_rendition(fast, source_duration_s=1.2)
    with pytest.raises(TranscodeError, match="lasts"):
        verify_rendition(fast, source_duration_s=3.0)
    webm = make_clip(tmp_path / "clip.webm", duration_s=1.0, container="webm")
    with pytest.raises(TranscodeError, match="expected h264"):
        verify_rendition(webm)


@pytest.mark.ffmpeg
def test_failed_verification_publishes_nothing(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", duration_s=1.0)
    lying = ProbeResult(**{**probe_file(src, max_duration_s=60).__dict__, "duration_s": 5.0})
    work = tmp_path / "work"
    with pytest.raises(TranscodeError, match="lasts"):
        transcode(src, work, lying, preset="ultrafast")
    assert list(work.iterdir()) == []


def test_ffmpeg_failure_is_reported_without_server_paths(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    with pytest.raises(TranscodeError) as caught:
        transcode(missing, tmp_path / "work", _probe(160, 288, duration_s=1.0), container="mp4")
    # The uploader gets a sentence; ffmpeg's words (the file name, never the server path) go to the log.
    assert "ffmpeg" not in caught.value.reason and "gone.mp4" not in caught.value.reason
    assert caught.value.detail.startswith("ffmpeg failed")
    assert "gone.mp4" in caught.value.detail
    assert str(tmp_path) not in caught.value.detail


def test_transcode_args_tone_map_once_keep_timing_and_tag_bt709() -> None:
    hdr = ProbeResult(**{**_probe(2160, 3840).__dict__, "color_transfer": "arib-std-b67", "color_primaries": "bt2020"})
    out = {name: Path(f"/w/{name}.mp4") for name in ("1080", "720", "360")}
    args = transcode_args(Path("/in/src.mov"), out, hdr, container="mov", preset="veryfast", threads=0)
    graph = args[args.index("-filter_complex") + 1]
    shared, _, branches = graph.partition("split=3")
    # Tone-mapped once, at the largest output size, before the split.
    assert shared.startswith("[0:v:0]zscale=w=1080:h=1920:filter=bicubic:tin=arib-std-b67:pin=bt2020:min=bt2020nc")
    assert "tonemap=mobius" in shared and "tonemap" not in branches
    assert "scale=1080:1920" in branches and "scale=720:1280" in branches
    for flag, value in (("-fps_mode:v", "vfr"), ("-color_trc", "bt709"), ("-color_primaries", "bt709")):
        assert [args[i + 1] for i, a in enumerate(args) if a == flag] == [value] * 3
    sdr = transcode_args(Path("/in/src.mov"), out, _probe(2160, 3840), container="mov", preset="veryfast", threads=0)
    assert "zscale" not in " ".join(sdr) and sdr.count("bt709") == 9
    # A tag outside the known names never reaches the filter graph.
    odd = ProbeResult(**{**_probe().__dict__, "color_transfer": "arib-std-b67", "color_primaries": "x:y=z,evil"})
    odd_graph = transcode_args(Path("s.mp4"), out, odd, container="mp4", preset="fast", threads=0)
    assert "evil" not in " ".join(odd_graph)
