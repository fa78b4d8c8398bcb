"""What every schema shares: the strict base class, numbers kept as sent, the error body and its statuses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, WithJsonSchema

# A JSON number whose int or float type is kept as the handler produced it: a plain `float` field would turn
# a count of 5 into 5.0 in the body; the document still says "number".
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]

# Statuses any route may answer before or around its handler: a bad or foreign bearer token (401, 403), a
# parameter that fails validation (422), the rate limiter (429), a database that is down (503).
COMMON_ERRORS = (401, 403, 422, 429, 503)
# And any route that reads a body: broken framing (400), a stalled body (408), too large (413), wrong type (415).
BODY_ERRORS = (400, 408, 413, 415)

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not signed in, or the session expired",
    403: "Not allowed (another region's token, a cross-origin write, a role that may not)",
    404: "Not found, or not visible to this viewer",
    408: "The request body was sent too slowly",
    409: "Conflict with the current state",
    410: "Gone: the link has expired",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Rate limited: see Retry-After",
    503: "Unavailable: try again shortly",
    507: "No room to store this right now",
}


class Public(BaseModel):
    """A response schema: exactly the fields the handler returns, no others (an unknown key fails loudly)."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Public):
    """What went wrong: a stable machine-readable code and a message for people."""

    code: str
    message: str


class ErrorBody(Public):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


def errors(*statuses: int, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: the error body under each status it may answer with, the common ones included."""
    wanted = sorted({*COMMON_ERRORS, *(BODY_ERRORS if body else ()), *statuses})
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")} for status in wanted}


def binary_responses(
    *media_types: str, description: str, statuses: tuple[int, ...] = (404,)
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering with bytes (with HTTP Range support): its media types, and errors."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    ok = {"description": description, "content": {t: binary for t in media_types}}
    partial = {"description": "The requested byte range", "content": {t: binary for t in media_types}}
    return {200: ok, 206: partial, 416: {"description": "Range not satisfiable (an empty body)"}, **errors(*statuses)}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place, for a request body documented by hand."""
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
