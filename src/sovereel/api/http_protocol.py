"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection, for API processes run as workers.

With `--workers N` uvicorn binds the listening socket itself, as `socket.socket(family)`: protocol number 0, not
IPPROTO_TCP, and asyncio sets TCP_NODELAY only on sockets that say IPPROTO_TCP. Without it a response written
in two parts (headers, then body) waits for the client's delayed ACK of the first: every keep-alive request to
`serve --processes N` or `sovereel up` took 44 ms where one process answered in under 1 ms (measured on loopback
with a two-line ASGI app: p50 0.6 ms with one worker, 44 ms with two). Selected with
`--http sovereel.api.http_protocol:NoDelayH11Protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """`H11Protocol`, sending each write at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # a connection already reset: uvicorn closes it as usual
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
