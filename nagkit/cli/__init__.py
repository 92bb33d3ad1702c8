"""The ``nagkit`` command line: one entry point, one module per group of subcommands.

Each module in ``COMMANDS`` has ``register(subparsers)`` adding parsers whose ``func``
takes the parsed args and returns a JSON-able dict (printed with ``--json``) or raises
``ValueError`` / ``KeyError`` / ``FileNotFoundError`` for bad input (exit code 2).
"""
from __future__ import annotations

import argparse
import json
import sys

from nagkit.cli import basic, diffusion, search, training, transfer

COMMANDS = [basic, diffusion, search, training, transfer]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nagkit", description="DiffusionNAG, reproducible.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"nagkit {args.command}: error: {message}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps({k: v for k, v in result.items() if k != "text"}, indent=1, default=float))
    elif result.get("text"):
        print(result["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
