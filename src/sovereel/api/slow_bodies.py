"""A deadline on reading request bodies: a client that opens a request and then trickles (or stops sending) its
body is answered 408 and disconnected, instead of holding a connection and a worker for ever.

The limit is on idleness, not size: each chunk must arrive within `idle_s` of the last, and the body as a whole
must keep up at least `min_rate` bytes a second after its first `idle_s` (so one byte every few seconds does not
reset the clock for ever). A large upload on a slow but working link passes; a stalled one does not.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovereel.api.errors import send_error

MESSAGE = "The request body arrived too slowly (or stopped arriving), so the request was dropped; send it again."


class BodyTimeoutMiddleware:
    """Answers 408 and ends the request when its body stalls (see the module docstring)."""

    def __init__(self, app: ASGIApp, idle_s: float = 30.0, min_rate: int = 1024) -> None:
        self.app = app
        self.idle_s = idle_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        received = 0
        body_done = False
        response_started = False
        timed_out = False

        def wait_limit() -> float:
            budget = self.idle_s
            if self.min_rate > 0:  # the whole body: idle_s of grace, then at least min_rate bytes a second
                budget = min(budget, started + self.idle_s + received / self.min_rate - time.monotonic())
            return budget

        async def timed_receive() -> Message:
            nonlocal received, body_done, timed_out
            if body_done or timed_out:
                return await receive()  # e.g. a streaming response waiting for the disconnect: no deadline
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, wait_limit()))
            except TimeoutError:
                timed_out = True
                if not response_started:
                    await refuse(send)
                return {"type": "http.disconnect"}  # the app sees a client that went away and stops
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if timed_out:
                return  # the 408 has been sent; whatever the app answers after it is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise  # an error of the app's own, not the stalled body it was reading


async def refuse(send: Send) -> None:
    """Send the 408 and ask the server to close the connection."""
    await send_error(send, 408, "request_timeout", MESSAGE, [(b"connection", b"close")])
