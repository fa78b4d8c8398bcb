"""Synthesise demo videos with ffmpeg: a moving pattern tinted with the clip's colour, a title, a tone.

Patterns are drawn at a quarter of the output size, tinted there, then scaled up: the lavfi
sources and the colour lookup are the costly part, and at quarter size a 720x1280 clip
generates several times faster than real time on two cores.
"""

from __future__ import annotations

import colorsys
import math
import random
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_FONT: Final = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
PATTERNS: Final[tuple[str, ...]] = (
    "testsrc2",
    "mandelbrot",
    "life",
    "cellauto",
    "gradients",
    "ball",
    "plasma",
    "rgbtestsrc",
)
"""Moving backgrounds `clip_args` can draw; `demo_specs` cycles through them."""

# How much of each output pixel is the flat clip colour rather than the pattern: enough for
# neighbouring clips to read as different colours, little enough for the motion to show.
_TINT: Final = 0.5
# Rainbow sources are desaturated to this fraction first, or their own colours drown the tint.
_MUTED: Final = 0.35
_PIXEL_ART: Final = frozenset({"life", "cellauto"})
_TONES_HZ: Final = (220, 247, 262, 294, 330, 349, 392, 440, 494, 523, 587, 659)


@dataclass(frozen=True)
class ClipSpec:
    """One demo video: size, length, tint colour ('#rrggbb'), pattern (one of PATTERNS), title and tone."""

    width: int
    height: int
    duration_s: float
    colour: str
    pattern: str
    text: str
    tone_hz: int
    fps: int = 24


