"""Benchmark runners: one per library/variant, each run in its own fresh process.

A runner splits its work into phases so that the child (``_drift_bench.child``) can time the
computation alone: ``import_libraries`` (heavy imports), ``load_inputs`` (Parquet read, profile
load), ``warm_up`` (the same call on a small slice, so lazy imports and first-call caches are not
counted) and ``compute`` (the measured call). Runner modules are imported by name, so a runner for
the peers venv never imports ``retrainer`` and vice versa.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# runner name -> (module, class, which venv runs it: "project" or "peers")
RUNNERS: dict[str, tuple[str, str, str]] = {
    "ours": ("_drift_bench.runners.ours", "OursFromFrames", "project"),
    "ours_profile": ("_drift_bench.runners.ours", "OursFromProfile", "project"),
    "ours_stream": ("_drift_bench.runners.ours", "OursStreaming", "project"),
    "fit_profile": ("_drift_bench.runners.ours", "FitProfile", "project"),
    "floor": ("_drift_bench.runners.floor", "NumpyFloor", "project"),
    "evidently": ("_drift_bench.runners.peers", "EvidentlyPreset", "peers"),
    "nannyml_1chunk": ("_drift_bench.runners.peers", "NannyMLOneChunk", "peers"),
    "nannyml_10chunks": ("_drift_bench.runners.peers", "NannyMLDefaultChunks", "peers"),
}


@dataclass
class ChildArgs:
    """Inputs of one child run (paths are absolute)."""

    reference: Path | None = None
    current: Path | None = None
    profile: Path | None = None
    stream: Path | None = None
    batch_rows: int = 250_000
    warmup_rows: int = 2_000


class Runner:
    """Base class; subclasses override the phases they need."""

    def __init__(self, args: ChildArgs) -> None:
        self.args = args

    def import_libraries(self) -> None:
        """Import the library under test (timed as ``import_s``)."""

    def load_inputs(self) -> None:
        """Read the inputs (timed as ``read_s``)."""

    def warm_up(self) -> None:
        """Run the computation on a small slice (timed as ``warmup_s``)."""

    def compute(self) -> Any:
        """The measured computation."""
        raise NotImplementedError

    def flagged_columns(self, result: Any) -> list[str] | None:
        """Columns flagged as drifted by the library's default decision, if it makes one."""
        return None

    def extra(self, result: Any) -> dict[str, Any]:
        """Additional JSON-serialisable facts about the run."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the libraries involved."""
        return {}


def make_runner(name: str, args: ChildArgs) -> Runner:
    """Instantiate the runner registered under ``name``.

    Raises:
        KeyError: If no runner has that name.
    """
    if name not in RUNNERS:
        raise KeyError(f"unknown runner {name!r}; known: {', '.join(RUNNERS)}")
    module_name, class_name, _ = RUNNERS[name]
    runner_class = getattr(importlib.import_module(module_name), class_name)
    return runner_class(args)
