"""The content exchange's writes: the `exchange_log` of what was offered, and storing or withdrawing a received video.

Each write and its `exchange_log` row commit in one transaction; the rules live in `governance.exchange`, the
reads in `queries.exchange`, and the HTTP pulling in `runtime.exchange_puller`.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, select, update

from sovereel.actions.videos import link_hashtags
from sovereel.events.outbox import emit
from sovereel.governance.exchange import logged_peer, stub_id
from sovereel.queries.exchange import offered_page
from sovereel.storage.blobs.interface import BlobStore
from sovereel.storage.db import RegionDB
from sovereel.storage.models import ExchangeTransfer, Hashtag, User, Video, VideoHashtag
from sovereel.textnorm import clean_text

MEDIA_EXT = {"poster": "poster.jpg"}


def do_offer_videos(db: RegionDB, *, since: float, limit: int, peer: str) -> dict[str, Any]:
    """This region's own public, ready videos after `since` for `peer`, each logged as an `out` transfer."""
    peer = logged_peer(peer)
    with db.transaction() as s:
        videos = offered_page(s, since=since, limit=limit)
        now = time.time()
        s.add_all(
            ExchangeTransfer(direction="out", peer_region=peer, video_id=v["id"], bytes=0, at=now) for v in videos
        )
    return {"region": db.region, "videos": videos}


def _stub(s: Any, peer: str, handle: str, display_name: str) -> User:
    """The creator stub for another region's creator: public handle and display name, nothing else."""
    uid = stub_id(peer, handle)
    user: User | None = s.get(User, uid)
    if user is not None:
        return user
    username = f"{handle}@{peer}"[:32]
    key = username.lower()
    if s.scalar(select(User.id).where(User.username_key == key)):
        key = f"~{uid}"  # a truncated handle that collides keeps a unique key
    user = User(
        id=uid,
        region=peer,
        origin_region=peer,
        username=username,
        username_key=key,
        display_name=(clean_text(display_name) or handle)[:64],  # another region's text: cleaned the same
        bio="",
        avatar_key=None,
        # An empty hash matches no password: a stub can never sign in.
        password_hash="",  # nosec B106
        role="stub",
        created_at=time.time(),
    )
    s.add(user)
    s.flush()
    return user


def do_store_exchanged_video(
    db: RegionDB, blobs: BlobStore, *, peer: str, item: dict[str, Any], media: dict[str, bytes], base_url: str = ""
) -> int | None:
    """Store one video from `peer` with its media; returns the bytes received, or None if it was already here."""
    video_id = str(item["id"])
    if not (video_id.isascii() and video_id.isalnum() and len(video_id) <= 32):  # ASCII: no "٣" digits
        raise ValueError(f"the peer sent a malformed video id {video_id[:40]!r}")
    keys: dict[str, str] = {}
    total = 0
    for name, data in media.items():
        key = f"videos/{video_id}/{MEDIA_EXT.get(name, name + '.mp4')}"
        blobs.put_bytes(key, data)
        keys[name] = key
        total += len(data)
    try:
        with db.transaction() as s:
            if s.get(Video, video_id) is not None:
                return None
            creator = item.get("creator") or {}
            stub = _stub(s, peer, str(creator.get("handle") or "unknown")[:30], str(creator.get("display_name") or ""))
            width, height = item.get("width"), item.get("height")
            renditions = {
                n: {"key": k, "width": width, "height": height, "bytes": len(media[n])}
                for n, k in keys.items()
                if n != "poster"
            }
            video = Video(
                id=video_id,
                region=peer,
                origin_region=peer,
                origin_url=f"{base_url.rstrip('/')}/v/{video_id}"[:300] if base_url else None,
                creator_id=stub.id,
                caption=clean_text(str(item.get("caption") or ""), multiline=True)[:2200],
                visibility="public",
                status="ready",
                duration_s=item.get("duration_s"),
                width=width,
                height=height,
                original_key=None,
                original_name="",
                poster_key=keys.get("poster"),
                renditions=renditions,
                created_at=float(item.get("created_at") or time.time()),
                ready_at=float(item.get("ready_at") or time.time()),
            )
            s.add(video)
            s.flush()
            link_hashtags(s, video_id, {str(t).lower().lstrip("#")[:100] for t in item.get("hashtags") or [] if t})
            s.add(ExchangeTransfer(direction="in", peer_region=peer, video_id=video_id, bytes=total, at=time.time()))
            emit(s, "video.ready", {"video_id": video_id, "creator_id": stub.id, "sound_id": None})
    except BaseException:
        blobs.delete_prefix(f"videos/{video_id}")
        raise
    return total


def do_withdraw_exchanged_video(db: RegionDB, blobs: BlobStore, *, peer: str, video_id: str) -> bool:
    """Remove a copy of `peer`'s video that its home region no longer offers; False if it was not here."""
    with db.transaction() as s:
        video = s.get(Video, video_id)
        if video is None or video.origin_region != peer:
            return False
        creator_id = video.creator_id
        tags = list(s.scalars(select(VideoHashtag.tag).where(VideoHashtag.video_id == video_id)))
        if tags:
            s.execute(update(Hashtag).where(Hashtag.tag.in_(tags)).values(video_count=Hashtag.video_count - 1))
        s.execute(delete(VideoHashtag).where(VideoHashtag.video_id == video_id))
        s.delete(video)  # this region's likes, comments and watches of it go with it
        s.flush()
        if not s.scalar(select(func.count()).select_from(Video).where(Video.creator_id == creator_id)):
            s.execute(delete(User).where(User.id == creator_id, User.origin_region == peer))  # no stub without content
        s.add(ExchangeTransfer(direction="withdrawn", peer_region=peer, video_id=video_id, bytes=0, at=time.time()))
        emit(s, "video.deleted", {"video_id": video_id})
    blobs.delete_prefix(f"videos/{video_id}")
    return True
