"""Receiving an upload: size while streaming (413), sniffed type (415), probe (422) — before any row exists."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from sovereel.errors import Invalid, TooLarge, UnsupportedMedia
from sovereel.media.probe import ProbeError, ProbeResult, probe_file
from sovereel.media.sniff import SNIFF_BYTES, sniff_container
from sovereel.settings import Settings

log = logging.getLogger(__name__)

FORM_OVERHEAD = 64 * 1024  # room for the caption, visibility and multipart boundaries


@dataclass
class StagedUpload:
    path: Path
    original_name: str
    container: str
    probe: ProbeResult
    fields: dict[str, str]

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _too_large(settings: Settings) -> TooLarge:
    return TooLarge(f"the file is larger than the {settings.max_upload_mb} MB limit", code="file_too_large")


async def _counted(request: Request, limit: int, settings: Settings) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(settings)  # stop reading: the rest of the body is never buffered
        yield chunk


def safe_name(filename: str | None) -> str:
    """The client's file name reduced to a harmless base name (it is only ever displayed)."""
    base = os.path.basename((filename or "").replace("\\", "/")).strip().lstrip(".")
    return base[:200] or "upload"


async def receive_upload(request: Request, settings: Settings) -> StagedUpload:
    """Stream a multipart upload to a staging file and check it; raises 413/415/422 AppErrors."""
    limit = settings.max_upload_bytes + FORM_OVERHEAD
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(settings)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMedia("send the video as multipart/form-data with a 'file' field", code="not_multipart")
    parser = MultiPartParser(request.headers, _counted(request, limit, settings), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Invalid(f"malformed upload: {exc.message}", code="bad_multipart") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("the 'file' field with a video is missing", code="no_file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await asyncio.to_thread(_stage_and_check, upload, fields, settings)
    finally:
        await form.close()


def _stage_and_check(upload: UploadFile, fields: dict[str, str], settings: Settings) -> StagedUpload:
    upload.file.seek(0, os.SEEK_END)
    size = upload.file.tell()
    upload.file.seek(0)
    if size > settings.max_upload_bytes:
        raise _too_large(settings)
    if size == 0:
        raise Invalid("the file is empty", code="empty_file")
    head = upload.file.read(SNIFF_BYTES)
    container = sniff_container(head)
    if container is None:
        raise UnsupportedMedia("only MP4, MOV, WebM and MKV videos are accepted", code="unsupported_type")
    upload.file.seek(0)
    staging = settings.region_dir / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=f".{container}", dir=staging)
    path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
        try:
            probe = probe_file(path, max_duration_s=settings.max_duration_s, container=container)
        except ProbeError as exc:
            raise Invalid(exc.message, code=exc.code) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if probe.trailing_bytes:
        # Accepted: ffmpeg and players stop at the last box. Logged so a pattern of them is visible.
        log.info("upload %s: %d trailing bytes ignored", safe_name(upload.filename), probe.trailing_bytes)
    return StagedUpload(path, safe_name(upload.filename), container, probe, fields)
