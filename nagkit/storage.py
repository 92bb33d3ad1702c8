"""Safe file IO shared by every cache and checkpoint: atomic writes, one writer per entry, corrupt entries named.

* :func:`atomic_write` writes through a uniquely named temporary file beside the target and
  ``os.replace``-s it into place, so readers never see half a file and concurrent writers never
  share a temporary file.
* :func:`entry_lock` is an exclusive POSIX record lock (``fcntl.lockf``) on ``<path>.lock``, plus a
  per-path thread lock: two threads, processes or machines on a shared POSIX file system (NFS
  included) computing the same entry do it once; the others wait and then read its result.
* :func:`read_entry` loads a cache entry and, when it is unreadable, warns naming the file,
  deletes it and returns ``None`` so the caller recomputes it.
* :func:`cached` combines them: read, else lock, re-read, compute, save. :func:`cached_module`
  does this for a module's ``state_dict``.

Lock files are left in place (removing them would race with a waiting process); they are empty.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
M = TypeVar("M", bound="torch.nn.Module")


class CorruptEntryWarning(UserWarning):
    """A cache entry could not be read; it was deleted and will be recomputed."""


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a fresh temporary file beside ``path``, flush it to disk, then move it into
    place; on any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_json(path: str | Path, obj: Any, **dump_kwargs: Any) -> Path:
    """Atomically write ``obj`` as JSON (``json.dumps(obj, **dump_kwargs)``); non-finite floats are
    refused unless ``allow_nan=True`` is passed."""
    return atomic_write_text(path, json.dumps(obj, **{"allow_nan": False, **dump_kwargs}))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """Atomically ``torch.save`` ``obj`` to ``path``."""
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f))


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _reset_thread_locks() -> None:
    """In a forked child: drop locks that other threads of the parent may have held at the fork."""
    global _THREAD_LOCKS_GUARD
    _THREAD_LOCKS.clear()
    _THREAD_LOCKS_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_reset_thread_locks)


def _thread_lock(path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(str(path.resolve()), threading.Lock())


@contextlib.contextmanager
def entry_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock (blocking) on ``<path>.lock`` while computing the entry at ``path``.

    POSIX record locks exclude other processes and, through the file server, other machines; they
    are per process, so a thread lock per path excludes the other threads of this one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock(path):
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 0, 0, os.SEEK_SET)
            yield
        finally:
            os.close(fd)  # releases the record lock


def _try_load(path: Path, load: Callable[[Path], T]) -> tuple[T | None, Exception | None]:
    """``(load(path), None)``, ``(None, None)`` when absent, ``(None, error)`` when it is corrupt.
    ``PermissionError`` propagates: a file we may not read is not known to be bad."""
    try:
        return load(path), None
    except FileNotFoundError:
        return None, None
    except PermissionError:
        raise
    except Exception as err:  # truncated pickles / zips (torch raises even OSError), bad JSON, missing fields
        return None, err


def read_entry(path: str | Path, load: Callable[[Path], T]) -> T | None:
    """``load(path)``, or ``None`` when ``path`` is absent; a corrupt entry (``load`` raising) is
    reported with a :class:`CorruptEntryWarning` naming the file, deleted, and ``None`` returned.
    ``load`` must not return ``None`` itself."""
    path = Path(path)
    if not path.exists():
        return None
    value, err = _try_load(path, load)
    if err is not None:
        warnings.warn(f"discarding corrupt cache entry {path}: {type(err).__name__}: {err}",
                      CorruptEntryWarning, stacklevel=2)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return value


def cached(path: str | Path, load: Callable[[Path], T], compute: Callable[[], T],
           save: Callable[[T, Path], Any]) -> T:
    """The entry at ``path``: ``load``-ed if valid, else computed once under :func:`entry_lock` and
    ``save``-d (``save`` must write atomically, e.g. with :func:`atomic_write`).

    The first read takes no lock and neither warns nor deletes: a corrupt entry is re-read, reported
    and discarded only under the lock, so a valid entry another process just wrote is never removed.
    """
    path = Path(path)
    if path.exists():
        value, _ = _try_load(path, load)
        if value is not None:
            return value
    with entry_lock(path):
        value = read_entry(path, load)  # another process may have written it while we waited
        if value is None:
            value = compute()
            save(value, path)
    return value


def cached_module(path: str | Path, make: Callable[[], M], train: Callable[[M], Any]) -> M:
    """A module whose weights are cached at ``path``: a fresh ``make()`` with the stored ``state_dict``
    (``weights_only=True``; a truncated file or one with missing / unexpected / mis-shaped keys is
    corrupt), else ``make()`` trained by ``train(model)`` and its ``state_dict`` saved. In eval mode."""
    import torch

    def load(p: Path) -> M:
        model = make()
        model.load_state_dict(torch.load(p, weights_only=True))
        return model

    def compute() -> M:
        model = make()
        train(model)
        return model

    return cached(path, load, compute, lambda model, p: atomic_torch_save(model.state_dict(), p)).eval()
