"""Progress bars for long work (hashing, copying, image transfers), on standard error, only when it
is a terminal: logs and tests get no bar noise."""
from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn


class Meter:
    """One bar counting bytes; `advance` is cheap enough to call per 1 MiB block."""

    def __init__(self, progress: Progress | None, task):
        self._progress, self._task = progress, task

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def total(self, n: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=n)


@contextmanager
def meter(description: str, total: int | None = None):
    """A byte-counting bar, shown only on a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield Meter(None, None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield Meter(progress, progress.add_task(description, total=total))


def say(message: str) -> None:
    print(message, file=sys.stderr)
