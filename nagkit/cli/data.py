"""``nagkit data status``: which downloaded artifacts of the paper profile are present, what each enables,
and the one command that gets it (:mod:`nagkit.data.artifacts`)."""
from __future__ import annotations

import argparse

from nagkit.cli.common import add_parser, data_root


def status(args: argparse.Namespace) -> dict:
    from nagkit.data.artifacts import summary  # torch (nagkit.data): only when run

    return summary(args.root, verify=args.verify)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="the downloaded data the paper profile needs",
                       description="the downloaded data the paper profile needs")
    p.set_defaults(func=status)  # `nagkit data` alone is a usage error (the subcommand is required)
    data_sub = p.add_subparsers(dest="data_command", required=True)
    p = add_parser(data_sub, "status", "every artifact the paper profile needs: present or missing, size, the "
                   "notebook / report rows it enables and the command that gets it (exit 0 either way)", status)
    p.add_argument("--root", type=data_root, default=None,
                   help="data root (default $NAGKIT_DATA or ~/.cache/nagkit/data)")
    p.add_argument("--verify", action="store_true",
                   help="also compute checksums where one is published (reads every such file: slow)")
