"""Write a simulation through the data layer (local folder or ``s3://``)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.data.storage import Storage, open_storage
from retrainer.data.tables import PartitionedTable
from retrainer.simulate.population import LABEL_TIME_COLUMN
from retrainer.simulate.schedule import SCHEDULE_KEY
from retrainer.simulate.simulation import Simulation, SimulationError, utc_date, utc_days

FEATURES_TABLE = "features"
LABELS_TABLE = "labels"
# Everything a previous simulation (and the flows that ran on it) left under the root.
REPLACED_PREFIXES = (FEATURES_TABLE, LABELS_TABLE, "predictions", "_quarantine", "_simulation")

_WRITERS = 4

ProgressCallback = Callable[[str, int, int], None]


def _existing(storage: Storage) -> list[str]:
    return [p for p in REPLACED_PREFIXES if storage.list_keys(p)]


def write_simulation(
    sim: Simulation,
    out: str | Path | Storage,
    overwrite: bool = True,
    *,
    endpoint_url: str | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Write the feature and label tables and ``_simulation/schedule.json``.

    Feature partitions are the daily batches as delivered (incidents applied, an
    ``empty_batch`` day is a zero-row file, ``stale_dates`` rows stay in their delivery
    partition). Label partitions are by arrival date; labels arriving after the last
    simulated day are not written. The schedule is written last.

    Args:
        sim: The simulation.
        out: Data root: a local folder, ``s3://bucket/prefix`` or a storage.
        overwrite: Replace a previous simulation at ``out`` (its tables and whatever flows
            derived from it: ``predictions``, ``_quarantine``, ``_simulation``).
        endpoint_url: S3 endpoint override (MinIO, moto).
        progress: Called as ``progress(description, done, total)`` after each partition.

    Returns:
        A summary: where, days, rows, partitions, drifts, incidents, the stream's shape and
        the number of valid outliers (listed in the schedule).

    Raises:
        SimulationError: When ``out`` already holds data and ``overwrite`` is false, or it
            holds tables that were not simulated (no schedule), which are never replaced.
    """
    storage = (
        open_storage(str(out), endpoint_url=endpoint_url) if isinstance(out, str | Path) else out
    )
    existing = _existing(storage)
    if existing:
        if not overwrite:
            raise SimulationError(
                f"{storage.uri} already holds {', '.join(existing)} and overwrite is off; "
                "not replacing it"
            )
        if not storage.exists(SCHEDULE_KEY) and (
            FEATURES_TABLE in existing or LABELS_TABLE in existing
        ):
            raise SimulationError(
                f"{storage.uri} holds tables that were not simulated (no {SCHEDULE_KEY}); "
                "refusing to replace them: delete them or choose another output"
            )
        for prefix in existing:
            storage.delete_prefix(prefix)

    schedule = sim.schedule
    features = PartitionedTable(storage, FEATURES_TABLE)
    labels = PartitionedTable(storage, LABELS_TABLE)
    arrived = sim.arrived_labels()
    arrival = utc_days(arrived[LABEL_TIME_COLUMN])
    label_groups = [
        (utc_date(number), part) for number, part in arrived.groupby(arrival, sort=True)
    ]
    jobs: list[tuple[str, PartitionedTable, date, pd.DataFrame]] = [
        (FEATURES_TABLE, features, day, batch) for day, batch in sim.feature_batches()
    ]
    jobs += [(LABELS_TABLE, labels, day, part.reset_index(drop=True)) for day, part in label_groups]
    feature_rows = sum(len(batch) for name, _, _, batch in jobs if name == FEATURES_TABLE)
    # Partitions are independent files: write several at once (Parquet encoding releases
    # the GIL; on S3 the requests overlap).
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        futures = {
            pool.submit(table.write_partition, day, frame): name for name, table, day, frame in jobs
        }
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            if progress:
                progress(futures[future], done, len(jobs))
    location = schedule.save(storage)
    return {
        "out": storage.uri,
        "scenario": schedule.scenario,
        "seed": schedule.seed,
        "start": schedule.start.isoformat(),
        "end": schedule.end.isoformat(),
        "days": schedule.days,
        "rows_per_day": schedule.rows_per_day,
        "label_delay": schedule.label_delay_days,
        "tables": {
            FEATURES_TABLE: {
                "location": storage.describe(FEATURES_TABLE),
                "partitions": schedule.days,
                "rows": feature_rows,
            },
            LABELS_TABLE: {
                "location": storage.describe(LABELS_TABLE),
                "partitions": len(label_groups),
                "rows": len(arrived),
                "not_yet_arrived": len(sim.labels) - len(arrived),
            },
        },
        "schedule": location,
        "drifts": [d.to_dict() for d in schedule.drifts],
        "incidents": [i.to_dict() for i in schedule.incidents],
        "stream": schedule.stream.to_dict(),
        "outliers": len(schedule.outliers),
    }
