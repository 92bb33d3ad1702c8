"""Helpers shared by the subcommand modules: the parser, checked argument types, output guards.

Every number a user gives goes through :func:`int_range` or :func:`finite_float` (range and
finiteness checked at parse time; ``.bounds`` on the type says the allowed range), every path
through :func:`output_file`, :func:`output_dir`, :func:`input_file`, :func:`input_dir` or
:func:`data_root`, and devices through :func:`device`, so bad values fail with :class:`Parser`'s
one-line ``nagkit <cmd>: error: argument --flag: ...`` (exit 2) before any work starts.

Importing the CLI and building its parser import no torch (``nagkit --help`` stays fast): choices
from torch-importing registries are :class:`LazyChoices`, and torch-importing functions are
imported inside the handlers or through :func:`lazy`.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import NoReturn

# Bounds shared by several subcommands.
MAX_SCALE = 1e6  # guidance scale w; the authors' largest is 10,000
# Parse-time cap of a count of architectures (a search budget, a candidate pool); the handlers check the
# chosen space's own size, which needs the space (and torch) loaded.
MAX_ARCHS = 1_000_000
# Longest echo of a user's value in a message, and of a whole message.
CLIP = 80
MAX_MESSAGE = 1000
# A quoted value: opening quote not after a letter, closing quote not before one ("checkpoint's" is no quote).
_QUOTED = re.compile(r"(?<!\w)('[^'\n]*'|\"[^\"\n]*\")(?!\w)")


def clip(message: str) -> str:
    """``message`` on one line, every quoted value longer than :data:`CLIP` cut to its start."""

    def cut(m: re.Match) -> str:
        s = m.group(0)
        return s if len(s) <= CLIP + 2 else f"{s[:CLIP]}...{s[0]} ({len(s) - 2:,} characters)"

    text = _QUOTED.sub(cut, " ".join(str(message).splitlines()))
    return text if len(text) <= MAX_MESSAGE else f"{text[:MAX_MESSAGE]}... ({len(text):,} characters)"


class LazyChoices(Sequence):
    """argparse ``choices`` that ``load()`` returns on first use: a given value's membership test or
    the "invalid choice" message, never building the parser or its help (:class:`HelpFormatter`)."""

    def __init__(self, load: Callable[[], Iterable]) -> None:
        self._load = load

    @cached_property
    def _items(self) -> tuple:
        return tuple(self._load())

    def __getitem__(self, index: int | slice) -> object:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, value: object) -> bool:
        return value in self._items


def registry(module: str, name: str, *, sort: bool = True) -> LazyChoices:
    """The names in the registry ``module.name`` (a dict or tuple), sorted or in registry order, loaded on first use."""
    return LazyChoices(lambda: (sorted if sort else list)(getattr(importlib.import_module(module), name)))


def lazy(module: str, name: str) -> Callable:
    """A stand-in for the function ``module.name`` that imports it when first called (a module-level
    name that tests can patch, without importing torch with the CLI)."""

    def call(*args: object, **kwargs: object) -> object:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on first call."
    return call


class HelpFormatter(argparse.HelpFormatter):
    """Help and usage that show :class:`LazyChoices` arguments by their metavar, leaving the choices unloaded."""

    @staticmethod
    def _unlisted(action: argparse.Action) -> argparse.Action:
        if isinstance(action.choices, LazyChoices):
            action = copy.copy(action)
            action.choices = None
        return action

    def _metavar_formatter(self, action: argparse.Action, default_metavar: str) -> Callable:
        return super()._metavar_formatter(self._unlisted(action), default_metavar)

    def _expand_help(self, action: argparse.Action) -> str:
        return super()._expand_help(self._unlisted(action))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (exit 2); subparsers inherit it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {clip(message)} (see {self.prog} --help)\n")


def add_parser(sub: argparse._SubParsersAction, name: str, help: str, func) -> argparse.ArgumentParser:  # noqa: A002
    """A subcommand parser with ``--json`` and its handler attached."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=func)
    return p


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in ``[lo, hi]`` (``hi=None``: unbounded); ``.bounds`` is ``(lo, hi)``."""
    allowed = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"

    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value!r}") from None
        if n < lo or (hi is not None and n > hi):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {n}")
        return n

    parse.bounds = (lo, hi)
    return parse


def finite_float(min: float, max: float | None = None) -> Callable[[str], float]:  # noqa: A002
    """argparse type: a finite number in ``[min, max]``; ``.bounds`` is ``(min, max)``."""
    allowed = f"a finite number in [{min:g}, {max:g}]" if max is not None else f"a finite number >= {min:g}"

    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value!r}") from None
        if not math.isfinite(x) or x < min or (max is not None and x > max):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value!r}")
        return x

    parse.bounds = (min, max)
    return parse


# torch.Generator.manual_seed takes 64-bit seeds; nagkit's are the non-negative int64 ones.
seed = int_range(0, 2**63 - 1)


def _writable_parent(path: Path) -> None:
    """``ArgumentTypeError`` unless the nearest existing ancestor of ``path`` is a writable directory."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {str(path)!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {str(path)!r}: directory {str(parent)!r} is not writable")


def output_file(value: str) -> str:
    """argparse type: a file that can be (re)written: not a directory, in a writable directory."""
    path = Path(value)
    if not value:
        raise argparse.ArgumentTypeError("empty path")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a directory, not a file")
    _writable_parent(path)
    return value


def output_dir(value: str) -> str:
    """argparse type: a directory that exists or can be created, and written to."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a file, not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"directory {value!r} is not writable")
    else:
        _writable_parent(path)
    return value


def input_file(value: str) -> str:
    """argparse type: a readable file, not a directory (its reader reports a missing one, saying
    where to get it)."""
    path = Path(value)
    if not value:
        raise argparse.ArgumentTypeError("empty path")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a directory, not a file")
    if path.exists() and not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{value!r} is not readable")
    return value


def input_dir(value: str) -> str:
    """argparse type: an existing directory."""
    if not Path(value).exists():
        raise argparse.ArgumentTypeError(f"{value!r} does not exist")
    return data_root(value)


def data_root(value: str) -> str:
    """argparse type: a data root, a directory when it exists (readers report missing data with what to fetch)."""
    if Path(value).exists() and not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a file, not a directory")
    return value


def refuse_overwrite(path: str, flag: str, how: str = "pass --force to overwrite it") -> None:
    """``ValueError`` when the output ``path`` (given as ``flag``) exists: work is only replaced when asked."""
    if Path(path).exists():
        raise ValueError(f"{flag} {path} exists; {how}")


def device(value: str) -> str:
    """argparse type: ``auto`` or a device present on this machine (``cuda`` needs a GPU)."""
    from nagkit.device import resolve_device

    try:
        resolve_device(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value
