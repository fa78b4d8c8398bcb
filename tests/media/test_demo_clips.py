"""Demo clip specs (pure, deterministic) and real generation of every pattern with ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sovereel.demo.clips import (
    PATTERNS,
    ClipSpec,
    clip_args,
    demo_specs,
    escape_drawtext,
    font_size,
    generate_clip,
    parse_colour,
)
from sovereel.media.probe import probe_file

NASTY_TITLE = "Clip 7 · #cooking: it's [50%, off]; C:\\dir"


def test_demo_specs_are_deterministic_and_titled() -> None:
    titles = [f"Clip {i} · #tag{i}" for i in range(12)]
    first = demo_specs(12, seed=7, titles=titles)
    assert first == demo_specs(12, seed=7, titles=titles)
    assert first != demo_specs(12, seed=8, titles=titles)
    assert [spec.text for spec in first] == titles
    assert demo_specs(3, seed=1)[2].text == "Clip 3"
    with pytest.raises(ValueError, match="titles"):
        demo_specs(3, seed=1, titles=["only one"])


def test_demo_specs_look_like_a_short_video_feed() -> None:
    specs = demo_specs(200, seed=42)
    durations = [spec.duration_s for spec in specs]
    assert min(durations) >= 5.0
    assert max(durations) <= 30.0
    assert sum(7.0 <= d <= 15.0 for d in durations) / len(durations) > 0.6
    portrait = [spec for spec in specs if spec.height > spec.width]
    assert len(portrait) == 160
    assert sum(spec.height > spec.width for spec in demo_specs(5, seed=3)) == 4
    assert {(s.width, s.height) for s in specs} == {(540, 960), (960, 540)}
    assert len({spec.colour for spec in specs[:40]}) == 40
    # Patterns cycle: every run of len(PATTERNS) consecutive clips uses each pattern once.
    assert sorted(spec.pattern for spec in specs[5 : 5 + len(PATTERNS)]) == sorted(PATTERNS)
    assert {(s.width, s.height) for s in demo_specs(30, seed=1, short_side=720)} == {(720, 1280), (1280, 720)}


def test_escape_drawtext() -> None:
    assert escape_drawtext("plain text") == "plain text"
    assert escape_drawtext("a:b") == "a\\\\:b"
    assert escape_drawtext("it's") == "it\\\\\\'s"
    assert escape_drawtext("[a,b];") == "\\[a\\,b\\]\\;"
    assert escape_drawtext("C:\\dir") == "C\\\\:\\\\\\\\dir"


def test_clip_args_validate_and_omit_text_without_a_font() -> None:
    spec = ClipSpec(96, 160, 1.0, "#336699", "ball", "hello", 440)
    assert "drawtext=" in " ".join(clip_args(spec, Path("o.mp4"), font=Path("/fonts/x.ttf")))
    assert "drawtext=" not in " ".join(clip_args(spec, Path("o.mp4"), font=None))
    with pytest.raises(ValueError, match="pattern"):
        clip_args(ClipSpec(96, 160, 1.0, "#336699", "plaid", "hi", 440), Path("o.mp4"))
    with pytest.raises(ValueError, match="colour"):
        clip_args(ClipSpec(96, 160, 1.0, "teal", "ball", "hi", 440), Path("o.mp4"))
    assert parse_colour("#336699") == (0x33, 0x66, 0x99)
    assert font_size(720, 1280, "Clip 7") == 80
    assert font_size(720, 1280, "x" * 60) == 12


@pytest.mark.ffmpeg
@pytest.mark.parametrize("pattern", PATTERNS)
def test_generate_every_pattern(tmp_path: Path, pattern: str) -> None:
    out = tmp_path / f"{pattern}.mp4"
    generate_clip(ClipSpec(96, 160, 0.75, "#cc5533", pattern, NASTY_TITLE, 330, fps=12), out)
    probe = probe_file(out, max_duration_s=10)
    assert (probe.width, probe.height, probe.video_codec, probe.audio_codec) == (96, 160, "h264", "aac")
    assert probe.duration_s == pytest.approx(0.75, abs=0.1)


@pytest.mark.ffmpeg
def test_missing_font_draws_no_text(tmp_path: Path) -> None:
    out = tmp_path / "plain.mp4"
    generate_clip(ClipSpec(96, 160, 0.5, "#336699", "life", "hi", 440, fps=12), out, font=tmp_path / "none.ttf")
    assert probe_file(out, max_duration_s=10).width == 96


def _mean_rgb(path: Path) -> tuple[int, int, int]:
    frame = ["-frames:v", "1", "-vf", "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    completed = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "0.2", "-i", str(path), *frame],
        capture_output=True,
        check=True,
        timeout=30,
    )
    red, green, blue = completed.stdout[:3]
    return red, green, blue


@pytest.mark.ffmpeg
def test_clip_colour_tints_the_frame(tmp_path: Path) -> None:
    reddish, bluish = tmp_path / "red.mp4", tmp_path / "blue.mp4"
    generate_clip(ClipSpec(96, 160, 0.5, "#ff2020", "gradients", "", 440, fps=12), reddish)
    generate_clip(ClipSpec(96, 160, 0.5, "#2020ff", "gradients", "", 440, fps=12), bluish)
    red = _mean_rgb(reddish)
    blue = _mean_rgb(bluish)
    assert red[0] > red[2] + 40
    assert blue[2] > blue[0] + 40
