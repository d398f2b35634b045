"""Runners for Retrainer's drift library (project venv only).

API used (``retrainer.drift``): ``DriftDetector(numeric=, categorical=, config=).fit(frame)``,
``.compare(frame)``, ``.compare_batches(frames)``, ``.profile_.save(path)``,
``DriftDetector.from_profile(BaselineProfile.load(path), config=)`` and
``report.drifted_columns``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from _drift_bench.data import CATEGORICAL, NUMERIC
from _drift_bench.frames import read_frame
from _drift_bench.measure import Stopwatch
from _drift_bench.runners import Runner


def path_bytes(path: Path | None) -> int | None:
    """Size of a file, or the total size of the files under a directory."""
    if path is None or not path.exists():
        return None
    if path.is_dir():
        return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
    return path.stat().st_size


class _Ours(Runner):
    """Shared imports and result handling."""

    def import_libraries(self) -> None:
        from retrainer.config.drift import DriftSection
        from retrainer.drift import BaselineProfile, DriftDetector

        self.DriftDetector = DriftDetector
        self.BaselineProfile = BaselineProfile
        self.DriftSection = DriftSection

    def new_detector(self) -> Any:
        return self.DriftDetector(
            numeric=NUMERIC, categorical=CATEGORICAL, config=self.DriftSection()
        )

    def load_detector(self) -> Any:
        if self.args.profile is None:
            raise ValueError("this runner needs --profile")
        profile = self.BaselineProfile.load(self.args.profile)
        return self.DriftDetector.from_profile(profile, config=self.DriftSection())

    def flagged_columns(self, result: Any) -> list[str] | None:
        return sorted(result.drifted_columns)

    def versions(self) -> dict[str, str]:
        import numpy as np
        import scipy

        try:
            from importlib.metadata import version

            ours = version("retrainer")
        except Exception:
            ours = "unknown"
        return {
            "retrainer": ours,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
        }


class OursFromFrames(_Ours):
    """Full report from the two frames: fit on the reference, then compare (exact)."""

    def load_inputs(self) -> None:
        self.reference = read_frame(self.args.reference)
        self.current = read_frame(self.args.current)

    def warm_up(self) -> None:
        rows = self.args.warmup_rows
        self.new_detector().fit(self.reference.iloc[:rows]).compare(self.current.iloc[:rows])

    def compute(self) -> Any:
        return self.new_detector().fit(self.reference).compare(self.current)


class OursFromProfile(_Ours):
    """Compare the current frame with a baseline profile saved beforehand (loaded in the child)."""

    def load_inputs(self) -> None:
        self.current = read_frame(self.args.current)
        with Stopwatch() as watch:
            self.detector = self.load_detector()
        self.profile_load_s = watch.seconds

    def warm_up(self) -> None:
        self.detector.compare(self.current.iloc[: self.args.warmup_rows])

    def compute(self) -> Any:
        return self.detector.compare(self.current)

    def extra(self, result: Any) -> dict[str, Any]:
        return {
            "profile_load_s": self.profile_load_s,
            "profile_bytes": path_bytes(self.args.profile),
        }


class OursStreaming(_Ours):
    """Compare a large Parquet file, batch by batch, with a saved profile (bounded memory).

    The measured time includes reading and decoding the Parquet batches: that is the job.
    """

    def import_libraries(self) -> None:
        super().import_libraries()
        import pyarrow.parquet as pq

        self.pq = pq

    def load_inputs(self) -> None:
        if self.args.stream is None:
            raise ValueError("this runner needs --stream")
        with Stopwatch() as watch:
            self.detector = self.load_detector()
        self.profile_load_s = watch.seconds
        # pre_buffer=False: with pyarrow's default (True) iter_batches pre-reads the raw column
        # chunks of every row group it will visit and keeps them until the iterator is done,
        # i.e. the whole file (1.7 GiB here) ends up in memory.
        self.parquet = self.pq.ParquetFile(self.args.stream, pre_buffer=False)

    def _batches(self, batch_rows: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        for index, batch in enumerate(self.parquet.iter_batches(batch_size=batch_rows)):
            if limit is not None and index >= limit:
                return
            yield batch.to_pandas()

    def warm_up(self) -> None:
        self.detector.compare_batches(self._batches(self.args.warmup_rows, limit=1))

    def compute(self) -> Any:
        return self.detector.compare_batches(self._batches(self.args.batch_rows))

    def extra(self, result: Any) -> dict[str, Any]:
        metadata = self.parquet.metadata
        return {
            "rows": metadata.num_rows,
            "row_groups": metadata.num_row_groups,
            "batch_rows": self.args.batch_rows,
            "file_bytes": path_bytes(self.args.stream),
            "profile_load_s": self.profile_load_s,
        }


class FitProfile(_Ours):
    """Preparation step: fit on the reference and save the baseline profile (not a contender)."""

    def load_inputs(self) -> None:
        if self.args.profile is None:
            raise ValueError("this runner needs --profile (the output path)")
        self.reference = read_frame(self.args.reference)

    def compute(self) -> Any:
        return self.new_detector().fit(self.reference)

    def flagged_columns(self, result: Any) -> list[str] | None:
        return None

    def extra(self, result: Any) -> dict[str, Any]:
        with Stopwatch() as watch:
            result.profile_.save(self.args.profile)
        return {"profile_save_s": watch.seconds, "profile_bytes": path_bytes(self.args.profile)}