def clip_args(spec: ClipSpec, out: Path, *, font: Path | None = DEFAULT_FONT) -> list[str]:
    """Return the ffmpeg command that renders `spec` to the MP4 `out`; no title is drawn when font is None."""
    if spec.pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {spec.pattern!r}; expected one of {', '.join(PATTERNS)}")
    if spec.width < 64 or spec.height < 64 or spec.width % 2 or spec.height % 2:
        raise ValueError(f"clip size must be even and at least 64x64, got {spec.width}x{spec.height}")
    red, green, blue = parse_colour(spec.colour)
    low_w, low_h = _even(spec.width // 4), _even(spec.height // 4)
    tint = ":".join(
        f"{channel}='val*{1 - _TINT:g}+{value * _TINT:g}'"
        for channel, value in zip("rgb", (red, green, blue), strict=True)
    )
    scale_flags = "neighbor" if spec.pattern in _PIXEL_ART else "bilinear"
    video = (
        f"{_pattern_source(spec, low_w, low_h)},lutrgb={tint},format=yuv420p,"
        f"scale={spec.width}:{spec.height}:flags={scale_flags},setsar=1"
    )
    if font is not None and spec.text:
        video += "," + _drawtext(spec, font)
    # A once-a-second beep a fifth or an octave up and a slow tremolo keep the tone from sounding
    # like a test signal. (Not `vibrato`: in ffmpeg 5.1 it intermittently emits NaNs that AAC rejects.)
    beep = (1.5, 2.0)[spec.tone_hz % 2]
    wobble_hz = 1.5 + (spec.tone_hz % 5) * 0.5
    audio = f"sine=f={spec.tone_hz}:b={beep:g}:sample_rate=44100,volume=0.2,tremolo=f={wobble_hz:g}:d=0.4"
    return [
        "ffmpeg",
        "-y",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-filter_complex",
        f"{video}[v];{audio}[a]",
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-t",
        f"{spec.duration_s:.3f}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "28",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(spec.fps * 2),
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    ]


def generate_clip(spec: ClipSpec, out: Path, *, font: Path = DEFAULT_FONT, timeout_s: float = 300) -> None:
    """Render `spec` to `out` with ffmpeg, drawing no title if `font` is missing; raise RuntimeError on failure."""
    completed = subprocess.run(
        clip_args(spec, out, font=font if font.is_file() else None),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ffmpeg could not generate {out.name}: {completed.stderr.strip()[-400:]}")


def demo_specs(
    n: int, seed: int, *, titles: list[str] | None = None, short_side: int = 540, fps: int = 24
) -> list[ClipSpec]:
    """Return `n` varied clip specs, the same for the same seed; clip i is titled titles[i] when given."""
    # 540x960 rather than 720x1280 by default: measured on two shared cores, it cuts generation by
    # a third and the transcode that follows by a third, and a phone shows little difference.
    if titles is not None and len(titles) < n:
        raise ValueError(f"{n} clips need {n} titles, got {len(titles)}")
    # Reproducible demo clips, not a secret.
    rng = random.Random(seed)  # nosec B311
    long_side = _even(round(short_side * 16 / 9))
    hue_offset = rng.random()
    pattern_offset = rng.randrange(len(PATTERNS))
    # Exactly a fifth landscape (not a coin flip per clip), so a small demo world still has some.
    landscape = set(rng.sample(range(n), round(n * 0.2)))
    specs: list[ClipSpec] = []
    for index in range(n):
        portrait = index not in landscape
        # Golden-ratio steps spread hues evenly however many clips there are.
        hue = (hue_offset + index * 0.618033988749895) % 1.0
        specs.append(
            ClipSpec(
                width=short_side if portrait else long_side,
                height=long_side if portrait else short_side,
                duration_s=_short_video_duration(rng),
                colour=_hex_colour(hue, saturation=0.65, value=0.9),
                pattern=PATTERNS[(pattern_offset + index) % len(PATTERNS)],
                text=titles[index] if titles is not None else f"Clip {index + 1}",
                tone_hz=rng.choice(_TONES_HZ),
                fps=fps,
            )
        )
    return specs


def parse_colour(colour: str) -> tuple[int, int, int]:
    """Parse '#rrggbb' (or '0xrrggbb') into (red, green, blue) bytes."""
    digits = colour.removeprefix("#").removeprefix("0x")
    if len(digits) != 6:
        raise ValueError(f"colour must look like #rrggbb, got {colour!r}")
    try:
        value = int(digits, 16)
    except ValueError:
        raise ValueError(f"colour must look like #rrggbb, got {colour!r}") from None
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def escape_drawtext(text: str) -> str:
    """Escape `text` for a drawtext option value inside a -filter_complex graph."""
    # Two levels (see ffmpeg-filters "Notes on filtergraph escaping"): first the option value,
    # where \ ' and : are special; then the filtergraph, where \ ' [ ] , ; are.
    option = text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    graph = option.replace("\\", "\\\\").replace("'", "\\'")
    for special in "[],;":
        graph = graph.replace(special, "\\" + special)
    return graph


def font_size(width: int, height: int, text: str) -> int:
    """Return a font size that makes `text` large yet fit on one line within 85% of the frame width."""
    largest = min(width, height) // 9
    # DejaVu Sans Bold glyphs are about 0.7 em wide on average, but demo titles are handles and hashtags
    # ('@', '#', 'm', 'w' are near 1 em): 0.8 em keeps "@emma · #comedy" inside a portrait frame.
    fitting = int(width * 0.85 / (0.8 * max(len(text), 1)))
    return max(12, min(largest, fitting))


def _pattern_source(spec: ClipSpec, w: int, h: int) -> str:
    size = f"s={w}x{h}:r={spec.fps}"
    seed = zlib.crc32(f"{spec.colour}|{spec.text}|{spec.tone_hz}".encode())
    if spec.pattern == "testsrc2":
        return f"testsrc2={size},hue=H=2*PI*t/6:s={_MUTED:g}"
    if spec.pattern == "mandelbrot":
        # Modest maxiter: the default 7189 costs more than the whole encode.
        return f"mandelbrot={size}:maxiter=128:end_pts={max(spec.duration_s, 1.0) * 4:g},hue=s={_MUTED:g}"
    if spec.pattern == "life":
        # Half the pattern resolution again so cells are chunky once scaled up.
        return (
            f"life=s={_even(w // 2)}x{_even(h // 2)}:r={spec.fps}:seed={seed}:ratio=0.2:mold=6"
            ":life_color=white:death_color=black:mold_color=gray"
        )
    if spec.pattern == "cellauto":
        rule = (30, 90, 110, 150, 105)[seed % 5]
        return f"cellauto=s={_even(w // 2)}x{_even(h // 2)}:r={spec.fps}:rule={rule}:seed={seed}:random_fill_ratio=0.5"
    if spec.pattern == "gradients":
        kind = ("spiral", "radial", "circular", "linear")[seed % 4]
        return f"gradients={size}:c0=white:c1=black:c2=gray:n=3:speed=0.04:type={kind}:seed={seed}"
    if spec.pattern == "ball":
        radius = max(4, min(w, h) // 6)
        period = 2 + seed % 3
        ball = (
            f"color=c=white:s={radius * 2}x{radius * 2}:r={spec.fps},format=rgba,"
            f"geq=r=255:g=255:b=255:a='255*lte(hypot(X-{radius}\\,Y-{radius})\\,{radius})'"
        )
        motion = f"x='(W-w)/2*(1+sin(2*PI*t/{period}))':y='(H-h)/2*(1+sin(2*PI*t/{period * 1.3:g}+1))'"
        return f"color=c=0x202020:{size}[bg];{ball}[ball];[bg][ball]overlay={motion}:format=rgb"
    if spec.pattern == "plasma":
        # geq evaluates three expressions per pixel: draw at half the pattern size, it is smooth anyway.
        return (
            f"color=c=black:s={_even(w // 2)}x{_even(h // 2)}:r={spec.fps},format=rgb24,"
            "geq=r='128+127*sin(X/4+T*2)':g='128+127*sin(Y/5-T*3)':b='128+127*sin((X+Y)/6+T)',"
            f"hue=s={_MUTED:g}"
        )
    return f"rgbtestsrc={size},scroll=h=0.004:v=0.002,hue=H=2*PI*t/5:s={_MUTED:g}"


def _drawtext(spec: ClipSpec, font: Path) -> str:
    size = font_size(spec.width, spec.height, spec.text)
    return (
        f"drawtext=fontfile={escape_drawtext(str(font))}:text={escape_drawtext(spec.text)}:expansion=none"
        f":fontsize={size}:fontcolor=white:borderw={max(1, size // 16)}:bordercolor=black@0.6"
        f":box=1:boxcolor=black@0.35:boxborderw={max(2, size // 3)}:x=(w-text_w)/2:y=(h-text_h)/2"
    )


def _short_video_duration(rng: random.Random) -> float:
    # Log-normal around 10.5 s: most clips 7-15 s, a thin tail toward 30 s, as on short-video apps.
    seconds = rng.lognormvariate(math.log(10.5), 0.38)
    return min(30.0, max(5.0, round(seconds * 2) / 2))


def _hex_colour(hue: float, *, saturation: float, value: float) -> str:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def _even(value: int) -> int:
    return max(2, value - value % 2)
