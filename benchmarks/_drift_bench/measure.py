"""Process-level measurements taken inside a child: RSS now, peak RSS, CPU and wall time."""

from __future__ import annotations

import gc
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (e.g. VmRSS, VmHWM), or None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float | None:
    """Resident set size of this process now, in MiB."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def max_rss_mib() -> float:
    """Peak RSS of this process over its whole life (``ru_maxrss``), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (VmHWM) so a later read covers only what follows.

    ``ru_maxrss`` cannot be reset; VmHWM can (Linux ≥ 4.0, ``echo 5 > /proc/self/clear_refs``).

    Returns:
        Whether the reset worked.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def release_arrow_memory() -> None:
    """Give memory that pyarrow's allocator keeps cached back to the OS (if pyarrow is loaded)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is in both venvs
        return
    pa.default_memory_pool().release_unused()


def measure_call(fn: Callable[[], Any]) -> tuple[Any, dict[str, float | None]]:
    """Run ``fn`` once and measure it.

    Args:
        fn: The computation, with its inputs already in memory.

    Returns:
        ``fn``'s result and a dict with ``wall_s``, ``cpu_s`` (process CPU, all threads),
        ``rss_before_mib``, ``peak_call_mib`` (VmHWM during the call, when it can be reset) and
        ``delta_mib`` (peak during the call minus RSS before it).
    """
    gc.collect()
    release_arrow_memory()
    rss_before = rss_mib()
    hwm_reset = reset_peak_rss()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    if hwm_reset:
        hwm_kib = _status_kib("VmHWM")
        peak_call = None if hwm_kib is None else hwm_kib / 1024
    else:  # fall back to the whole-life peak: Δ then also covers the Parquet read
        peak_call = max_rss_mib()
    delta = None if rss_before is None or peak_call is None else peak_call - rss_before
    return result, {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mib": rss_before,
        "peak_call_mib": peak_call,
        "delta_mib": delta,
    }


class Stopwatch:
    """Wall time of a ``with`` block, stored in ``seconds``."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
