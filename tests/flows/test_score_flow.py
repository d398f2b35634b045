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


def test_rescoring_with_another_version_adds_its_predictions_and_readers_pick_one(trained):
    from retrainer.data import DataCatalog
    from retrainer.flows.drift import check_drift
    from retrainer.flows.monitor import monitor_performance
    from retrainer.flows.score import score_batch
    from retrainer.flows.train import train
    from retrainer.project import Project

    # given the champion v1 scored a window, and a challenger v2 was trained later
    window = ("2026-01-14", "2026-01-16")
    score_batch(config=str(trained), start=window[0], end=window[1], rescore=True)
    challenger = train(config=str(trained), as_of="2026-01-28")
    assert challenger["version"] == "2"

    # when the challenger scores the same window
    score_batch(config=str(trained), start=window[0], end=window[1], rescore=True, version="2")

    # then each partition holds both versions' predictions, one row per id and version
    catalog = DataCatalog.for_project(Project.load(trained))
    predictions = catalog.predictions.read(*window)
    per_version = predictions.groupby("model_version")["loan_id"].agg(["size", "nunique"])
    features = catalog.features.read(*window)
    assert per_version.to_dict("index") == {
        "1": {"size": len(features), "nunique": len(features)},
        "2": {"size": len(features), "nunique": len(features)},
    }
    # and monitoring and drift read the champion's by default, the named version on request
    span = f"{window[0]}:{window[1]}"
    champion = monitor_performance(config=str(trained), window=span)
    second = monitor_performance(config=str(trained), window=span, version="2")
    assert (champion["model_version"], second["model_version"]) == ("1", "2")
    assert champion["rows"] == second["rows"] == len(features)
    drift = check_drift(config=str(trained), current=span, version="2")
    assert drift["model_version"] == "2"
