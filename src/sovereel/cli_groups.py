"""Command groups that several CLI modules add to (`sovereel user …` holds look-ups, roles and the overseer)."""

from __future__ import annotations

import argparse
from typing import Any


def user_commands(sub: Any) -> Any:
    """The subcommands of the `sovereel user` group, creating the group on first use."""
    user: argparse.ArgumentParser = sub.choices.get("user") or sub.add_parser("user", help="manage accounts and roles")
    for action in user._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return user.add_subparsers(dest="user_command", required=True)
