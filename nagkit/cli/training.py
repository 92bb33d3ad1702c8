"""Subcommands of this group (registered in nagkit/cli/__init__.py)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Placeholder until this group's subcommands land."""
