"""Helpers shared by the subcommand modules."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, name: str, help: str, func) -> argparse.ArgumentParser:  # noqa: A002
    """A subcommand parser with ``--json`` and its handler attached."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=func)
    return p
