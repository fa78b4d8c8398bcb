"""Trust-and-safety rules as pure functions: ages and age groups, comment policies, comment keyword matching.

No I/O here: the actions and queries pass in today's date and the rows they read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sovereel.errors import Invalid
from sovereel.feed.filters import words

MIN_AGE = 13
"""Younger people may not have an account."""
TEEN_PROTECTED_UNTIL = 16
"""13 to 15: private by default, and not discoverable by people who do not follow them."""
ADULT_AGE = 18
"""Age-restricted videos are shown only from this age (and never to signed-out viewers)."""
MAX_AGE = 130

COMMENT_POLICIES = ("everyone", "followers", "no_one")
MAX_COMMENT_FILTERS = 100
MAX_COMMENT_FILTER_CHARS = 50

# Safety-log kinds the affected user (the subject) is shown; a block is not among them: the blocked person
# learns of it only from what they can no longer do.
SHOWN_TO_SUBJECT = frozenset({"comment_removed", "follow_approved", "follow_declined"})


def years_before(today: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def age_on(birth_date: date, today: date) -> int:
    """Completed years of age on `today`."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (1 if before_birthday else 0)


def born_by_for_age(today: date, years: int) -> date:
    """Someone is at least `years` old today exactly when born on or before this date."""
    return years_before(today, years)


def is_adult(birth_date: date | None, today: date) -> bool:
    """18 or over; an unknown birth date counts as under 18 (as a signed-out viewer does)."""
    return birth_date is not None and birth_date <= born_by_for_age(today, ADULT_AGE)


def is_protected_teen(birth_date: date | None, today: date) -> bool:
    """13 to 15 years old: the account is kept out of strangers' sight."""
    return birth_date is not None and birth_date > born_by_for_age(today, TEEN_PROTECTED_UNTIL)


def check_birth_date(birth_date: date, today: date) -> date:
    """The birth date if sign-up may go ahead, else Invalid with a message the person can act on."""
    if birth_date > today:
        raise Invalid("the birth date is in the future", code="bad_birth_date")
    if age_on(birth_date, today) > MAX_AGE:
        raise Invalid("that birth date is not plausible; check the year", code="bad_birth_date")
    if age_on(birth_date, today) < MIN_AGE:
        raise Invalid(f"you must be at least {MIN_AGE} years old to create an account on sovereel", code="too_young")
    return birth_date


def check_comment_policy(policy: str) -> str:
    """A comment policy (everyone | followers | no_one), else Invalid."""
    if policy not in COMMENT_POLICIES:
        raise Invalid("who can comment must be one of: everyone, followers, no_one", code="bad_comment_policy")
    return policy


def comment_refusal(policy: str, *, is_creator: bool, follows_creator: bool) -> str | None:
    """Why a viewer may not comment under `policy`, or None when they may (creators always may)."""
    if is_creator or policy == "everyone":
        return None
    if policy == "followers" and follows_creator:
        return None
    if policy == "followers":
        return "only people who follow this creator can comment on this video"
    return "comments are turned off for this video"


def clean_comment_filters(keywords: Iterable[str]) -> list[str]:
    """Normalise a creator's comment keywords: trimmed, case-folded, de-duplicated, each with a word in it."""
    out: list[str] = []
    for raw in keywords:
        keyword = " ".join(raw.split()).casefold()
        if not keyword:
            continue
        if len(keyword) > MAX_COMMENT_FILTER_CHARS:
            raise Invalid(f"a comment filter is at most {MAX_COMMENT_FILTER_CHARS} characters", code="bad_filter")
        if not words(keyword):
            raise Invalid(f"the comment filter {raw!r} has no letters or digits", code="bad_filter")
        if keyword not in out:
            out.append(keyword)
    if len(out) > MAX_COMMENT_FILTERS:
        raise Invalid(f"at most {MAX_COMMENT_FILTERS} comment filters", code="too_many_filters")
    return out


def matching_filter(body: str, keywords: Iterable[str]) -> str | None:
    """The first keyword whose words occur, in order and side by side, among the comment's words."""
    body_words = words(body)
    for keyword in keywords:
        kw = words(keyword)
        if not kw:
            continue
        n = len(kw)
        if any(body_words[i : i + n] == kw for i in range(len(body_words) - n + 1)):
            return keyword
    return None
