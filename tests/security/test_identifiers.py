"""Issue 14, class 2: every pattern-validated identifier is matched whole, and no two usernames look alike.

Rule: a validation pattern in src/sovereel never ends in `$` (it also matches before a final newline); it is
anchored `^...\\Z` or used with `fullmatch`, and identifier characters are ASCII. A username's skeleton
(`sovereel.usernames.username_skeleton`) is unique among accounts made since migration 0010.
"""

from __future__ import annotations

import ast
import importlib
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from sovereel.actions.accounts import do_signup
from sovereel.demo.world import FIRST_NAMES
from sovereel.errors import Conflict, Invalid
from sovereel.foryou.service import MAX_SCROLL_PAGES
from sovereel.governance.audit import KIND_RE
from sovereel.governance.regions import demo_regions, token_region
from sovereel.ids import id_tag, new_user_id
from sovereel.runtime.region import RegionRuntime
from sovereel.settings import load_settings
from sovereel.storage.blobs.interface import check_key
from sovereel.storage.models import FeedImpression, User
from sovereel.usernames import username_skeleton
from tests.support.api import ADULT_BIRTH_DATE, signup
from tests.support.concurrency import run_in_threads
from tests.support.foryou import TOPICS, seed_ready_videos

SRC = Path(__file__).resolve().parents[2] / "src" / "sovereel"
PASSWORD = "correct horse battery"
# What an attacker appends or swaps in to make a second "ana": line ends, NUL, NBSP, zero-width space,
# a Cyrillic 'а', full-width and Arabic-Indic digits, a trailing tab.
HOSTILE_SUFFIXES = ["\n", "\r", "\r\n", "\x00", "\u00a0", "\u200b", "\t", "\u0663", "\uff11", " "]
REGEX_FUNCTIONS = {"compile", "match", "search", "fullmatch", "sub", "subn", "findall", "finditer", "split"}


# ---- the source rule ---------------------------------------------------------------------------------------


def dollar_anchors(pattern: str) -> list[int]:
    """Offsets of unescaped `$` outside a character class: an end anchor that also matches before a newline."""
    found, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or pattern[i - 1] == "["
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # a ']' first in a class is literal
                i += 1
        elif ch == "$":
            found.append(i)
        i += 1
    return found


