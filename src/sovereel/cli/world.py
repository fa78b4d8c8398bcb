"""`sovereel world`: bulk-create a large synthetic region (shared media, users, follows, events) and train on it.

For sizing a deployment and reproducing the For You benchmarks (`bench.feed_load --world-videos …`); see
`sovereel.demo.bulk_world` for what is written and why it bypasses the per-row actions.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from sovereel.settings import Settings


def _count(text: str) -> int:
    """A whole number of at least 1 (argparse answers anything else with a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1 to 10,000,000)")
    return value


def cmd_world(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Settings]) -> int:
    """Build the world, then (unless --no-train) train and publish a model version on its event log."""
    from sovereel.demo.bulk_world import WorldSpec, build_bulk_world, world_exists
    from sovereel.storage.blobs.interface import open_blob_store
    from sovereel.storage.db import open_region_db

    settings = settings_of(args)
    if settings.environment == "production":
        # Every world account has the published password `world-password`: never in a region people use.
        print("refused: `sovereel world` makes accounts with a published password; not in production", file=sys.stderr)
        return 1
    db = open_region_db(settings)
    try:
        if world_exists(db):
            print(f"region {settings.region} already holds a world; nothing to do")
            return 0
        spec = WorldSpec(videos=args.videos, users=args.users, events=args.events, seed=args.seed)
        summary = build_bulk_world(db, open_blob_store(settings.effective_media_url), spec, progress=True)
        if args.train and summary.events:
            from sovereel.foryou.training import train_version
            from sovereel.governance.signing import region_keys

            started = time.perf_counter()
            version, manifest = train_version(db, settings.region_dir, epochs=args.epochs, keys=region_keys(settings))
            summary.seconds["train"] = round(time.perf_counter() - started, 2)
            print(f"model {version} trained on {manifest.get('training_events')} events and made current")
        from sovereel.foryou.text_vectors import embed_catalogue

        started = time.perf_counter()  # the first server start then finds every caption's vector on disk
        embed_catalogue(db, settings.region_dir, progress=True)
        summary.seconds["captions"] = round(time.perf_counter() - started, 2)
    finally:
        db.dispose()
    print(summary)
    return 0


def add_world_command(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register `sovereel world` on the top-level subparsers."""
    world = sub.add_parser(
        "world",
        help="bulk-create a large synthetic region (shared media, users, follows, events) and train a model on it",
        description=__doc__,
    )
    world.add_argument("--videos", type=_count, default=10_000, help="ready videos, all sharing one media set")
    world.add_argument("--users", type=_count, default=1_000, help="accounts world0…worldN-1 (password world-password)")
    world.add_argument("--events", type=_count, default=100_000, help="watch events in the history (about)")
    world.add_argument("--seed", type=int, default=1)
    world.add_argument("--train", action=argparse.BooleanOptionalAction, default=True,
                       help="train and publish a For You version on the history (default: yes)")  # fmt: skip
    world.add_argument("--epochs", type=_count, default=None, help="training epochs (the model's default if unset)")
    world.set_defaults(func=lambda args: cmd_world(args, settings_of))
