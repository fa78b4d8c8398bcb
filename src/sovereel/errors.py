"""Errors that carry their HTTP status and a stable code; the API renders them as {"error": {code, message}}."""

from __future__ import annotations


class AppError(Exception):
    status = 400
    code = "bad_request"
    retry_after_s: int | None = None  # sent as Retry-After where set

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(AppError):
    status = 422
    code = "invalid"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


class TooLarge(AppError):
    status = 413
    code = "too_large"


class UnsupportedMedia(AppError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"


class Busy(AppError):
    """The server has more of this work queued than it can do in time: try again shortly."""

    status = 503
    code = "busy"
    retry_after_s = 2
