"""`sovereel user create-overseer USERNAME`: create (or promote) the read-only overseer account."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from sovereel.cli.groups import CommandGroups
from sovereel.settings import Settings


def cmd_create_overseer(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Settings]) -> int:
    """Create or promote the overseer; the password comes from stdin (--password-stdin) or a prompt."""
    from sovereel.actions.oversight import do_make_overseer
    from sovereel.errors import AppError
    from sovereel.storage.db import open_region_db

    settings = settings_of(args)
    db = open_region_db(settings)
    password: str | None = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n") or None
    try:
        try:
            user, created = do_make_overseer(db, settings.secret_key, args.username, password)
        except AppError as exc:
            if exc.code != "bad_password" or args.password_stdin:
                raise
            # A new account: ask for its password (never taken from the command line, where `ps` shows it).
            password = getpass.getpass(f"password for the new overseer {args.username}: ")
            user, created = do_make_overseer(db, settings.secret_key, args.username, password)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    verb = "created" if created else "is now"
    print(f"region {settings.region}: {user.username} {verb} the overseer (read-only); sign in at /login")
    return 0


def add_oversight_commands(groups: CommandGroups, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register `user create-overseer` (joining a `user` command group that others may also add to)."""
    create = groups.user.add_parser("create-overseer", help="create or promote the read-only overseer account")
    create.add_argument("username")
    create.add_argument("--password-stdin", action="store_true", help="read the new account's password from stdin")
    create.set_defaults(func=lambda args: cmd_create_overseer(args, settings_of))
