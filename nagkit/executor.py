"""One small interface for work that fans out (seeds, candidate trainings).

Algorithms call ``executor.map(fn, items, desc)``; the backend (this process, local worker
processes, a Ray cluster) is chosen with :func:`get_executor` and needs no change in the algorithms.
``fn`` must be a picklable top-level function; results come back in input order. Workers run torch
on one thread each. GPUs: ``LocalExecutor(devices=...)`` pins each worker process to one device,
``RayExecutor(num_gpus_per_task=...)`` lets Ray pin each task; either way a job sees its GPU as
``cuda`` / ``cuda:0`` (device ``"auto"``).
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import reprlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar


from nagkit.progress import enabled, progress_bar as tqdm

T = TypeVar("T")
R = TypeVar("R")

KINDS = ("local", "ray", "serial")


class Executor(Protocol):
    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]: ...


class SerialExecutor:
    """Runs everything in this process (the reference behaviour; easiest to debug)."""

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]:
        items = list(items)
        return [fn(x) for x in tqdm(items, desc=desc, disable=not enabled(self.progress) or not items)]


class LocalExecutor:
    """Local worker processes; each worker runs torch on one thread to avoid oversubscription.

    ``devices``: ``None`` (leave ``CUDA_VISIBLE_DEVICES`` alone), a list such as ``["cuda:0", "cuda:1"]``
    or ``"auto"`` (every visible GPU; ``None`` on a machine without one). Each worker process then sees
    only its device (round-robin, :func:`worker_pins`); ``workers`` defaults to one per device, and the
    workers are spawned rather than forked (a forked child cannot use CUDA once the parent has).
    """

    def __init__(self, workers: int | None = None, progress: bool = True,
                 devices: Sequence[str] | str | None = None) -> None:
        self.devices = visible_gpus() if devices == "auto" else list(devices) if devices else None
        default = len(self.devices) if self.devices else os.cpu_count() or 1
        self.workers = max(1, workers or default)
        self.progress = progress
        self.pins = worker_pins(self.devices, self.workers, os.environ.get("CUDA_VISIBLE_DEVICES")) \
            if self.devices else None

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]:
        items = list(items)
        if not items or (self.pins is None and (self.workers == 1 or len(items) == 1)):
            return SerialExecutor(self.progress).map(fn, items, desc)
        context = multiprocessing.get_context("spawn" if self.pins else None)
        initargs = (context.Value("i", 0) if self.pins else None, self.pins)
        with ProcessPoolExecutor(min(self.workers, len(items)), context, _init_worker, initargs) as pool:
            futures = [pool.submit(fn, x) for x in items]
            for _ in tqdm(futures, desc=desc, disable=not enabled(self.progress)):
                _.result()
            return [f.result() for f in futures]


def visible_gpus() -> list[str] | None:
    """``["cuda:0", ...]`` for every GPU this process sees, ``None`` when there is none."""
    import torch

    n = torch.cuda.device_count()
    return [f"cuda:{i}" for i in range(n)] if n else None


def worker_pins(devices: Sequence[str], workers: int, inherited: str | None = None) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` of workers ``0..workers-1``: ``devices`` round-robin, each ``cuda:N``
    (``cuda`` = ``cuda:0``) as the N-th entry of ``inherited`` (this process's value) when that is set,
    ``cpu`` as ``""`` (no GPU). ``ValueError`` for another name or an index out of range."""
    visible = inherited.split(",") if inherited else None
    pins = []
    for device in devices:
        kind, _, index = device.partition(":")
        if kind == "cpu" and not index:
            pins.append("")
            continue
        if kind != "cuda" or not (index or "0").isdigit():
            raise ValueError(f"unknown device {device!r}; expected cpu, cuda or cuda:<index>")
        i = int(index or 0)
        if visible is not None and i >= len(visible):
            raise ValueError(f"device {device!r} is not among CUDA_VISIBLE_DEVICES={inherited!r}")
        pins.append(visible[i] if visible is not None else str(i))
    return [pins[w % len(pins)] for w in range(workers)]


def _init_worker(counter: Any, pins: list[str] | None) -> None:
    """Worker initializer: take the next pin (a shared counter numbers the workers), one torch thread."""
    if pins:
        with counter.get_lock():
            worker = counter.value
            counter.value += 1
        os.environ["CUDA_VISIBLE_DEVICES"] = pins[worker % len(pins)]
    _one_thread()


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