def _pattern_parts(node: ast.expr) -> list[str]:
    """The literal text of a pattern argument (f-strings and concatenations keep their literal parts)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def regex_literals(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, how it is used, literal text) of each pattern given to `re.*` or a pydantic `pattern=`."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func_node = node.func
        if (
            isinstance(func_node, ast.Attribute)
            and isinstance(func_node.value, ast.Name)
            and func_node.value.id == "re"
            and func_node.attr in REGEX_FUNCTIONS
            and node.args
        ):
            out.append((node.lineno, f"re.{func_node.attr}", "".join(_pattern_parts(node.args[0]))))
        for kw in node.keywords:
            if kw.arg in ("pattern", "regex"):
                out.append((node.lineno, f"{kw.arg}=", "".join(_pattern_parts(kw.value))))
    return out


def anchor_violations(source: str) -> list[str]:
    """Why each regex literal in `source` breaks the rule: no `$`; a pattern anchored at ^ ends with \\Z."""
    problems = []
    for line, use, text in regex_literals(ast.parse(source)):
        if dollar_anchors(text):
            problems.append(f"line {line}: {use} {text!r} ends with $ (matches before a final newline): use \\Z")
        elif text.startswith(("^", "\\A")) and not text.endswith(("\\Z", "\\z")):
            problems.append(f"line {line}: {use} {text!r} is anchored at the start only: end it with \\Z")
    return problems


def test_no_validation_pattern_in_the_source_ends_in_dollar() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        problems += [f"{path.relative_to(SRC)} {p}" for p in anchor_violations(path.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_the_source_rule_catches_what_it_is_for() -> None:
    """The scanner itself: it must flag the bug this class is about, and leave correct patterns alone."""
    bad = [
        'X = re.compile(r"^[a-z]+$")',
        'X = re.compile(f"^[{A}]{{26}}$")',
        'ok = re.match("^a" + B + "b$", v)',
        'class M(BaseModel):\n    a: str = Field(pattern=r"^[a-z]+$")',
        'X = re.compile(r"^[a-z]+")',
    ]
    good = [
        'X = re.compile(r"^[a-z]+\\Z")',
        'X = re.compile(r"[$a-z]+")',
        'X = re.compile(r"[]$]+")',
        'X = re.compile(r"\\$[0-9]+")',
        'X = re.compile(r"\\w+")',
        'a: str = Field(pattern=r"^[a-z]+\\z")',
    ]
    assert all(anchor_violations(src) for src in bad), [src for src in bad if not anchor_violations(src)]
    assert not any(anchor_violations(src) for src in good), [anchor_violations(src) for src in good]


@pytest.mark.parametrize(
    "module",
    [
        "sovereel.usernames",
        "sovereel.ids",
        "sovereel.settings",
        "sovereel.storage.blobs.interface",
        "sovereel.governance.audit",
        "sovereel.actions.models",
        "sovereel.api.ratelimit",
        "sovereel.api.media_range",
        "sovereel.queries.videos",
        "sovereel.captions",
    ],
)
def test_anchored_patterns_refuse_a_trailing_newline(module: str) -> None:
    """Every compiled ^-anchored pattern of a validating module, run as its callers run it, refuses 'x\\n'."""
    mod = importlib.import_module(module)
    patterns = [v for v in vars(mod).values() if hasattr(v, "pattern") and hasattr(v, "fullmatch")]
    for pattern in patterns:
        if isinstance(pattern.pattern, str) and pattern.pattern.startswith("^"):
            assert pattern.pattern.endswith("\\Z"), pattern.pattern


def test_helpers_refuse_identifiers_with_a_line_end() -> None:
    user_id = new_user_id("eu")
    assert id_tag(user_id) is not None
    assert id_tag(user_id + "\n") is None
    assert token_region("eu.abc") == "eu"
    assert token_region("eu\n.abc") is None
    assert KIND_RE.match("access.x") and not KIND_RE.match("access.x\n")
    for key in ("avatars/a.jpg\n", "avatars/a.jpg\x00"):
        with pytest.raises(ValueError):
            check_key(key)


@pytest.mark.parametrize("name", ["eu\n", "eu\r", "eu\x00", "eu\u00a0", "e\u0443", "eu\u0663"])
def test_region_names_are_matched_whole(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_settings(data_dir=tmp_path, region=name)
    with pytest.raises(Invalid):
        demo_regions(load_settings(data_dir=tmp_path), [name], "127.0.0.1", 8000)


# ---- usernames over HTTP -----------------------------------------------------------------------------------


def _accounts_like(rt: RegionRuntime, name: str) -> int:
    with rt.db.session() as s:
        count = s.scalar(select(func.count()).select_from(User).where(User.skeleton == username_skeleton(name)))
        return int(count or 0)


@pytest.mark.parametrize("suffix", HOSTILE_SUFFIXES)
def test_a_username_with_a_hostile_suffix_is_no_second_account(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, suffix: str
) -> None:
    signup(sqlite_client, "ana")
    body = {"username": "ana" + suffix, "password": PASSWORD, "birth_date": ADULT_BIRTH_DATE}
    r = sqlite_client.post("/api/auth/signup", json=body)
    assert r.status_code in (409, 422), r.text
    assert r.json()["error"]["code"] in ("bad_username", "username_taken", "username_too_similar")
    with sqlite_rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
    # Signing in with the variant is never the real account's session either.
    r = sqlite_client.post("/api/auth/login", json={"username": "ana" + suffix, "password": PASSWORD})
    assert r.status_code in (401, 422), r.text
    # Nor does a profile, follow or avatar address with the variant reach anyone.
    quoted = "ana" + "".join(f"%{b:02X}" for b in suffix.encode())
    assert sqlite_client.get(f"/api/users/{quoted}").status_code == 404
    assert sqlite_client.get(f"/api/users/{quoted}/avatar").status_code == 404


@pytest.mark.parametrize("name", ["an\u0430", "\uff41na", "ana\u0301", "an\u00e1", "a\u200bna"])
def test_usernames_are_ascii(sqlite_client: TestClient, name: str) -> None:
    r = sqlite_client.post(
        "/api/auth/signup", json={"username": name, "password": PASSWORD, "birth_date": ADULT_BIRTH_DATE}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_username"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ana", "ANA"),
        ("ana", "ana_"),
        ("ana", "_ana"),
        ("ana", "ana."),
        ("ana.b", "ana_b"),
        ("ana.b", "ana__b"),
        ("bob", "b0b"),
        ("will", "wi11"),
        ("will", "vvill"),
        ("mia", "rnia"),
        ("lia", "Ila"),
        ("liam", "1iam"),
    ],
)
def test_lookalike_usernames_are_refused(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, first: str, second: str
) -> None:
    signup(sqlite_client, first)
    r = sqlite_client.post(
        "/api/auth/signup", json={"username": second, "password": PASSWORD, "birth_date": ADULT_BIRTH_DATE}
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] in ("username_taken", "username_too_similar")
    assert _accounts_like(sqlite_rt, first) == 1


def test_distinct_names_still_sign_up(sqlite_client: TestClient) -> None:
    for name in ("ana", "anab", "ana.b", "ann", "anna", "bob", "bob_e2e", "cat", "cat_sb"):
        signup(sqlite_client, name)


def test_reserved_names_and_their_lookalikes_are_refused(sqlite_client: TestClient) -> None:
    for name in ("admin", "adm1n", "ADMlN", "d0cs", "_api_"):
        r = sqlite_client.post(
            "/api/auth/signup", json={"username": name, "password": PASSWORD, "birth_date": ADULT_BIRTH_DATE}
        )
        assert r.status_code == 422, (name, r.text)


def test_every_demo_username_signs_up(sqlite_rt: RegionRuntime) -> None:
    born = date(1990, 1, 1)
    for name in FIRST_NAMES:
        do_signup(sqlite_rt.db, name, PASSWORD, birth_date=born)
    with pytest.raises(Conflict):
        do_signup(sqlite_rt.db, "Ana_", PASSWORD, birth_date=born)


def test_the_migration_backfill_computes_the_same_skeleton() -> None:
    """0010 keeps a frozen copy of the rule; the two must agree, or old and new accounts would differ."""
    migration = importlib.import_module("sovereel.migrations.versions.0010_username_skeleton")
    names = [*FIRST_NAMES, "Ana_", "b0b", "rnia", "vvill", "I_l", "a.._b", "ana@eu", "__x__"]
    assert [migration._skeleton(n) for n in names] == [username_skeleton(n) for n in names]


# ---- ids, hashtags and cursors over HTTP ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["%0A", "%0D", "%00", "%C2%A0", "%E2%80%8B"])
def test_ids_and_hashtags_with_a_suffix_are_not_found(sqlite_client: TestClient, suffix: str) -> None:
    headers = signup(sqlite_client, "ana")
    me = sqlite_client.get("/api/me", headers=headers).json()
    assert sqlite_client.get(f"/api/videos/{me['id']}{suffix}").status_code == 404
    assert sqlite_client.get(f"/api/hashtags/cats{suffix}").status_code == 404
    assert sqlite_client.get(f"/api/hashtags/%23{suffix}").status_code == 404


@pytest.mark.parametrize(
    "cursor",
    ["1.0:abc%0A", "%D9%A3:abc", "%EF%BC%91:abc", "nan:abc", "inf:abc", "%201.0:abc", "1_0:abc", "1.0:ab%C2%A0"],
)
def test_profile_and_hashtag_cursors_are_matched_whole(sqlite_client: TestClient, cursor: str) -> None:
    signup(sqlite_client, "ana")
    r = sqlite_client.get(f"/api/users/ana?cursor={cursor}")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_cursor"
    assert sqlite_client.get("/api/users/ana?cursor=1.5:abc").status_code == 200


@pytest.mark.parametrize("cursor", ["abc:%D9%A3", "abc:1%0A", "%D9%A3bc:1", "abc:%EF%BC%91"])
def test_feed_cursors_are_matched_whole(sqlite_client: TestClient, cursor: str) -> None:
    headers = signup(sqlite_client, "ana")
    r = sqlite_client.get(f"/api/feed/foryou?cursor={cursor}", headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_cursor"
    r = sqlite_client.get("/api/feed/foryou?cursor=AAAA%0A")
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("page", [str(MAX_SCROLL_PAGES + 1), "2147483648", "9" * 20, "9" * 5000])
def test_a_feed_cursor_past_the_longest_scroll_is_refused(sqlite_client: TestClient, page: str) -> None:
    headers = signup(sqlite_client, "ana")
    r = sqlite_client.get(f"/api/feed/foryou?cursor=abc:{page}", headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_cursor"


def test_the_longest_scroll_is_served_and_its_impressions_kept_beside_other_viewers(
    client: TestClient, rt: RegionRuntime
) -> None:
    creator = signup(client, "maker")
    maker_id = client.get("/api/me", headers=creator).json()["id"]
    seed_ready_videos(rt, {f"{t}{k}": maker_id for t in TOPICS for k in range(2)}, per_topic=2)
    far, near = signup(client, "far"), signup(client, "near")
    r = client.get(f"/api/feed/foryou?limit=50&cursor=abc:{MAX_SCROLL_PAGES}", headers=far)
    assert r.status_code == 200, r.text
    assert client.get("/api/feed/foryou?limit=3", headers=near).status_code == 200
    rt.impressions.flush()  # both pages' impressions go in one batch: the far one must not fail the near one's
    with rt.db.session() as s:
        positions = {
            u.username: sorted(
                i.position for i in s.scalars(select(FeedImpression).where(FeedImpression.user_id == u.id))
            )
            for u in s.scalars(select(User).where(User.username.in_(["far", "near"])))
        }
    assert positions["far"][0] == MAX_SCROLL_PAGES * 50 and positions["near"] == [0, 1, 2]


def test_racing_lookalike_signups_leave_one_account(rt: RegionRuntime) -> None:
    """Lookalikes signing up at once (on SQLite and PostgreSQL): one account, the rest refused."""
    names = ["ana", "ANA", "ana_", "_ana", "ana.", "Ana__"]

    def sign_up(name: str) -> None:
        do_signup(rt.db, name, PASSWORD, birth_date=date(1990, 1, 1))

    errors = run_in_threads(sign_up, [(n,) for n in names])
    assert _accounts_like(rt, "ana") == 1
    # The losers are refused (409), or on SQLite may lose the write lock race outright; never a second account.
    assert all(isinstance(e, (Conflict, OperationalError, IntegrityError)) for e in errors), errors
