"""Frames of the local bus (`local.py`): a 4-byte big-endian length, then one JSON object."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, BinaryIO

from sovereel.events.bus.interface import Message

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 20  # far above a For You delta part (under 1 MiB); a larger length means a broken stream


def frame(body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return HEADER.pack(len(data)) + data


def send_frame(sock: socket.socket, body: dict[str, Any]) -> None:
    sock.sendall(frame(body))


def read_frame(reader: BinaryIO) -> dict[str, Any] | None:
    """The next frame, or None when the other side closed the connection between frames."""
    header = reader.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise ValueError("connection closed inside a frame header")
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes refused")
    data = reader.read(size)
    if len(data) < size:
        raise ValueError("connection closed inside a frame")
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError("a frame must be a JSON object")
    return body


def encode_message(kind: str, message: Message, *, sid: int | None = None) -> bytes:
    """A message frame from the hub: `kind` "s" (subscribed, from the outbox) or "l" (live); `sid` names the one
    subscription it is for (a new subscription's catch-up), else every matching one gets it."""
    body: dict[str, Any] = {"k": kind, "m": plain(message)}
    if sid is not None:
        body["sid"] = sid
    return frame(body)


def plain(message: Message) -> dict[str, Any]:
    """A message as a JSON object."""
    return {"id": message.id, "topic": message.topic, "payload": message.payload, "created_at": message.created_at}


def decode_message(body: Any) -> Message:
    return Message(
        id=int(body["id"]),
        topic=str(body["topic"]),
        payload=dict(body["payload"]),
        created_at=float(body.get("created_at") or 0.0),
    )
