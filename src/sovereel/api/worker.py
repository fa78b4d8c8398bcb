"""One API process of `serve --processes N` and `sovereel up`: uvicorn on a listening socket the supervisor made.

    python -m sovereel.api.worker --fd N

Each API process gets a socket of its own, bound to the same port with SO_REUSEPORT (`runtime.supervisor`), so
the kernel hashes each new connection to one of them evenly. Under uvicorn's `--workers` the processes shared one
socket and whichever woke first took the connection; keep-alive clients then stayed where they landed, and under
load one process held most of them (a 32-client benchmark split 13 / 19 and left a core partly idle).
"""

from __future__ import annotations

import argparse
import socket

import uvicorn

from sovereel.api.http_protocol import NoDelayH11Protocol
from sovereel.runtime.supervisor import GRACEFUL_SHUTDOWN_S, KEEP_ALIVE_S


def server_config() -> uvicorn.Config:
    """uvicorn's settings for an API process (the app is built from the SOVEREEL_* environment when it starts)."""
    return uvicorn.Config(
        "sovereel.api.asgi:app_from_env",
        factory=True,
        http=NoDelayH11Protocol,  # the socket is the supervisor's: asyncio would leave Nagle on (http_protocol)
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the region's app on the inherited socket until signalled."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket's file descriptor")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)  # family and protocol are read from the descriptor
    uvicorn.Server(server_config()).run(sockets=[sock])


if __name__ == "__main__":
    main()
