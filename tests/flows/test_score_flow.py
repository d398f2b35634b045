from pathlib import Path

import pandas as pd
import pytest
from support import forget_mlflow_store, write_demo_project

pytestmark = pytest.mark.slow


def _project(root: Path, days: int = 30, rows_per_day: int = 150) -> Path:
    """A tmp project from the demo config, on simulated data, with a fast estimator."""
    from retrainer.simulate import simulate

    forget_mlflow_store()
    simulation = simulate("stable", days=days, seed=3, rows_per_day=rows_per_day)
    path = write_demo_project(root, simulation)
    return path


@pytest.fixture(scope="module")
def trained(prefect_api, tmp_path_factory) -> Path:
    from retrainer.flows.train import train

    config = _project(tmp_path_factory.mktemp("score"))
    train(config=str(config), as_of="2026-01-25")
    return config


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


def test_scoring_writes_prediction_partitions_with_segments(trained):
    from retrainer.data import DataCatalog
    from retrainer.flows.score import score_batch
    from retrainer.project import Project

    # when the champion scores one date
    result = score_batch(config=str(trained), date="2026-01-10")

    # then that partition holds one prediction per feature row with the documented columns
    catalog = DataCatalog.for_project(Project.load(trained))
    predictions = catalog.predictions.read(dates=["2026-01-10"])
    features = catalog.features.read(dates=["2026-01-10"])
    assert result["scored"] == {"2026-01-10": len(features)}
    assert result["version"] == "1"
    assert sorted(predictions["loan_id"]) == sorted(features["loan_id"])
    for column in ["event_time", "model_version", "score", "prediction", "region", "channel"]:
        assert column in predictions.columns
    assert predictions["score"].between(0, 1).all()
    assert set(predictions["prediction"]) <= {0, 1}
    assert (predictions["model_version"] == "1").all()
    # the predicted label is the score thresholded at 0.5
    assert ((predictions["score"] >= 0.5) == (predictions["prediction"] == 1)).all()


def test_default_scores_only_partitions_not_yet_scored(trained):
    from retrainer.data import DataCatalog
    from retrainer.flows.score import score_batch
    from retrainer.project import Project

    catalog = DataCatalog.for_project(Project.load(trained))
    all_days = catalog.features.dates()

    # when scoring everything twice
    first = score_batch(config=str(trained))
    second = score_batch(config=str(trained))

    # then the second run skips every partition, and a window can be rescored on request
    assert set(first["scored"]) | set(first["skipped"]) == {d.isoformat() for d in all_days}
    assert second["scored"] == {}
    assert len(second["skipped"]) == len(all_days)
    again = score_batch(config=str(trained), start="2026-01-05", end="2026-01-06", rescore=True)
    assert sorted(again["scored"]) == ["2026-01-05", "2026-01-06"]
    assert catalog.predictions.dates() == all_days


def test_without_a_champion_scoring_fails_clearly(prefect_api, tmp_path):
    from retrainer.flows.score import score_batch
    from retrainer.tasks.monitoring import MonitoringError

    config = _project(tmp_path, days=3, rows_per_day=20)

    with pytest.raises(MonitoringError, match="no champion"):
        score_batch(config=str(config))


def test_scores_match_the_registered_model(trained):
    from retrainer.data import DataCatalog
    from retrainer.project import Project
    from retrainer.registry.lineage import load_model
    from retrainer.registry.tracking import configure_mlflow

    project = Project.load(trained)
    configure_mlflow(project)
    catalog = DataCatalog.for_project(project)
    predictions = catalog.predictions.read(dates=["2026-01-10"]).set_index("loan_id")
    features = catalog.features.read(dates=["2026-01-10"]).set_index("loan_id")
    model = load_model("models:/credit-default@champion")

    expected = model.predict_proba(features[project.config.columns.features])[:, 1]

    pd.testing.assert_series_equal(
        predictions.loc[features.index, "score"],
        pd.Series(expected, index=features.index, name="score"),
    )
