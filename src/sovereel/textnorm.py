"""The one normalisation of text people write: comments, captions, display names, bios, reports, appeals (pure).

Every action that stores user-written text passes it through `clean_text` first, and where the text is
required refuses it unless `has_visible_text` holds afterwards. So text is stored as it will be read:

- Unicode NFC, so the same words are the same code points (search, hashtags, filters);
- no control characters (Cc) except newlines in multi-line text (CR and CRLF become LF, a tab a space);
- no format characters (Cf): zero-width space, word joiner, BOM, soft hyphen, invisible operators, the bidi
  embeddings, overrides and isolates (U+202A-202E, U+2066-2069, which make text read in a different order
  than it is stored), and the tag characters. The two joiners are kept only where a script needs them:
  a zero-width joiner between two emoji (a family, a profession), a non-joiner between two letters (Persian);
- whitespace collapsed: one space for any run of spaces within a line (NBSP and other Unicode spaces
  included), at most one blank line in a row, nothing at either end.

Text is "visible" when at least one letter, digit, punctuation mark or symbol is left (or a code point newer
than Python's Unicode tables, such as a new emoji); the blank fillers that render as nothing (Hangul fillers,
Braille blank) do not count. Combining marks alone do not count either.
"""

from __future__ import annotations

import re
import unicodedata

ZWJ, ZWNJ = "\u200d", "\u200c"
# Code points that are letters or symbols to Unicode but render as nothing: a name of them is a blank name.
BLANK_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_VISIBLE_CATEGORIES = frozenset("LNPS")  # first letter of the general category
# Private use, and code points this Python's Unicode tables do not know yet (emoji newer than them).
_VISIBLE_OTHER = frozenset({"Co", "Cn"})
_EMOJI_CATEGORIES = frozenset({"So", "Sk"})
_SPACE_RUN = re.compile(r"[^\S\n]+")  # whitespace other than a newline
_BLANK_LINES = re.compile(r"\n{3,}")
_BLANK = "[\\s" + "".join(sorted(BLANK_FILLERS)) + "]+"
_EDGES = re.compile(f"\\A{_BLANK}|{_BLANK}\\Z")


def _keep_joiner(text: str, i: int) -> bool:
    """A joiner at text[i] stays only between two characters of the kind that needs it."""
    if not 0 < i < len(text) - 1:
        return False
    before, after = text[i - 1], text[i + 1]
    if text[i] == ZWJ:  # emoji sequences: 👩‍🔬; a variation selector (Mn) may sit before the joiner
        prev = text[i - 2] if before == "\ufe0f" and i >= 2 else before
        return unicodedata.category(prev) in _EMOJI_CATEGORIES and unicodedata.category(after) in _EMOJI_CATEGORIES
    return before.isalpha() and after.isalpha() and not (before.isascii() or after.isascii())


def clean_text(text: str, *, multiline: bool = False) -> str:
    """`text` normalised as the module says; single-line text also turns newlines into spaces."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    out: list[str] = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif category in ("Cc", "Cs"):
            continue  # controls and lone surrogates carry nothing to read
        elif category == "Cf":
            if ch in (ZWJ, ZWNJ) and _keep_joiner(text, i):
                out.append(ch)
        else:
            out.append(ch)
    lines = [_SPACE_RUN.sub(" ", line).strip() for line in "".join(out).split("\n")]
    return _EDGES.sub("", _BLANK_LINES.sub("\n\n", "\n".join(lines)))


def has_visible_text(text: str) -> bool:
    """True when `text` holds at least one letter, digit, punctuation mark or symbol that renders."""
    return any(_visible(ch) for ch in text)


def _visible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (category[0] in _VISIBLE_CATEGORIES or category in _VISIBLE_OTHER) and ch not in BLANK_FILLERS
