"""Progress bars for long CLI work, shown on stderr only when a person watches a terminal.

The CLI opens :func:`progress_bars` around a flow run; loops in tasks and data readers wrap
their iterable in :func:`track`. Outside that block (deployments, workers, tests, notebooks),
under ``--json`` or when stderr is not a terminal, :func:`track` is plain iteration and
nothing is printed.

Example:
    ```python
    with progress_bars(enabled=not as_json):
        score_batch(...)  # inside: for day in track(dates, "scoring"): ...
    ```
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

T = TypeVar("T")

_lock = threading.Lock()
_active: Progress | None = None


def _log_handlers_on(stream: IO[str]) -> list[logging.StreamHandler]:
    """Stream handlers (Prefect's console handler among them) that write to ``stream``."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is stream
    ]


def _set_stream(handler: logging.StreamHandler, stream: IO[str]) -> None:
    handler.setStream(stream)
    console = getattr(handler, "console", None)  # Prefect's handler prints through rich
    if isinstance(console, Console):
        console.file = stream


@contextmanager
def progress_bars(enabled: bool = True, console: Console | None = None) -> Iterator[bool]:
    """Show the bars of :func:`track` calls made inside this block.

    Args:
        enabled: False (e.g. under ``--json``) turns the bars off.
        console: Where to draw; default: stderr. Nothing is drawn unless it is a terminal.

    Yields:
        Whether bars are shown.
    """
    global _active
    console = console or Console(stderr=True)
    if not enabled or not console.is_terminal or _active is not None:
        yield False
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    real_stream = sys.stderr
    progress.start()
    # log lines (Prefect's console handler holds the real stderr) go above the bars, not
    # through them: point those handlers at the proxy rich installed while the bars are live
    handlers = _log_handlers_on(real_stream) if sys.stderr is not real_stream else []
    for handler in handlers:
        _set_stream(handler, sys.stderr)
    with _lock:
        _active = progress
    try:
        yield True
    finally:
        with _lock:
            _active = None
        for handler in handlers:
            _set_stream(handler, real_stream)
        progress.stop()


def active() -> Progress | None:
    """The bars :func:`progress_bars` shows now (None outside it), for callback progress."""
    return _active


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items``, advancing a bar while :func:`progress_bars` shows them.

    Args:
        items: What the loop works through (partitions, batches ...).
        description: What is being done, e.g. ``"scoring partitions"``.
        total: Number of items when ``items`` has no length.

    Yields:
        The items, unchanged.
    """
    progress = _active
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if progress is None or (total is not None and total < 2):
        yield from items
        return
    task = progress.add_task(description, total=total)
    try:
        for item in items:
            yield item
            progress.advance(task)
    finally:
        progress.remove_task(task)
