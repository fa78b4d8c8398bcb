"""The command groups several CLI modules add to: the top level and `sovereel user …`.

Built once by `build_parser` and handed to each module's `add_*_commands`, so no module has to find a group
again inside argparse's private state.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

SubParsers = argparse._SubParsersAction  # argparse exposes no public name for the type `add_subparsers` returns


@dataclass(frozen=True)
class CommandGroups:
    """`top`: `sovereel <command>`; `user`: `sovereel user <command>` (look-ups, roles, the overseer)."""

    top: SubParsers[argparse.ArgumentParser]
    user: SubParsers[argparse.ArgumentParser]


def command_groups(top: SubParsers[argparse.ArgumentParser]) -> CommandGroups:
    """Create the `user` group under `top`."""
    user = top.add_parser("user", help="manage accounts and roles")
    return CommandGroups(top=top, user=user.add_subparsers(dest="user_command", required=True))