class TaskError(RuntimeError):
    """A task of ``map`` failed; the message names the job, the item and the first line of the original
    error (:attr:`cause`); ``__cause__`` is the backend's error, e.g. Ray's with the remote traceback."""

    def __init__(self, desc: str, index: int, item: Any, cause: BaseException) -> None:
        self.index, self.item, self.cause = index, item, cause
        first = str(cause).strip().partition("\n")[0]
        super().__init__(f"{desc or 'map'}: task {index} ({describe(item)}) failed: {type(cause).__name__}: {first}")


def describe(item: Any) -> str:
    """A short label of a task item: its label / dataset / arch / seed (dict keys or attributes) when it
    has any, else a truncated ``repr``."""
    fields = {}
    for key in ("label", "dataset", "arch", "seed"):
        value = item.get(key) if isinstance(item, dict) else getattr(item, key, None)
        if value is not None:
            fields[key] = value
    if not fields:
        return reprlib.repr(item)
    return ", ".join(f"{k}={reprlib.repr(v)}" for k, v in fields.items())


class RayExecutor:
    """Tasks on a Ray cluster, one CPU (and ``num_gpus_per_task`` GPUs) each.

    ``address``: ``None`` connects to ``$RAY_ADDRESS`` when that is set, else (as ``"local"``) starts a
    local instance with ``num_cpus`` CPUs (default: all), even beside a ``ray start`` cluster; ``"auto"``
    (the cluster this machine belongs to, ``ray start``) or ``"ray://host:10001"`` (Ray client). An
    already initialised Ray is reused as it is. Workers must import the same ``nagkit``; their output
    goes to Ray's logs (``/tmp/ray/session_latest/logs``), not here. A failed task raises
    :class:`TaskError` and cancels the others, as does Ctrl-C (re-raised).
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None, num_gpus_per_task: float = 0,
                 progress: bool = True) -> None:
        if importlib.util.find_spec("ray") is None:
            raise RuntimeError("the ray executor needs Ray: pip install -e .[ray]")
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.num_gpus_per_task = num_gpus_per_task
        self.progress = progress

    def connect(self) -> Any:
        """The ``ray`` module, initialised (see the class docstring)."""
        import ray

        if not ray.is_initialized():
            quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
            if self.address in (None, "local"):
                ray.init("local", num_cpus=self.num_cpus, include_dashboard=False, **quiet)
            else:
                ray.init(self.address, **quiet)
        return ray

    def map(self, fn: Callable[[T], R], items: Iterable[T], desc: str = "") -> list[R]:
        items = list(items)
        if not items:
            return []
        ray = self.connect()
        task = ray.remote(_call_one_thread).options(num_cpus=1, num_gpus=self.num_gpus_per_task)
        fn_ref = ray.put(fn)
        refs = [task.remote(fn_ref, x) for x in items]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(items)
        pending = refs
        try:
            with tqdm(total=len(items), desc=desc, disable=not enabled(self.progress)) as bar:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    if pending:  # collect whatever else has finished meanwhile
                        more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                        done += more
                    for ref in done:
                        i = index[ref]
                        try:
                            results[i] = ray.get(ref)
                        except ray.exceptions.RayError as e:
                            cause = getattr(e, "cause", None)
                            cause = cause if isinstance(cause, BaseException) else e
                            raise TaskError(desc, i, items[i], cause) from e
                    bar.update(len(done))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return results


def _call_one_thread(fn: Callable[[T], R], item: T) -> R:
    """A Ray task: ``fn(item)`` with torch on one thread (as :class:`LocalExecutor`'s workers)."""
    _one_thread()
    return fn(item)


def get_executor(kind: str = "local", workers: int | None = None, progress: bool = True, gpu_tasks: bool = False,
                 **options: Any) -> Executor:
    """``'serial'``, ``'local'`` (processes; option ``devices``) or ``'ray'`` (options ``address``,
    ``num_cpus`` (default ``workers``), ``num_gpus_per_task``); ``KeyError`` for another kind.
    ``gpu_tasks``: every task gets a GPU of its own (local: ``devices="auto"``, one worker per visible GPU,
    a plain pool on a machine without one; ray: ``num_gpus_per_task=1``; serial: the one process's device)."""
    if kind == "serial":
        return SerialExecutor(progress, **options)
    if kind == "local":
        return LocalExecutor(workers, progress, **({"devices": "auto"} if gpu_tasks else {}), **options)
    if kind == "ray":
        return RayExecutor(**{"num_cpus": workers, **({"num_gpus_per_task": 1} if gpu_tasks else {}), **options},
                           progress=progress)
    raise KeyError(f"unknown executor {kind!r}; valid: {list(KINDS)}")
