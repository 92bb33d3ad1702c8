"""The ``nagkit`` command line: one entry point, one module per group of subcommands.

Each module in ``COMMANDS`` has ``register(subparsers)`` adding parsers whose ``func``
takes the parsed args and returns a JSON-able dict (printed with ``--json``) or raises
``ValueError`` / ``KeyError`` / ``OSError`` / ``FloatingPointError`` for bad input (exit code 2,
one line ``nagkit <cmd>: error: ...``). Argument values are range-checked at parse time
(``nagkit.cli.common``); an interrupted run exits with 128 + the signal number, saying what was
saved and how to resume.

Importing this package and building the parser import no torch, so ``nagkit --help`` is fast; each
handler imports what it needs.
"""
from __future__ import annotations

import json
import sys
from importlib import metadata

from nagkit.cli import baselines, basic, data, diffusion, robustness, search, training, transfer
from nagkit.cli.common import Parser, clip
from nagkit.progress import Interrupted

COMMANDS = [basic, data, diffusion, search, training, transfer, robustness, baselines]
USER_ERRORS = (ValueError, KeyError, OSError, FloatingPointError)


def version() -> str:
    """The installed distribution's version (``nagkit.__version__`` when run from an uninstalled checkout)."""
    try:
        return metadata.version("nagkit")
    except metadata.PackageNotFoundError:
        from nagkit import __version__

        return __version__


def build_parser() -> Parser:
    parser = Parser(prog="nagkit", description="DiffusionNAG, reproducible.")
    parser.add_argument("--version", action="version", version=f"nagkit {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def _message(err: BaseException) -> str:
    """The text of an error: a bare ``KeyError`` key becomes "missing entry 'key'"."""
    if isinstance(err, KeyError) and err.args:
        key = err.args[0]
        return key if isinstance(key, str) and " " in key else f"missing entry {key!r}"
    return str(err) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (2: bad input, 130 / 143: interrupted)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse: --help / --version (0) or a one-line usage error (2)
        return stop.code if isinstance(stop.code, int) else 0
    try:
        result = args.func(args)
    except Interrupted as err:
        print(f"nagkit {args.command}: interrupted: {clip(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"nagkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(f"nagkit {args.command}: error: {clip(_message(err))}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        try:
            text = json.dumps({k: v for k, v in result.items() if k != "text"}, indent=1, default=float,
                              allow_nan=False)
        except ValueError as err:  # NaN / inf: a bug, never printed as invalid JSON
            print(f"nagkit {args.command}: error: the result is not valid JSON ({err})", file=sys.stderr)
            return 1
        print(text)
    elif result.get("text"):
        print(result["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
