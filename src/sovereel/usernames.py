"""What a username may be, and its lookalike skeleton (pure).

A username is 2-30 ASCII letters, digits, '_' or '.', not starting with '.', matched whole (`fullmatch`: a
pattern ending in `$` would also accept a trailing newline, and "ana\\n" would be a second "ana").

Two usernames that a reader could take for one another share a *skeleton*; sign-up refuses a name whose
skeleton an existing account already has. The rules, kept short so people can predict them:

- case does not count: `Ana` is `ana`;
- the confusable ASCII characters count as one: `0` as `o`, `1`, `i` and `l` as `l`, `rn` as `m`, `vv` as `w`;
- `.` and `_` count as the same separator, a run of them as one (`ana.b` is `ana_b` is `ana__b`), and
  separators at either end do not count (`ana_` and `_ana` are `ana`: a trailing '.' also vanishes into the
  sentence around an @mention). A separator inside the name is still a visible break, so `anab` stays distinct.
"""

from __future__ import annotations

import re

USERNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]{1,29}\Z")  # \Z, never $

_CONFUSABLE_CHARS = str.maketrans({"0": "o", "1": "l", "i": "l", "_": "."})
_CONFUSABLE_RUNS = (("rn", "m"), ("vv", "w"))
_SEPARATOR_RUN = re.compile(r"\.+")


def is_username(value: str) -> bool:
    """True when `value` is, whole, an acceptable username shape (ASCII only; reserved names not checked)."""
    return USERNAME_RE.fullmatch(value) is not None


def username_skeleton(username: str) -> str:
    """The lookalike key of a username: equal skeletons mean the names can be taken for one another."""
    key = username.lower().translate(_CONFUSABLE_CHARS)
    key = _SEPARATOR_RUN.sub(".", key).strip(".")
    for run, single in _CONFUSABLE_RUNS:
        key = key.replace(run, single)
    return key
