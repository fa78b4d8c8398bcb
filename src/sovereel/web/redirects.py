"""Redirect targets a visitor supplies (`?next=`), read the way a browser reads them.

A browser's URL parser (WHATWG URL) drops leading and trailing C0 controls and spaces, removes tabs and newlines
anywhere, reads `\\` as `/` in http(s) URLs, and folds `.`/`..` segments (also written `%2e`). So a check on the
raw string (`startswith("//")`) misses `/\\t/evil.example`, `\\n//evil` or `/.//evil`. Here the target is parsed
with those rules, kept only if it is a path on this origin, and returned re-encoded, never as the raw input.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_OUTER = "".join(chr(c) for c in range(0x21))  # C0 controls and space
_SINGLE_DOT = {".", "%2e"}
_DOUBLE_DOT = {"..", ".%2e", "%2e.", "%2e%2e"}
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _browser_clean(raw: str) -> str:
    return raw.strip(_OUTER).translate(_TAB_OR_NEWLINE).replace("\\", "/")


def _fold_dots(path: str) -> str:
    """The path with `.` and `..` segments resolved as a browser resolves them."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg.lower() in _DOUBLE_DOT:
            if out:
                out.pop()
            if last:
                out.append("")
        elif seg.lower() in _SINGLE_DOT:
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _names_a_host(path: str) -> bool:
    # `//x` (or `/\x`) is read as a host; checked again after one percent-decoding, in case anything on the way
    # (a proxy, a script) decodes the Location once more.
    return path.startswith("//") or _browser_clean(unquote(path)).startswith("//")


def same_origin_path(target: str | None) -> str | None:
    """`target` as a re-encoded path (+ query + fragment) on this origin, or None if a browser could leave it."""
    if not target:
        return None
    cleaned = _browser_clean(target)
    if _SCHEME_RE.match(cleaned) or not cleaned.startswith("/") or cleaned.startswith("//"):
        return None  # a scheme (javascript:, http:host), a host (//x), or not a path at all
    rest, hash_mark, fragment = cleaned.partition("#")
    path, question_mark, query = rest.partition("?")
    path = _fold_dots(path)
    if _names_a_host(path):
        return None
    result = quote(path, safe=_PATH_SAFE)
    if question_mark:
        result += "?" + quote(query, safe=_QUERY_SAFE)
    if hash_mark:
        result += "#" + quote(fragment, safe=_QUERY_SAFE)
    return result
