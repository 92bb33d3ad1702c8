"""Long-running loops: progress bars (:func:`progress_bar`) that honour ``TQDM_DISABLE``, and interruption at
step boundaries.

``tqdm(disable=False)`` overrides tqdm's own ``TQDM_DISABLE`` environment default, so every bar
passes ``disable=not enabled(progress)``: the variable wins over a caller's ``progress=True``.

:func:`deferred_signals` turns SIGINT / SIGTERM into a flag that a training loop polls after each
step, so the loop can save a consistent, resumable checkpoint and raise :class:`Interrupted`; a
second signal interrupts at once.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

_TRUE = ("1", "true", "yes", "on")


TEXT_BARS = "NAGKIT_TEXT_PROGRESS"  # set (to 1) by batch runs (papermill): text bars, which reach the log


def progress_bar(iterable=None, **kwargs):  # noqa: ANN001, ANN201 (tqdm's own signature)
    """``tqdm.auto``'s bar (a widget in a notebook) in the main process; a text bar in worker processes
    (a forked kernel's connection cannot carry widget messages: each update would log a warning) and
    wherever ``$NAGKIT_TEXT_PROGRESS`` is set (``python -m nagkit.notebooks`` for the paper and smoke
    profiles: the bars reach papermill's log)."""
    import multiprocessing

    from tqdm import auto, std

    text = multiprocessing.parent_process() is not None or os.environ.get(TEXT_BARS, "").strip().lower() in _TRUE
    return (std.tqdm if text else auto.tqdm)(iterable, **kwargs)


def enabled(flag: bool) -> bool:
    """``flag``, unless ``TQDM_DISABLE`` is set to 1 / true / yes / on."""
    return flag and os.environ.get("TQDM_DISABLE", "").strip().lower() not in _TRUE


class Interrupted(KeyboardInterrupt):
    """A run stopped on SIGINT / SIGTERM; the message says what was saved and how to resume."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


@contextlib.contextmanager
def deferred_signals() -> Iterator[Callable[[], int | None]]:
    """Within the block SIGINT / SIGTERM only record themselves; yields ``received()``, the first
    signal's number or ``None``. A second signal raises ``KeyboardInterrupt`` at once. Previous
    handlers are restored on exit; ignored signals and, outside the main thread, all signals are
    left alone."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def handler(signum: int, frame: object) -> None:
        if got:
            raise KeyboardInterrupt
        got.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(s) not in (signal.SIG_IGN, None)}  # keep ignored (nohup) signals ignored
    try:
        yield lambda: got[0] if got else None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
