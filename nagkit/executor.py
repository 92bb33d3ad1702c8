"""One small interface for work that fans out (seeds, candidate trainings).

Algorithms call ``executor.map(fn, items)``; swapping ``LocalExecutor`` for a distributed
engine (e.g. a Ray-backed class with the same ``map``) needs no change in the algorithms.
``fn`` must be a picklable top-level function; results come back in input order.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]: ...


class SerialExecutor:
    """Runs everything in this process (the reference behaviour; easiest to debug)."""

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]:
        items = list(items)
        return [fn(x) for x in tqdm(items, desc=desc, disable=not self.progress or not items)]


class LocalExecutor:
    """Local worker processes; each worker runs torch on one thread to avoid oversubscription."""

    def __init__(self, workers: int | None = None, progress: bool = True) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 1))
        self.progress = progress

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]:
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            return SerialExecutor(self.progress).map(fn, items, desc)
        with ProcessPoolExecutor(self.workers, initializer=_one_thread) as pool:
            futures = [pool.submit(fn, x) for x in items]
            for _ in tqdm(futures, desc=desc, disable=not self.progress):
                _.result()
            return [f.result() for f in futures]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def get_executor(kind: str = "local", workers: int | None = None, progress: bool = True) -> Executor:
    """``'serial'`` or ``'local'`` (processes); ``KeyError`` for anything else."""
    if kind == "serial":
        return SerialExecutor(progress)
    if kind == "local":
        return LocalExecutor(workers, progress)
    raise KeyError(f"unknown executor {kind!r}; valid: ['local', 'serial']")
