"""The media worker: takes a video id, locks its job, transcodes what is missing, and records the outcome.

Jobs are idempotent (rendition keys are fixed per video, so a re-run overwrites instead of duplicating).
A failure on our side (ffmpeg killed or timed out, no disk, the store away) is retried with exponential
backoff; a failure of the file itself (damaged, unsupported) fails at once, since every attempt would
fail the same way. The uploader sees a plain sentence; ffmpeg's own words go to the log and the job row. A job is
held by a lease (`job_lock_s`) that a heartbeat renews while it runs: a job whose worker died is taken over
once its lease lapses, a long transcode by a live worker never is. Every write to the job and video rows goes
through `actions.media_jobs`; this module holds the I/O (blobs, ffmpeg, work folders) and the threads. Each failed
attempt counts in `sovereel_media_job_failures_total` (label `final`: whether the video is failed for good).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sovereel.actions.media_jobs import (
    Transcoded,
    do_claim_job,
    do_fail_attempt,
    do_finish_job,
    do_publish_transcoded,
    do_renew_lease,
    do_requeue_for_room,
)
from sovereel.actions.screening import fingerprint_file
from sovereel.actions.sounds import ExtractedSound
from sovereel.events.bus.interface import Message
from sovereel.ids import new_id
from sovereel.media.probe import ProbeError, ProbeResult, probe_file
from sovereel.media.sniff import sniff_file
from sovereel.media.sounds import SOUND_FILE, ChosenSound, SoundError, extract_sound, fingerprint_audio
from sovereel.media.transcode import TRY_LATER, TranscodeError, TranscodeResult, transcode
from sovereel.runtime.consumers import connect
from sovereel.storage.blobs.interface import BlobError, BlobStoreFull
from sovereel.storage.models import MediaJob, Sound, Video
from sovereel.telemetry import JOB_FAILURES

if TYPE_CHECKING:
    from sovereel.runtime.region import RegionRuntime

log = logging.getLogger(__name__)


def claim_job(rt: RegionRuntime, worker_id: str, now: float | None = None) -> str | None:
    """Lock the next due job for this worker; returns its video id, or None when nothing is due."""
    now = time.time() if now is None else now
    return do_claim_job(rt.db, worker_id, rt.settings.job_lock_s, now)


@contextmanager
def hold_lease(rt: RegionRuntime, video_id: str, worker_id: str) -> Iterator[None]:
    """Renew this worker's lease on a job every third of `job_lock_s` until the block ends."""
    stop = threading.Event()
    lock_s = rt.settings.job_lock_s

    def renew() -> None:
        while not stop.wait(lock_s / 3):
            try:
                do_renew_lease(rt.db, video_id, worker_id, lock_s)
            except Exception:  # the database is briefly away: the next beat tries again
                log.warning("could not renew the lease on video %s", video_id, exc_info=True)

    beat = threading.Thread(target=renew, name=f"lease-{video_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)


def run_job(rt: RegionRuntime, video_id: str, worker_id: str) -> str:
    """Process a claimed job while holding its lease."""
    with hold_lease(rt, video_id, worker_id):
        return process_job(rt, video_id, worker_id)


def process_job(rt: RegionRuntime, video_id: str, worker_id: str) -> str:
    """Transcode one claimed video; returns the job's new state (done | queued | failed)."""
    settings = rt.settings
    with rt.db.session() as s:
        video = s.get(Video, video_id)
        job = s.get(MediaJob, video_id)
    if video is None or job is None:
        return "gone"
    if video.status == "ready":
        do_finish_job(rt.db, video_id, "done", None)
        return "done"
    workdir = settings.region_dir / "work" / f"{video_id}-{worker_id}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.perf_counter()
    try:
        if not video.original_key or not rt.blobs.exists(video.original_key):
            raise TranscodeError(TRY_LATER, detail="the original upload is missing", transient=True)
        src = Path(rt.blobs.fetch_to(video.original_key, workdir / "original"))
        # The container was sniffed at intake but not stored; sniffing the same bytes again is exact.
        container = sniff_file(src)
        if container is None:
            raise TranscodeError("The original upload is not an MP4, MOV, WebM or MKV container.")
        probe = probe_file(src, max_duration_s=settings.max_duration_s, container=container)
        t_probe = time.perf_counter()
        chosen = _chosen_sound(rt, video, workdir)
        result = transcode(
            src,
            workdir,
            probe,
            container=container,
            preset=settings.x264_preset,
            threads=settings.ffmpeg_threads,
            sound=chosen,
        )
        t_transcode = time.perf_counter()
        smallest = min(result.renditions.values(), key=lambda r: r.bytes)
        fingerprint = fingerprint_file(smallest.path, result.duration_s)  # before the files move into the store
        own_sound = _own_sound(video_id, probe, result, workdir) if chosen is None else None
        renditions = {}
        for name, r in result.renditions.items():
            key = f"videos/{video_id}/{name}.mp4"
            rt.blobs.put_file(key, r.path, move=True)
            renditions[name] = {
                "key": key,
                "width": r.width,
                "height": r.height,
                "bytes": r.bytes,
                "bitrate_kbps": r.bitrate_kbps,
            }
        poster_key = f"videos/{video_id}/poster.jpg"
        rt.blobs.put_file(poster_key, result.poster, move=True)
        if own_sound is not None:  # stored last: a failure above leaves no sound audio behind
            rt.blobs.put_file(own_sound.audio_key, workdir / SOUND_FILE, move=True)
        media = Transcoded(
            renditions=renditions,
            poster_key=poster_key,
            duration_s=result.duration_s,
            width=probe.width,
            height=probe.height,
            fingerprint=fingerprint,
            sound=own_sound,
            chosen_sound_used=chosen is not None or video.sound_id is None,
        )
        # Records it, screens it (it may be held for review, or a removed video's copy refused) and emits its event.
        try:
            original_key = do_publish_transcoded(rt.db, settings, video_id, media)
        except BaseException:
            if own_sound is not None:  # the next attempt makes its own
                rt.blobs.delete_prefix(f"sounds/{own_sound.sound_id}")
            raise
        if original_key is None:  # deleted while transcoding: leave no media behind
            rt.blobs.delete_prefix(f"videos/{video_id}")
            if own_sound is not None:
                rt.blobs.delete_prefix(f"sounds/{own_sound.sound_id}")
            return "gone"
        if original_key:  # renditions are verified and committed: the original may go
            rt.blobs.delete(original_key)
        if own_sound is not None and not _sound_kept(rt, own_sound.sound_id):  # it matched an existing sound
            rt.blobs.delete_prefix(f"sounds/{own_sound.sound_id}")
        for stale in workdir.parent.glob(f"{video_id}-*"):  # left by a worker that died on this job
            shutil.rmtree(stale, ignore_errors=True)
        rt.wake()
        log.info(
            "video %s ready: probe %.2fs transcode %.2fs store %.2fs",
            video_id,
            t_probe - started,
            t_transcode - t_probe,
            time.perf_counter() - t_transcode,
        )
        return "done"
    except BlobStoreFull as exc:
        return _wait_for_room(rt, video_id, str(exc))
    except TranscodeError as exc:
        return _fail_attempt(rt, video_id, exc.reason, exc.detail, transient=exc.transient)
    except ProbeError as exc:
        return _fail_attempt(rt, video_id, exc.message, exc.detail or exc.message, transient=exc.transient)
    except (BlobError, OSError) as exc:
        return _fail_attempt(rt, video_id, TRY_LATER, f"{type(exc).__name__}: {exc}", transient=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _chosen_sound(rt: RegionRuntime, video: Video, workdir: Path) -> ChosenSound | None:
    """The audio of the sound chosen with "Use this sound", fetched for the transcode; None when none was chosen.

    A sound whose audio went away after the upload was accepted (its creator erased) cannot be used: the video is
    then published with its own audio, crediting no chosen sound.
    """
    if video.sound_id is None or video.sound_mode not in ("mix", "replace"):
        return None
    with rt.db.session() as s:
        sound = s.get(Sound, video.sound_id)
        audio_key = sound.audio_key if sound is not None else None
    if audio_key is None or not rt.blobs.exists(audio_key):
        log.warning(
            "video %s: the chosen sound %s has no audio any more; using the video's own", video.id, video.sound_id
        )
        return None
    path = Path(rt.blobs.fetch_to(audio_key, workdir / f"chosen-{SOUND_FILE}"))
    return ChosenSound(path=path, mode="mix" if video.sound_mode == "mix" else "replace")


def _own_sound(video_id: str, probe: ProbeResult, result: TranscodeResult, workdir: Path) -> ExtractedSound | None:
    """Copy the finished video's audio track out (to `workdir`/SOUND_FILE) as a candidate sound, and fingerprint it.

    None for a video without audio (its renditions carry generated silence, which is no one's sound). A failure
    here is logged and the video is published without a sound: a missing credit is better than a failed upload.
    """
    if not probe.has_audio:
        return None
    rendition = result.renditions.get("720") or min(result.renditions.values(), key=lambda r: r.bytes)
    sound_id = new_id()
    try:
        audio = extract_sound(rendition.path, workdir / SOUND_FILE)
    except SoundError:
        log.warning("video %s: could not copy its audio out as a sound", video_id, exc_info=True)
        return None
    try:
        fingerprint: list[int] | None = fingerprint_audio(audio)
    except SoundError:
        log.warning("video %s: its sound could not be fingerprinted; it will not be matched", video_id, exc_info=True)
        fingerprint = None
    key = f"sounds/{sound_id}/{SOUND_FILE}"
    return ExtractedSound(sound_id=sound_id, audio_key=key, fingerprint=fingerprint, duration_s=result.duration_s)


def _sound_kept(rt: RegionRuntime, sound_id: str) -> bool:
    with rt.db.session() as s:
        return s.get(Sound, sound_id) is not None


def _wait_for_room(rt: RegionRuntime, video_id: str, reason: str) -> str:
    """The media store is full: not the video's fault, so the attempt is given back and the job waits."""
    do_requeue_for_room(rt.db, video_id, reason, rt.settings.job_backoff_s)
    log.warning("video %s: media store full, job re-queued: %s", video_id, reason)
    return "queued"


def _fail_attempt(rt: RegionRuntime, video_id: str, reason: str, detail: str, *, transient: bool) -> str:
    """Record a failed attempt: `reason` may reach the uploader, `detail` only the job row and the log."""
    state = do_fail_attempt(rt.db, rt.settings, video_id, reason, detail, transient=transient)
    if state == "gone":
        return state
    JOB_FAILURES.labels(final="true" if state == "failed" else "false").inc()
    log.warning(
        "video %s transcode attempt failed (%s, %s): %s",
        video_id,
        state,
        "transient" if transient else "final",
        detail,
    )
    rt.wake()
    return state


class MediaWorker:
    """Threads that run transcode jobs; woken by `video.uploaded` events, polling as a fallback."""

    def __init__(self, rt: RegionRuntime, threads: int | None = None, poll_s: float = 2.0) -> None:
        self.rt = rt
        self.threads = threads or rt.settings.media_threads
        self.poll_s = poll_s
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        connect(rt.bus, "media_worker", self._on_uploaded)

    def _on_uploaded(self, _msg: Message) -> None:
        self._wake.set()

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(f"{self.worker_id}-{i}",), name=f"media-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def run_until_idle(self) -> int:
        """Process every due job in this thread (CLI `demo`, tests); returns how many were processed."""
        n = 0
        while (video_id := claim_job(self.rt, self.worker_id)) is not None:
            run_job(self.rt, video_id, self.worker_id)
            n += 1
        return n

    def _run(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                video_id = claim_job(self.rt, worker_id)
                if video_id is not None:
                    try:
                        run_job(self.rt, video_id, worker_id)
                    except Exception:  # an attempt that broke off: its lease lapses and the job is retried
                        JOB_FAILURES.labels(final="false").inc()
                        raise
                    continue
            except Exception:
                log.exception("media worker pass failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=5)
