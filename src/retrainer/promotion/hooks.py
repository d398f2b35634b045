"""Test hooks of the promotion path (read here and nowhere else; unset in production).

* ``RETRAINER_TEST_CRASH_AFTER=store_write``: the process kills itself (SIGKILL) right after
  the store committed a champion change and before any MLflow alias moved, so a test can
  check that the next command reconciles. ``rollout_state``: right after the reconciler
  stored a rollout transition, before the promotion or the abort record it implies.
* ``RETRAINER_TEST_BARRIER=PATH``: before the compare-and-set, the process creates
  ``PATH.arrived-<pid>`` and waits (up to 120 s) until ``PATH`` exists, so a test can release
  two promotions at the same moment.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CRASH_ENV = "RETRAINER_TEST_CRASH_AFTER"
BARRIER_ENV = "RETRAINER_TEST_BARRIER"
BARRIER_TIMEOUT_S = 120.0


def crash_point(stage: str) -> None:
    """Die here when ``RETRAINER_TEST_CRASH_AFTER`` names ``stage``."""
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def barrier() -> None:
    """Wait for the test's start signal when ``RETRAINER_TEST_BARRIER`` is set."""
    path = os.environ.get(BARRIER_ENV)
    if not path:
        return
    go = Path(path)
    Path(f"{path}.arrived-{os.getpid()}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{BARRIER_ENV}: {go} did not appear")
        time.sleep(0.01)
