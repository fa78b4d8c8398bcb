"""`sovereel user role USERNAME moderator|user`: the only way to make a moderator (an operator's act, audited)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sovereel.cli.groups import CommandGroups
from sovereel.settings import Settings


def cmd_user_role(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Settings]) -> int:
    """Set a user's role and print the result."""
    from sovereel.actions.moderation import do_set_role
    from sovereel.errors import AppError
    from sovereel.storage.db import open_region_db

    settings = settings_of(args)
    db = open_region_db(settings)
    try:
        user = do_set_role(db, audit_secret=settings.secret_key, username=args.username, role=args.role)
    except AppError as exc:
        print(f"error: {exc.message}")
        return 1
    finally:
        db.dispose()
    print(f"@{user.username} is now a {user.role} in region {settings.region}")
    return 0


def add_user_commands(groups: CommandGroups, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Add `user role` to the CLI's subcommands."""
    role = groups.user.add_parser("role", help="make an account a moderator, or an ordinary user again")
    role.add_argument("username")
    role.add_argument("role", choices=["moderator", "user"])
    role.set_defaults(func=lambda args: cmd_user_role(args, settings_of))
