"""Build ffmpeg command lines for renditions, posters and avatars. Pure: no subprocess, no file access.

Keeping argument building pure lets the tests pin down exactly what we ask ffmpeg for, and lets
the worker log the command it is about to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sovereel.media.inputs import ffmpeg_command, input_args, lavfi_input_args
from sovereel.media.probe import ProbeResult
from sovereel.media.sounds import ChosenSound, sound_audio_graph

RENDITIONS: Final[dict[str, int]] = {"1080": 1080, "720": 720, "360": 360}
"""Rendition name -> length of its short side in pixels (720x1280 portrait, 1280x720 landscape)."""

BASE_RENDITIONS: Final = ("720", "360")
"""Renditions every video gets (the 720 one keeps a smaller source's size); larger ones need a source that has them."""

POSTER_SHORT_SIDE: Final = 720
MAX_FRAME_RATE: Final = 60
"""Sources above this average rate (slow-motion phone clips) are brought down to it."""

AUDIO_SAMPLE_RATE: Final = 48000
KEYFRAME_INTERVAL_S: Final = 2


@dataclass(frozen=True)
class RenditionQuality:
    """Encoder targets of one rendition: x264 CRF, a VBV cap on peaks, and the AAC bitrate."""

    crf: int
    maxrate_kbps: int
    audio_kbps: int


QUALITY: Final[dict[str, RenditionQuality]] = {
    "1080": RenditionQuality(crf=23, maxrate_kbps=5000, audio_kbps=128),
    "720": RenditionQuality(crf=23, maxrate_kbps=2500, audio_kbps=128),
    "360": RenditionQuality(crf=26, maxrate_kbps=800, audio_kbps=96),
}


def rendition_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Scale (width, height) so the short side is `short_side`, never upscaling; both results even."""
    if width <= 0 or height <= 0 or short_side <= 0:
        raise ValueError(f"sizes must be positive, got {width}x{height} -> {short_side}")
    source_short = min(width, height)
    if source_short <= short_side:
        # Smaller than the target: keep the source size; H.264 4:2:0 still needs even sides.
        return _even_floor(width), _even_floor(height)
    scale = short_side / source_short
    if width <= height:
        return _even_floor(short_side), _even_round(height * scale)
    return _even_round(width * scale), _even_floor(short_side)


def renditions_for(width: int, height: int) -> list[str]:
    """Names of the renditions a source of display size (width, height) gets, largest first; never upscaled."""
    short = min(width, height)
    return [name for name, side in RENDITIONS.items() if name in BASE_RENDITIONS or short >= side]


# ffprobe's colour names -> zscale's, for the values we convert from. Only names from these tables
# ever reach a filter graph, so a file's tags cannot inject filter syntax.
_TRANSFERS: Final = {
    name: name
    for name in ("bt709", "smpte170m", "bt470bg", "bt2020-10", "bt2020-12", "smpte2084", "arib-std-b67", "iec61966-2-1")
}
_PRIMARIES: Final = {name: name for name in ("bt709", "bt470bg", "smpte170m", "smpte240m", "bt2020", "smpte432")}
_MATRICES: Final = {name: name for name in ("bt709", "bt470bg", "smpte170m", "bt2020nc", "bt2020c")}
_RANGES: Final = {"tv": "limited", "pc": "full"}
HDR_TRANSFERS: Final = frozenset({"smpte2084", "arib-std-b67"})
"""Transfers of HDR video: PQ (HDR10, Dolby Vision profile 8) and HLG (iPhone, most Android phones)."""

# Linear light 1.0 = 100 cd/m², the SDR reference white the tone-mapper maps to. Mobius keeps
# everything below it nearly unchanged and rolls off only the highlights above, so faces and
# skies keep their SDR brightness (Hable darkened our test picture by a fifth).
_TONEMAP: Final = "tonemap=mobius:desat=0"
_NOMINAL_PEAK: Final = 100


def is_hdr(probe: ProbeResult) -> bool:
    """True when the source uses an HDR transfer (PQ or HLG) and must be tone-mapped."""
    return _TRANSFERS.get(probe.color_transfer or "") in HDR_TRANSFERS


def colour_filters(probe: ProbeResult, size: tuple[int, int] | None = None) -> list[str]:
    """Filters that turn the source into SDR BT.709 (tone-mapping HDR), optionally resizing; [] when it already is.

    Everything after these filters is BT.709 limited range, which is how the outputs are tagged.
    """
    transfer = _TRANSFERS.get(probe.color_transfer or "")
    primaries = _PRIMARIES.get(probe.color_primaries or "")
    matrix = _MATRICES.get(probe.color_matrix or "")
    in_range = _RANGES.get(probe.color_range or "", "limited")
    resize = f"w={size[0]}:h={size[1]}:filter=bicubic:" if size else ""
    if transfer in HDR_TRANSFERS:
        # Resize in the first pass, so the costly float tone-mapping runs once, at the largest
        # output size, not at the source's 4K.
        return [
            f"zscale={resize}tin={transfer}:pin={primaries or 'bt2020'}:min={matrix or 'bt2020nc'}:rin={in_range}"
            f":t=linear:npl={_NOMINAL_PEAK}",
            "format=gbrpf32le",
            "zscale=p=bt709",
            _TONEMAP,
            "zscale=t=bt709:m=bt709:r=limited",
            "format=yuv420p",
        ]
    if (primaries or "bt709") == "bt709" and (matrix or "bt709") == "bt709":
        # BT.709 already, or untagged (which players take as BT.709 for HD): tagging is enough.
        return []
    return [
        f"zscale={resize}tin={transfer or 'bt709'}:pin={primaries or 'bt709'}:min={matrix or 'bt709'}:rin={in_range}"
        ":t=bt709:p=bt709:m=bt709:r=limited",
        "format=yuv420p",
    ]


def transcode_args(
    src: Path,
    out: dict[str, Path],
    probe: ProbeResult,
    *,
    container: str,
    preset: str,
    threads: int,
    sound: ChosenSound | None = None,
) -> list[str]:
    """Return one ffmpeg command encoding every rendition in `out` (name -> path) of `src`, a sniffed `container`.

    With a chosen `sound` the renditions carry it instead of (replace) or with (mix) the source's own audio.
    """
    if not out:
        raise ValueError("at least one rendition is required")
    unknown = sorted(set(out) - set(RENDITIONS))
    if unknown:
        raise ValueError(f"unknown renditions: {', '.join(unknown)}")
    thread_args = ["-threads", str(threads)] if threads > 0 else []
    # Decoding threads belong before -i; encoder threads are per output below.
    args = ffmpeg_command(*input_args(src, container, *thread_args))
    audio_maps: list[str] = []
    graph = _split_and_scale(out, probe)
    if sound is not None:
        # Our own stored sound file (AAC in MP4): opened like any stored file, with its demuxer pinned.
        args += input_args(sound.path, "mp4")
        own = f"0:a:{probe.audio_stream}" if probe.has_audio and sound.mode == "mix" else None
        audio_graph, labels = sound_audio_graph(
            source_audio=own, sound_input=1, duration_s=probe.duration_s, outputs=len(out)
        )
        graph += ";" + audio_graph
        audio_maps = [f"[{label}]" for label in labels]
        audio_map = ""
    elif probe.has_audio:
        audio_map = f"0:a:{probe.audio_stream}"
    else:
        # Every rendition carries AAC even for silent sources: some players (and MSE) stall on
        # video-only MP4s, and the web player can then treat all renditions alike.
        args += lavfi_input_args(_silence(), "-t", f"{probe.duration_s:.3f}")
        audio_map = "1:a:0"
    if threads > 0:
        args += ["-filter_complex_threads", str(threads)]
    args += ["-filter_complex", graph]
    for index, (name, path) in enumerate(out.items()):
        quality = QUALITY[name]
        args += ["-map", f"[v{index}]", "-map", audio_maps[index] if audio_maps else audio_map]
        args += [*_video_codec_args(quality, preset), *thread_args]
        args += ["-c:a", "aac", "-b:a", f"{quality.audio_kbps}k", "-ac", "2", "-ar", str(AUDIO_SAMPLE_RATE)]
        args += [*_container_args(), str(path)]
    return args


def poster_time(duration_s: float) -> float:
    """Return where to take the poster frame: one second in, or a third of the way for short clips."""
    return min(1.0, duration_s / 3)


def poster_args(
    src: Path, out: Path, at_s: float, width: int, *, container: str, probe: ProbeResult | None = None
) -> list[str]:
    """Return an ffmpeg command writing one JPEG frame of `src` (a sniffed `container`) at `at_s` s, `width` px wide.

    With the source's `probe` the frame is tone-mapped like the renditions and sized to its display
    aspect (square pixels); without it the height follows the coded frame.
    """
    if probe is not None:
        height = _even_round(width * probe.height / probe.width)
        filters = [*colour_filters(probe), f"scale={_even_floor(width)}:{height}:flags=bicubic"]
    else:
        filters = [f"scale={_even_floor(width)}:-2:flags=bicubic"]
    # JPEG means full-range BT.601 YCbCr read as sRGB: convert from BT.709 rather than relabel.
    filters[-1] += ":in_color_matrix=bt709:out_color_matrix=bt601:out_range=full"
    filters += ["setsar=1", "format=yuvj420p"]
    return ffmpeg_command(
        # -ss before -i seeks by keyframe then decodes forward: fast and frame-accurate.
        *input_args(src, container, "-ss", f"{max(at_s, 0.0):.3f}"),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        ",".join(filters),
        *_one_jpeg(out),
    )


def _one_jpeg(out: Path) -> tuple[str, ...]:
    """Output arguments for one JPEG image without the source's metadata (posters, avatars)."""
    return ("-q:v", "3", "-map_metadata", "-1", "-c:v", "mjpeg", "-f", "image2", "-update", "1", str(out))


def avatar_args(src: Path, out: Path, kind: str) -> list[str]:
    """Return an ffmpeg command writing `src`, an image of sniffed `kind`, as a 256x256 centre-cropped JPEG."""
    return ffmpeg_command(
        *input_args(src, kind),
        "-frames:v",
        "1",
        "-vf",
        "scale=256:256:force_original_aspect_ratio=increase,crop=256:256",
        *_one_jpeg(out),
    )


def _split_and_scale(out: dict[str, Path], probe: ProbeResult) -> str:
    # ffmpeg autorotates on decode, so [0:v:0] already has the display orientation, and scaling to
    # the probe's display dimensions (then setsar=1) turns non-square pixels into square ones.
    sizes = [rendition_size(probe.width, probe.height, RENDITIONS[name]) for name in out]
    largest = max(sizes, key=lambda size: size[0] * size[1])
    shared = colour_filters(probe, largest)
    if probe.frame_rate is not None and probe.frame_rate > MAX_FRAME_RATE + 0.5:
        shared.insert(0, f"fps={MAX_FRAME_RATE}")
    labels = "".join(f"[s{i}]" for i in range(len(out)))
    chains = [f"[0:v:0]{''.join(f + ',' for f in shared)}split={len(out)}{labels}"]
    for index, (w, h) in enumerate(sizes):
        chains.append(f"[s{index}]scale={w}:{h}:flags=bicubic:out_range=tv,setsar=1,format=yuv420p[v{index}]")
    return ";".join(chains)


def _video_codec_args(quality: RenditionQuality, preset: str) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        str(quality.crf),
        # CRF alone lets busy scenes spike; a VBV cap keeps mobile playback from stalling.
        "-maxrate",
        f"{quality.maxrate_kbps}k",
        "-bufsize",
        f"{quality.maxrate_kbps * 2}k",
        # Regular keyframes make seeking and feed preloading land quickly whatever the frame rate.
        "-force_key_frames",
        f"expr:gte(t,n_forced*{KEYFRAME_INTERVAL_S})",
        # Keep each frame's own timestamp: a clip that is 24 fps then 60 fps must not be resampled
        # to one constant rate (which either drops the 60 fps part or duplicates frames up to
        # 120 fps). The source's time base keeps the timestamps exact.
        "-fps_mode:v",
        "vfr",
        "-enc_time_base:v",
        "-1",
        # Everything reaching the encoder is SDR BT.709 (colour_filters); say so, so players
        # neither guess nor keep an HDR source's tags on SDR pixels.
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-colorspace",
        "bt709",
        "-color_range",
        "tv",
    ]


def _container_args() -> list[str]:
    return [
        # Drop the source's global tags and chapters: phone clips carry GPS location in them.
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        # Frames are already upright; make sure no rotation flag survives to rotate them twice.
        "-metadata:s:v:0",
        "rotate=0",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
    ]


def _silence() -> str:
    return f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_SAMPLE_RATE}"


def _even_floor(value: int) -> int:
    return max(2, value - value % 2)


def _even_round(value: float) -> int:
    return max(2, round(value / 2) * 2)
