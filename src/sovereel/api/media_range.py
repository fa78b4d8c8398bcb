"""Serving blobs with HTTP Range support (single ranges, as video players ask)."""

from __future__ import annotations

import re

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from sovereel.storage.blobs.interface import BlobStore

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)\Z", re.ASCII)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for one satisfiable range; None to send everything; ValueError if unsatisfiable."""
    m = _RANGE.fullmatch(header.strip())
    if not m:
        return None  # multi-range or malformed: RFC 9110 lets us ignore it and send the whole body
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError("range not satisfiable")
    return start, end


def blob_response(request: Request, blobs: BlobStore, key: str, media_type: str) -> Response:
    """200 with the whole blob, 206 with the asked range, or 416."""
    size = blobs.size(key)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    header = request.headers.get("range")
    try:
        rng = parse_range(header, size) if header else None
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if rng is None:
        return StreamingResponse(
            blobs.iter_range(key, 0, size - 1),
            media_type=media_type,
            headers={**headers, "Content-Length": str(size)},
        )
    start, end = rng
    return StreamingResponse(
        blobs.iter_range(key, start, end),
        status_code=206,
        media_type=media_type,
        headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)},
    )
