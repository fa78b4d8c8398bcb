"""User data rights that write: building a data export, and erasing an account.

- `do_request_export` queues a "Download my data" job; `run_export` builds it (idempotent, progress in the
  row, the zip in the region's blob store) and records `data.exported` in the audit log.
- `do_delete_account` checks the password again, erases the user's personal rows, events and media from
  the region's store, records an `erasures` row (pseudonymous hash, event range, the model versions trained
  on those events) that the trainer consults, and `account.deleted` in the audit log, in one transaction.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Text, cast, delete, func, select, update

from sovereel.actions.sounds import retire_sounds
from sovereel.errors import Conflict, NotFound, Unauthorized
from sovereel.events.live import broadcast
from sovereel.events.outbox import emit
from sovereel.governance.audit import append_audit, pseudonym
from sovereel.governance.residency import user_columns
from sovereel.governance.rights import (
    EXPORT_SCHEMA_VERSION,
    HOW_FOR_YOU_WORKS,
    collect_user_data,
    describe_interests,
    engaged_triples,
    erasure_hash,
    models_trained_on,
)
from sovereel.ids import new_id
from sovereel.storage.models import (
    Base,
    Comment,
    DataExport,
    Erasure,
    Event,
    Follow,
    Hashtag,
    Like,
    OutboxMessage,
    User,
    Video,
    VideoHashtag,
)

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
ACTIVE = ("queued", "running")


def do_request_export(db: Any, user_id: str) -> DataExport:
    """Queue a data export for the user (an export already queued or running is returned instead)."""
    now = time.time()
    with db.transaction() as s:
        active = s.scalar(
            select(DataExport).where(DataExport.user_id == user_id, DataExport.state.in_(ACTIVE)).limit(1)
        )
        if active is not None:
            return active  # type: ignore[no-any-return]
        job = DataExport(id=new_id(now), user_id=user_id, state="queued", progress=0.0, step="queued", created_at=now)
        s.add(job)
        return job


def _progress(db: Any, export_id: str, progress: float, step: str) -> None:
    with db.transaction() as s:
        s.execute(update(DataExport).where(DataExport.id == export_id).values(progress=round(progress, 3), step=step))


def _write_json(zf: zipfile.ZipFile, name: str, value: Any) -> None:
    zf.writestr(name, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def run_export(rt: Any, export_id: str) -> DataExport:
    """Build one export (a zip of JSON files and the user's video files); safe to call again."""
    with rt.db.transaction() as s:
        job = s.get(DataExport, export_id)
        if job is None:
            raise NotFound("no such export")
        if job.state not in ACTIVE:
            return job  # type: ignore[no-any-return]
        job.state, job.step, job.progress = "running", "collecting your data", 0.05
        user_id = job.user_id
    try:
        return _build(rt, export_id, user_id)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        with rt.db.transaction() as s:
            s.execute(
                update(DataExport)
                .where(DataExport.id == export_id)
                .values(state="failed", error=str(exc)[:500], finished_at=time.time())
            )
        raise


def _build(rt: Any, export_id: str, user_id: str) -> DataExport:
    with rt.db.session() as s:
        data = collect_user_data(s, user_id)
        triples = engaged_triples(s, data)
        avatar_key = s.scalar(select(User.avatar_key).where(User.id == user_id))
        media = {
            v.id: {
                "original": v.original_key,
                "poster": v.poster_key,
                **{n: i.get("key") for n, i in (v.renditions or {}).items()},
            }
            for v in s.scalars(select(Video).where(Video.creator_id == user_id))
        }
    _progress(rt.db, export_id, 0.2, "describing what For You learned")
    prefs = data["feed_preferences"]
    interests = describe_interests(
        triples,
        personalised=bool(prefs["personalised"]),
        has_vector=rt.learner.scorer.user_vector(user_id) is not None,
        model_version=str(rt.learner.scorer.version),
        not_interested=[(m["kind"], m["value"]) for m in prefs["not_interested"]],
        keyword_filters=prefs["keyword_filters"],
    )
    files: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for section, value in data.items():
                _write_json(zf, f"{section}.json", value)
                files.append(f"{section}.json")
            _write_json(zf, "interest_profile.json", interests)
            _write_json(zf, "how_for_you_works.json", {"paragraphs": HOW_FOR_YOU_WORKS})
            files += ["interest_profile.json", "how_for_you_works.json"]
            _progress(rt.db, export_id, 0.35, "adding your videos")
            if avatar_key and rt.blobs.exists(avatar_key):
                zf.writestr("avatar.jpg", rt.blobs.get_bytes(avatar_key))
                files.append("avatar.jpg")
            for i, (vid, keys) in enumerate(sorted(media.items())):
                for _name, key in keys.items():
                    if key and rt.blobs.exists(key):
                        arc = f"videos/{vid}/{key.rsplit('/', 1)[-1]}"
                        with tempfile.NamedTemporaryFile(dir=tmp) as part:
                            rt.blobs.fetch_to(key, Path(part.name))
                            zf.write(part.name, arc, compress_type=zipfile.ZIP_STORED)  # video is compressed already
                        files.append(arc)
                _progress(rt.db, export_id, 0.35 + 0.55 * (i + 1) / len(media), f"added video {i + 1} of {len(media)}")
            _write_json(
                zf,
                "manifest.json",
                {
                    "schema_version": EXPORT_SCHEMA_VERSION,
                    "region": rt.region,
                    "username": data["profile"]["username"],
                    "generated_at": time.time(),
                    "files": sorted(files),
                    "documentation": "docs/data-export.md",
                },
            )
        key = f"exports/{user_id}/{export_id}.zip"
        size = rt.blobs.put_file(key, path)
    now = time.time()
    with rt.db.transaction() as s:
        job = s.get(DataExport, export_id)
        if job is None:  # the account was erased while its export was being built
            rt.blobs.delete(key)
            raise NotFound("the account no longer exists")
        job.state, job.progress, job.step = "ready", 1.0, "ready"
        job.blob_key, job.size_bytes, job.finished_at = key, size, now
        job.expires_at = now + rt.settings.export_link_s
        append_audit(
            s,
            region=rt.region,
            kind="data.exported",
            actor_id=None,
            subject=f"user:{pseudonym(rt.settings.secret_key, user_id)}",
            detail={"what": "data download", "files": len(files), "bytes": size},
        )
    return job  # type: ignore[no-any-return]


def _check_password(user: User, password: str) -> None:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise Unauthorized("wrong password; enter your password to delete your account", code="bad_password") from exc


def do_delete_account(rt: Any, user_id: str, password: str) -> Erasure:
    """Erase the account and everything personal about it from this region; returns the erasure record."""
    with rt.db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("no such user")
        if user.origin_region is not None:
            raise Conflict("a creator stub is not an account", code="not_an_account")
    _check_password(user, password)
    now = time.time()
    with rt.db.transaction() as s:
        lo, hi, count = s.execute(
            select(func.min(Event.client_ts), func.max(Event.client_ts), func.count()).where(Event.user_id == user_id)
        ).one()
        _release_counts(s, user_id)
        video_ids = list(s.scalars(select(Video.id).where(Video.creator_id == user_id)))
        avatar_key = s.scalar(select(User.avatar_key).where(User.id == user_id))
        # Outbox rows name the user in their payload (watch events, likes); they go with the account.
        s.execute(delete(OutboxMessage).where(cast(OutboxMessage.payload, Text).like(f"%{user_id}%")))
        _unlink_references(s, user_id, erasure_hash(rt.region, user_id))
        sound_ids = retire_sounds(s, creator_id=user_id)  # their original sounds' audio goes; the rows say so
        s.execute(delete(User).where(User.id == user_id))  # personal rows cascade with the account
        for vid in video_ids:  # the videos cascaded too: serving snapshots drop them on this, as on a deletion
            emit(s, "video.deleted", {"video_id": vid})
        erasure = Erasure(
            id=new_id(now),
            subject_hash=erasure_hash(rt.region, user_id),
            erased_at=now,
            events_from=lo,
            events_to=hi,
            event_count=int(count),
            models_affected=models_trained_on(rt.settings.region_dir, rt.region, lo, hi),
        )
        s.add(erasure)
        append_audit(
            s,
            region=rt.region,
            kind="account.deleted",
            actor_id=None,
            subject=f"user:{pseudonym(rt.settings.secret_key, user_id)}",
            detail={
                "how": "self-service, password re-entered",
                "events": int(count),
                "videos": len(video_ids),
                "models_affected": erasure.models_affected,
            },
        )
    for vid in video_ids:
        rt.blobs.delete_prefix(f"videos/{vid}")
    for sound_id in sound_ids:
        rt.blobs.delete_prefix(f"sounds/{sound_id}")
    if avatar_key:
        rt.blobs.delete(avatar_key)
    rt.blobs.delete_prefix(f"exports/{user_id}")
    _forget(rt, user_id)
    return erasure


def _forget(rt: Any, user_id: str) -> None:
    """Drop the user from the live model and feed state (saved versions are handled by the next training): in this
    process at once, and in every other one (the scaled layout's learner and API processes) through the bus."""
    rt.learner.forget(user_id)
    broadcast(rt.bus, "foryou.forget", {"user_id": user_id}, number=0)


def _unlink_references(s: Any, user_id: str, subject_hash: str) -> None:
    """Columns that name a user without a foreign key (moderation records, fingerprints of blocked videos)
    outlive the account by design: they keep a pseudonym instead of the id (NULL where allowed)."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    for tname, cname in user_columns():
        col = tables[tname].c[cname]
        if tname == "users" or any(fk.column.table.name == "users" for fk in col.foreign_keys):
            continue  # removed by the account's ON DELETE CASCADE / SET NULL
        value = None if col.nullable else f"erased-{subject_hash[:24]}"
        s.execute(update(tables[tname]).where(col == user_id).values({cname: value}))


def _release_counts(s: Any, user_id: str) -> None:
    """Take the user's likes, comments, follows and hashtags out of everyone else's counters."""
    for (vid,) in s.execute(select(Like.video_id).where(Like.user_id == user_id)):
        s.execute(update(Video).where(Video.id == vid).values(like_count=Video.like_count - 1))
    comments = list(s.scalars(select(Comment).where(Comment.user_id == user_id)))
    per_video: Counter[str] = Counter()
    for c in comments:
        per_video[c.video_id] += 1 + (c.reply_count if c.parent_id is None else 0)
        if c.parent_id is not None:
            s.execute(update(Comment).where(Comment.id == c.parent_id).values(reply_count=Comment.reply_count - 1))
    for vid, n in per_video.items():
        s.execute(update(Video).where(Video.id == vid).values(comment_count=Video.comment_count - n))
    for (followee,) in s.execute(select(Follow.followee_id).where(Follow.follower_id == user_id)):
        s.execute(update(User).where(User.id == followee).values(follower_count=User.follower_count - 1))
    for (follower,) in s.execute(select(Follow.follower_id).where(Follow.followee_id == user_id)):
        s.execute(update(User).where(User.id == follower).values(following_count=User.following_count - 1))
    tags = Counter(
        s.scalars(
            select(VideoHashtag.tag).where(
                VideoHashtag.video_id.in_(select(Video.id).where(Video.creator_id == user_id))
            )
        )
    )
    for tag, n in tags.items():
        s.execute(update(Hashtag).where(Hashtag.tag == tag).values(video_count=Hashtag.video_count - n))
