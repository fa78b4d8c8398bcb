"""Rendering every error as {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from sovereel.errors import AppError
from sovereel.storage.blobs.interface import DISK_FULL_ERRNOS, BlobStoreFull


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


async def send_error(
    send: Send, status: int, code: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer from ASGI middleware (before any route runs) with the error envelope, never cached."""
    body = json.dumps(error_body(code, message)).encode()
    start = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def db_unavailable(exc: BaseException) -> bool:
    """True for the errors of a database that is down, restarting or out of connections (not a bad query)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable_response() -> JSONResponse:
    return JSONResponse(
        error_body("unavailable", "the database is unavailable; try again shortly"),
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _insufficient_storage() -> JSONResponse:
    return JSONResponse(
        error_body("insufficient_storage", "the server has no room to store this right now; try again later"),
        status_code=507,
        headers={"Retry-After": "60"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_req: Request, exc: AppError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid", _validation_message(exc)), status_code=422)

    @app.exception_handler(ValidationError)
    async def _model_validation(_req: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("invalid", _validation_message(RequestValidationError(exc.errors()))), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(BlobStoreFull)
    async def _store_full(_req: Request, _exc: BlobStoreFull) -> JSONResponse:
        return _insufficient_storage()

    @app.exception_handler(OSError)
    async def _os_error(_req: Request, exc: OSError) -> JSONResponse:
        if exc.errno in DISK_FULL_ERRNOS:
            return _insufficient_storage()
        raise exc

    @app.exception_handler(OperationalError)
    async def _db_down(_req: Request, _exc: OperationalError) -> JSONResponse:
        return unavailable_response()

    # PostgreSQL refuses a value it cannot hold (a NUL character in text, which SQLite keeps; a number out of its
    # column's range): that is the request's input, whichever route or parameter carried it, not our failure. The
    # statement's transaction is rolled back, so nothing was half-written.
    @app.exception_handler(DataError)
    async def _unstorable(_req: Request, _exc: DataError) -> JSONResponse:
        return JSONResponse(
            error_body("invalid", "the request holds a value that cannot be stored (a NUL character, say)"),
            status_code=422,
        )

    @app.exception_handler(InterfaceError)
    async def _db_gone(_req: Request, _exc: InterfaceError) -> JSONResponse:
        return unavailable_response()

    # The last resort, run by Starlette's outermost middleware: it also sees errors raised in other middleware
    # (rate limits, session lookups), which the handlers above never do. A database outage there is a 503 too.
    # Starlette re-raises the error after this response so the server logs it, and uvicorn then closes the
    # connection: `Connection: close` says so, or a client that reuses the connection for its next request
    # races the close and gets a dropped connection (ReadError) instead of an answer.
    @app.exception_handler(Exception)
    async def _unhandled(_req: Request, exc: Exception) -> JSONResponse:
        response = (
            unavailable_response()
            if db_unavailable(exc)
            else JSONResponse(error_body("internal", "something went wrong on our side"), status_code=500)
        )
        response.headers["Connection"] = "close"
        return response
