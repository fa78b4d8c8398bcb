"""Caption parsing: #hashtags and @mentions (pure)."""

from __future__ import annotations

import re
import unicodedata

HASHTAG_RE = re.compile(r"(?<![\w&#])#(\w{1,100})", re.UNICODE)
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.]{1,29})")
_TAG_RE = re.compile(r"^\w{1,100}\Z", re.UNICODE)  # one hashtag, whole: what HASHTAG_RE captures


def hashtag_key(tag: str) -> str | None:
    """The stored form of a hashtag asked for by name ('#Café' -> 'café'), or None when it cannot be one."""
    key = unicodedata.normalize("NFC", tag).removeprefix("#").lower()
    return key if _TAG_RE.fullmatch(key) and not key.isdigit() else None


def parse_hashtags(caption: str) -> list[str]:
    """Distinct lower-cased hashtags in order of first appearance."""
    seen: dict[str, None] = {}
    for m in HASHTAG_RE.finditer(caption):
        tag = m.group(1).lower()
        if not tag.isdigit():
            seen.setdefault(tag, None)
    return list(seen)


def parse_mentions(caption: str) -> list[str]:
    """Distinct mentioned usernames (lower-cased) in order of first appearance."""
    seen: dict[str, None] = {}
    for m in MENTION_RE.finditer(caption):
        seen.setdefault(m.group(1).rstrip(".").lower(), None)
    return list(seen)
