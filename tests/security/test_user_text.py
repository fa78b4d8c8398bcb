"""Issue 14, item 10 (text part): everything people write is stored as it will be read.

Rule: every action that stores user-written text (comments, captions, display names, bios, report details,
appeals, moderation reasons, exchanged captions and names) passes it through `sovereel.textnorm.clean_text`:
NFC, no control or format characters (zero-width, bidi overrides and isolates, tag characters; a joiner only
inside an emoji sequence or between non-Latin letters), whitespace collapsed. Required text with nothing
visible left is refused with 422.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sovereel.runtime.region import RegionRuntime
from sovereel.storage.models import Comment
from sovereel.textnorm import clean_text, has_visible_text
from tests.support.api import process_all, signup, upload
from tests.support.media_clips import make_clip

# Text a reader sees as nothing: zero-width characters, bidi controls, soft hyphen, odd spaces, fillers,
# controls, tag characters, a lone combining mark.
INVISIBLE = [
    "\u200b",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u00ad\u180e\u2061\u2062\u2063\u2064",
    "\u202a\u202b\u202c\u202d\u202e",
    "\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    " \u00a0\u2007\u202f\u3000\t ",
    "\u3164\u115f\u1160\uffa0\u2800",
    "\x00\x01\x1b\x7f\x85",
    "\u200b\n\n\u200d\r\n\u2028\u2029",
    "\U000e0041\U000e0042\U000e007f",
    "\u0301",
]


@pytest.mark.parametrize(
    ("raw", "single", "multi"),
    [
        ("hello", "hello", "hello"),
        ("  a \u00a0  b  ", "a b", "a b"),
        ("a\r\nb\rc\n\n\n\nd", "a b c d", "a\nb\nc\n\nd"),
        ("ana\u202egnp.exe", "anagnp.exe", "anagnp.exe"),
        ("x\u200by\u2060z\ufeff", "xyz", "xyz"),
        ("cafe\u0301", "caf\u00e9", "caf\u00e9"),
        ("\U0001f469\u200d\U0001f52c lab", "\U0001f469\u200d\U0001f52c lab", "\U0001f469\u200d\U0001f52c lab"),
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", None),
        ("an\u200da", "ana", "ana"),
        ("\u3164ana\u3164", "ana", "ana"),
        ("tab\tbed", "tab bed", "tab bed"),
    ],
)
def test_clean_text(raw: str, single: str, multi: str | None) -> None:
    assert clean_text(raw) == single
    assert clean_text(raw, multiline=True) == (single if multi is None else multi)
    assert clean_text(clean_text(raw)) == clean_text(raw)  # idempotent: cleaning twice changes nothing


@pytest.mark.parametrize("raw", INVISIBLE)
def test_invisible_text_is_not_visible(raw: str) -> None:
    assert not has_visible_text(clean_text(raw, multiline=True))


def test_comments_of_invisible_characters_are_refused(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, ffmpeg: None, tmp_path: Path
) -> None:
    client = sqlite_client
    ana, ben = signup(client, "ana"), signup(client, "ben")
    video_id = upload(client, ana, make_clip(tmp_path / "c.mp4", duration_s=1.0), "hi").json()["id"]
    assert process_all(sqlite_rt) == 1
    for raw in INVISIBLE:
        r = client.post(f"/api/videos/{video_id}/comments", headers=ben, json={"body": raw})
        assert r.status_code == 422, (raw, r.text)
        assert r.json()["error"]["code"] in ("empty_comment", "validation_error", "invalid"), r.text
    with sqlite_rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 0

    # Ordinary text, emoji included, still goes through; what is stored is what is read.
    kept = {
        "The ending \U0001f602": "The ending \U0001f602",
        "\U0001f469\u200d\U0001f373 recipe please": "\U0001f469\u200d\U0001f373 recipe please",
        "\u202eevil\u202c text\u200b": "evil text",
        "two\n\n\n\nparagraphs ": "two\n\nparagraphs",
    }
    for raw, stored in kept.items():
        r = client.post(f"/api/videos/{video_id}/comments", headers=ben, json={"body": raw})
        assert r.status_code == 201, r.text
        assert r.json()["body"] == stored
    bodies = {c["body"] for c in client.get(f"/api/videos/{video_id}/comments").json()["comments"]}
    assert bodies == set(kept.values())


def test_captions_are_cleaned_and_hashtags_normalised(
    sqlite_client: TestClient, sqlite_rt: RegionRuntime, ffmpeg: None, tmp_path: Path
) -> None:
    client = sqlite_client
    ana = signup(client, "ana")
    caption = "\u202eCafe\u0301 time\u200b #cafe\u0301 \x00"
    video_id = upload(client, ana, make_clip(tmp_path / "c.mp4", duration_s=1.0), caption).json()["id"]
    assert process_all(sqlite_rt) == 1
    assert client.get(f"/api/videos/{video_id}").json()["caption"] == "Caf\u00e9 time #caf\u00e9"
    for asked in ("caf%C3%A9", "cafe%CC%81", "%23CAF%C3%89"):  # composed, decomposed, upper case with '#'
        r = client.get(f"/api/hashtags/{asked}")
        assert r.status_code == 200, (asked, r.text)
        assert [v["id"] for v in r.json()["videos"]] == [video_id]


def test_display_names_and_bios_are_cleaned(sqlite_client: TestClient) -> None:
    client = sqlite_client
    ana = signup(client, "ana")
    r = client.patch("/api/me", headers=ana, json={"display_name": "Ana\u202e gnp.exe\u200b", "bio": "hi\x00\u2066!"})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Ana gnp.exe"
    assert r.json()["bio"] == "hi!"
    for raw in ("\u200b\u200d", "\u202e", "\u3164", " \u00a0 "):
        r = client.patch("/api/me", headers=ana, json={"display_name": raw})
        assert r.status_code == 422, (raw, r.text)
        assert r.json()["error"]["code"] == "bad_display_name"
    assert client.get("/api/users/ana").json()["user"]["display_name"] == "Ana gnp.exe"

    # A sign-up display name of nothing visible falls back to the username, as an empty one always did.
    r = client.post(
        "/api/auth/signup",
        json={"username": "ben", "password": "correct horse battery", "birth_date": "1990-01-01",
              "display_name": "\u200b\u202e"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["user"]["display_name"] == "ben"


def test_report_details_are_cleaned(sqlite_client: TestClient) -> None:
    client = sqlite_client
    ana, _ben = signup(client, "ana"), signup(client, "ben")
    report = {"target_kind": "account", "target_id": "ben", "reason": "other", "detail": "\u200b\u202e\u2060"}
    r = client.post("/api/reports", headers=ana, json=report)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "detail_required"
    r = client.post("/api/reports", headers=ana, json={**report, "detail": "spam\u202e bot\u200b"})
    assert r.status_code == 201, r.text
