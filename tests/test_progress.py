"""Progress bars: drawn for a person at a terminal, silent everywhere else."""

from __future__ import annotations

import io
import logging
import sys

from rich.console import Console

from retrainer.progress import progress_bars, track


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_a_terminal_sees_the_bar_and_the_loop_gets_every_item():
    console, out = _console(terminal=True)

    # when a loop runs inside the CLI's progress block
    with progress_bars(console=console) as shown:
        items = list(track(["2026-01-01", "2026-01-02", "2026-01-03"], "scoring partitions"))

    # then every item went through unchanged and the bar was drawn
    assert shown is True
    assert items == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert "scoring partitions" in out.getvalue()
    assert "/3" in out.getvalue()  # items done / total


def test_no_output_when_not_a_terminal_under_json_or_outside_the_cli():
    for enabled, terminal in ((True, False), (False, True)):
        console, out = _console(terminal)
        with progress_bars(enabled=enabled, console=console) as shown:
            assert list(track(range(5), "scoring")) == [0, 1, 2, 3, 4]
        assert shown is False
        assert out.getvalue() == ""
    # outside any progress block (a deployment, a worker, a notebook) it is plain iteration
    assert list(track(iter(range(3)), "reading", total=3)) == [0, 1, 2]


def test_log_lines_written_while_the_bar_is_live_go_above_it_and_the_handler_is_restored():
    console, out = _console(terminal=True)
    logger = logging.getLogger("retrainer.test_progress")
    stream = sys.stderr
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        # when a task logs in the middle of a tracked loop
        with progress_bars(console=console):
            for i in track(range(3), "reading features"):
                if i == 1:
                    logger.warning("read partition %d", i)

        # then the line reached the terminal through the bar's console
        assert "read partition 1" in out.getvalue()
        # and the handler writes to its own stream again afterwards
        assert handler.stream is stream
    finally:
        logger.removeHandler(handler)
