"""Runners for the peer libraries (peers venv only: evidently 0.7.23, nannyml 0.13.1, pandas 2)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pandas as pd

from _drift_bench.data import CATEGORICAL, NUMERIC
from _drift_bench.frames import read_frame
from _drift_bench.runners import Runner

# No telemetry from the peers, whoever starts this module.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")


class _Frames(Runner):
    """Reads both frames; warm-up runs the computation on the first rows of each."""

    def load_inputs(self) -> None:
        self.reference = read_frame(self.args.reference)
        self.current = read_frame(self.args.current)

    def run_on(self, reference: pd.DataFrame, current: pd.DataFrame) -> Any:
        raise NotImplementedError

    def warm_up(self) -> None:
        rows = self.args.warmup_rows
        self.run_on(self.reference.iloc[:rows], self.current.iloc[:rows])

    def compute(self) -> Any:
        return self.run_on(self.reference, self.current)


class EvidentlyPreset(_Frames):
    """``Report([DataDriftPreset()]).run(current, reference)`` with default stattests.

    The warm-up uses 2,000 rows (above Evidently's 1,000-row switch), so it takes the same
    code path (normed Wasserstein / Jensen-Shannon) and loads Plotly, which Evidently imports
    lazily during the first run.
    """

    def import_libraries(self) -> None:
        from evidently import Report
        from evidently.presets import DataDriftPreset

        self.Report = Report
        self.DataDriftPreset = DataDriftPreset

    def run_on(self, reference: pd.DataFrame, current: pd.DataFrame) -> Any:
        return self.Report([self.DataDriftPreset()]).run(current, reference)

    def _value_drifts(self, snapshot: Any) -> tuple[list[dict[str, Any]], float | None]:
        """Per-column ValueDrift entries and the DriftedColumnsCount count."""
        entries, count = [], None
        for metric in snapshot.dict()["metrics"]:
            config = metric.get("config", {})
            kind = str(config.get("type", ""))
            if kind.endswith("ValueDrift"):
                method, threshold = str(config.get("method")), float(config.get("threshold"))
                value = float(metric["value"])
                # Evidently's stattests: p-value methods drift below the threshold, distances at
                # or above it (legacy/calculations/stattests/*.py).
                is_p_value = "p_value" in method.lower().replace("-", "_")
                drifted = value < threshold if is_p_value else value >= threshold
                entries.append(
                    {
                        "column": config.get("column"),
                        "method": method,
                        "threshold": threshold,
                        "value": value,
                        "drifted": drifted,
                    }
                )
            elif kind.endswith("DriftedColumnsCount"):
                count = float(metric["value"]["count"])
        return entries, count

    def flagged_columns(self, result: Any) -> list[str] | None:
        entries, _ = self._value_drifts(result)
        return sorted(str(e["column"]) for e in entries if e["drifted"])

    def extra(self, result: Any) -> dict[str, Any]:
        entries, count = self._value_drifts(result)
        return {"drifted_columns_count": count, "columns": entries}

    def versions(self) -> dict[str, str]:
        import evidently
        import numpy as np

        return {
            "evidently": evidently.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        }


class NannyMLOneChunk(_Frames):
    """``UnivariateDriftCalculator`` (KS+JS continuous, chi2+JS categorical), one chunk.

    Time covers ``fit(reference)`` and ``calculate(current)``. With one chunk NannyML's default
    thresholds (mean ± 3σ over reference chunks) collapse to the single reference value, so its
    decisions are meaningless; decisions are reported from the default 10-chunk run instead.
    """

    chunk_number: int | None = 1
    continuous_methods = ("kolmogorov_smirnov", "jensen_shannon")
    categorical_methods = ("chi2", "jensen_shannon")

    def import_libraries(self) -> None:
        warnings.filterwarnings("ignore")  # chunk-count and lexsort warnings, once per column
        import nannyml

        self.nml = nannyml

    def run_on(self, reference: pd.DataFrame, current: pd.DataFrame) -> Any:
        kwargs: dict[str, Any] = {}
        if self.chunk_number is not None:
            kwargs["chunk_number"] = self.chunk_number
        calculator = self.nml.UnivariateDriftCalculator(
            column_names=[*NUMERIC, *CATEGORICAL],
            continuous_methods=list(self.continuous_methods),
            categorical_methods=list(self.categorical_methods),
            **kwargs,
        )
        calculator.fit(reference)
        return calculator.calculate(current)

    def _alerts(self, result: Any) -> dict[str, set[str]]:
        """Columns with an alert in at least one analysis chunk, per method."""
        frame = result.filter(period="analysis").to_df()
        alerts: dict[str, set[str]] = {}
        for column, method, field in frame.columns:
            if (
                field == "alert"
                and column in (*NUMERIC, *CATEGORICAL)
                and frame[(column, method, field)].any()
            ):
                alerts.setdefault(method, set()).add(column)
        return alerts

    def flagged_columns(self, result: Any) -> list[str] | None:
        return sorted(set().union(*self._alerts(result).values()))

    def extra(self, result: Any) -> dict[str, Any]:
        alerts = self._alerts(result)
        chunks = len(result.filter(period="analysis").to_df())
        return {
            "analysis_chunks": chunks,
            "flagged_by_method": {method: sorted(cols) for method, cols in alerts.items()},
            # NannyML's own default is jensen_shannon for both column kinds.
            "flagged_js_only": sorted(alerts.get("jensen_shannon", set())),
        }

    def versions(self) -> dict[str, str]:
        import numpy as np

        return {"nannyml": self.nml.__version__, "pandas": pd.__version__, "numpy": np.__version__}


class NannyMLDefaultChunks(NannyMLOneChunk):
    """The same calculator with NannyML's default chunking (10 chunks); decisions come from here."""

    chunk_number = None
