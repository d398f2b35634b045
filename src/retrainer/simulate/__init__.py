"""The loan-default stream: scheduled drifts, label delay and data-quality incidents.

``simulate()`` is pure (frames in memory); ``write_simulation()`` writes the ``features`` and
``labels`` tables and ``_simulation/schedule.json`` (the ground truth) through
:mod:`retrainer.data`, locally or on S3::

    from retrainer.simulate import simulate, write_simulation, Schedule

    sim = simulate(scenario="demo", days=120, seed=0)
    write_simulation(sim, "data")
    schedule = Schedule.load("data")
    schedule.drift_days(kind="concept")

Besides drifts and incidents a scenario can shape its stream (small days, ordered slices,
heavy tails with valid outliers, rare categories: :mod:`retrainer.simulate.stream`); the
shape is ground truth too (``schedule.stream``, ``schedule.outliers``).
"""

from retrainer.simulate.incidents import INCIDENT_DEFAULTS, make_incident, parse_incident
from retrainer.simulate.population import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    LABEL_TIME_COLUMN,
    NUMERIC_COLUMNS,
    TARGET_COLUMN,
    TIMESTAMP_COLUMN,
)
from retrainer.simulate.scenarios import (
    DEFAULT_ROWS_PER_DAY,
    DEFAULT_SCENARIO,
    SCENARIOS,
    DriftSpec,
    IncidentSpec,
    Scenario,
)
from retrainer.simulate.schedule import (
    DRIFT_EFFECTS,
    DRIFT_KINDS,
    DRIFT_PATTERNS,
    INCIDENT_KINDS,
    SCHEDULE_KEY,
    Drift,
    Incident,
    Schedule,
)
from retrainer.simulate.simulation import (
    DEFAULT_LABEL_DELAY_DAYS,
    DEFAULT_START,
    Simulation,
    SimulationError,
    build_schedule,
    simulate,
)
from retrainer.simulate.stream import HeavyTail, Ordering, Outlier, RareCategory, StreamShape
from retrainer.simulate.writer import write_simulation

__all__ = [
    "CATEGORICAL_COLUMNS",
    "CATEGORIES",
    "DEFAULT_LABEL_DELAY_DAYS",
    "DEFAULT_ROWS_PER_DAY",
    "DEFAULT_SCENARIO",
    "DEFAULT_START",
    "DRIFT_EFFECTS",
    "DRIFT_KINDS",
    "DRIFT_PATTERNS",
    "FEATURE_COLUMNS",
    "ID_COLUMN",
    "INCIDENT_DEFAULTS",
    "INCIDENT_KINDS",
    "LABEL_TIME_COLUMN",
    "NUMERIC_COLUMNS",
    "SCENARIOS",
    "SCHEDULE_KEY",
    "TARGET_COLUMN",
    "TIMESTAMP_COLUMN",
    "Drift",
    "DriftSpec",
    "HeavyTail",
    "Incident",
    "IncidentSpec",
    "Ordering",
    "Outlier",
    "RareCategory",
    "Scenario",
    "Schedule",
    "Simulation",
    "SimulationError",
    "StreamShape",
    "build_schedule",
    "make_incident",
    "parse_incident",
    "simulate",
    "write_simulation",
]
