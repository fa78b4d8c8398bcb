"""The `sovereel` command: serve, hub, worker, relay, learner, trainer, up, migrate, train, demo."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from sovereel.settings import Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "region", None):
        overrides["region"] = args.region
    settings = load_settings(**overrides)
    if settings.regions and settings.region in settings.regions and not getattr(args, "regions", None):
        from sovereel.governance.regions import settings_for

        return settings_for(settings, settings.region)  # this region's stores only
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.no_workers:
        settings = settings.model_copy(update={"run_workers": False})
    if args.regions:  # several regions, one runtime and one port each (sovereel.cli.regions)
        from sovereel.cli.regions import serve_regions

        names = [n.strip() for n in args.regions.split(",") if n.strip()]
        return serve_regions(settings, names, args.host, args.port, run_workers=settings.run_workers)
    processes = args.processes if args.processes is not None else (os.cpu_count() or 1)
    if processes > 1 and settings.bus_url == "memory://" and settings.hot_state_url == "memory://":
        from sovereel.runtime.embedded import serve_processes  # a hub and N API processes (runtime.embedded)

        return serve_processes(settings, host=args.host, port=args.port, processes=processes)
    if processes > 1:
        logging.getLogger("sovereel").info(
            "serving from one process: SOVEREEL_BUS_URL or SOVEREEL_HOT_STATE_URL names a shared server, "
            "whose several-process layout is `sovereel up`"
        )
    import uvicorn

    from sovereel.api.app import create_app  # here: the supervisor of several processes never loads the app
    from sovereel.runtime.supervisor import KEEP_ALIVE_S

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", timeout_keep_alive=KEEP_ALIVE_S)
    return 0


def cmd_hub(args: argparse.Namespace) -> int:
    from sovereel.runtime.embedded import run_hub

    run_hub(_settings(args), _until_signalled())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from sovereel.runtime.media_worker import MediaWorker
    from sovereel.runtime.region import open_runtime

    rt = open_runtime(_settings(args))
    worker = MediaWorker(rt, threads=args.threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if rt.settings.run_relay:
        rt.relay.start()
    worker.start()
    logging.getLogger("sovereel").info("media worker %s running for region %s", worker.worker_id, rt.region)
    stop.wait()
    worker.stop()
    rt.close()
    return 0


def _until_signalled() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def cmd_relay(args: argparse.Namespace) -> int:
    from sovereel.runtime.processes import run_relay

    run_relay(_settings(args), _until_signalled(), interval_s=args.interval)
    return 0


def cmd_learner(args: argparse.Namespace) -> int:
    from sovereel.runtime.processes import run_learner

    run_learner(_settings(args), _until_signalled(), interval_s=args.interval)
    return 0


def cmd_trainer(args: argparse.Namespace) -> int:
    from sovereel.runtime.processes import run_trainer

    settings = _settings(args)
    every = args.every if args.every is not None else (settings.train_every_s or 3600.0)
    run_trainer(settings, _until_signalled(), every_s=every, min_new_events=args.min_new_events)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from sovereel.runtime.supervisor import run_up

    return run_up(
        _settings(args),
        host=args.host,
        port=args.port,
        api_workers=args.api_workers,
        media_threads=args.media_threads,
        trainer=not args.no_trainer,
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    from sovereel.storage.db import open_region_db

    settings = _settings(args)
    open_region_db(settings).dispose()
    print(f"region {settings.region}: schema is at the newest revision")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sovereel.demo.world import build_demo_world
    from sovereel.runtime.region import open_runtime

    if _settings(args).environment == "production":
        # Every demo account has the published password `demo-password`: never in a region people use.
        print("refused: `sovereel demo` makes accounts with a published password; not in production", file=sys.stderr)
        return 1
    # The demo's clips are synthetic: a faster x264 preset keeps the first start to a few minutes on 2 cores.
    rt = open_runtime(_settings(args).model_copy(update={"x264_preset": args.preset}))
    try:
        summary = build_demo_world(rt, videos=args.videos, users=args.users, seed=args.seed, progress=True)
        if summary.videos:
            from sovereel.foryou.training import train_version

            version, manifest = train_version(rt.db, rt.settings.region_dir, keys=rt.learner.gate.keys)
            print(f"first For You model {version} trained on {manifest.get('training_events')} events")
    finally:
        rt.close()
    print(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sovereel.foryou.training import train_version
    from sovereel.governance.model_registry import ModelRegistry
    from sovereel.governance.signing import region_keys
    from sovereel.storage.db import open_region_db

    settings = _settings(args)
    db = open_region_db(settings)
    version, manifest = train_version(db, settings.region_dir, epochs=args.epochs, keys=region_keys(settings))
    print(f"region {settings.region}: model {version} trained on {manifest.get('training_events')} events")
    saved = ModelRegistry(settings.region_dir).version_dir(version)
    print(f"saved to {saved} and made current; running servers swap it in")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sovereel", description=__doc__)
    parser.add_argument("--data-dir", help="overrides SOVEREEL_DATA_DIR")
    parser.add_argument("--region", help="overrides SOVEREEL_REGION")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-workers", action="store_true", help="do not run media workers in this process")
    serve.add_argument("--regions", help="serve several regions from one process, e.g. us,eu (ports from --port up)")
    serve.add_argument(
        "--processes",
        type=int,
        default=None,
        help="API processes on the one port, plus a hub process that learns, relays and transcodes "
        "(default: one per CPU core; 1 = everything in this one process)",
    )
    serve.set_defaults(func=cmd_serve)
    hub = sub.add_parser("hub", help="the hub of `serve --processes N`: local bus, learner, relay, media threads")
    hub.set_defaults(func=cmd_hub)
    worker = sub.add_parser("worker", help="run the media (transcode) worker")
    worker.add_argument("--threads", type=int, default=None)
    worker.set_defaults(func=cmd_worker)
    relay = sub.add_parser("relay", help="relay the outbox to the NATS bus (the scaled layout's only publisher)")
    relay.add_argument("--interval", type=float, default=0.1, help="seconds between outbox polls")
    relay.set_defaults(func=cmd_relay)
    learner = sub.add_parser("learner", help="the region's one online learner (scaled layout): publishes deltas")
    learner.add_argument("--interval", type=float, default=0.15, help="seconds between deltas")
    learner.set_defaults(func=cmd_learner)
    trainer = sub.add_parser("trainer", help="train and publish For You versions on schedule")
    trainer.add_argument("--every", type=float, default=None, help="seconds between checks (SOVEREEL_TRAIN_EVERY_S)")
    trainer.add_argument("--min-new-events", type=int, default=100)
    trainer.set_defaults(func=cmd_trainer)
    up = sub.add_parser("up", help="start the scaled layout on this machine: API processes, relay, worker, trainer")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--api-workers", type=int, default=2, help="uvicorn worker processes serving the API")
    up.add_argument("--media-threads", type=int, default=1, help="transcode jobs the media worker runs at once")
    up.add_argument("--no-trainer", action="store_true", help="do not run the scheduled trainer")
    up.set_defaults(func=cmd_up)
    sub.add_parser("migrate", help="create or upgrade the region's database schema").set_defaults(func=cmd_migrate)
    train = sub.add_parser("train", help="train a new For You model version from the region's event log")
    train.add_argument("--epochs", type=int, default=None)
    train.set_defaults(func=cmd_train)
    demo = sub.add_parser("demo", help="generate a demo world (users, videos, follows, likes, comments, watches)")
    demo.add_argument("--videos", type=int, default=40)
    demo.add_argument("--users", type=int, default=20)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--preset", default="superfast", help="x264 preset for the demo transcodes")
    demo.set_defaults(func=cmd_demo)
    # Imported here so `sovereel --help` does not load what the command groups need (torch among them).
    from sovereel.cli.governance import add_governance_commands
    from sovereel.cli.groups import command_groups
    from sovereel.cli.moderation import add_user_commands
    from sovereel.cli.oversight import add_oversight_commands
    from sovereel.cli.regions import add_region_commands
    from sovereel.cli.world import add_world_command

    groups = command_groups(sub)
    add_region_commands(groups, _settings)
    add_governance_commands(sub, _settings)
    add_world_command(sub, _settings)
    add_oversight_commands(groups, _settings)
    add_user_commands(groups, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
