"""The monitor flow end to end on simulated streams (train -> score -> monitor).

Timeline of every stream (default start 2026-01-01, labels arrive 7 days after the event):
the champion is trained as of day 50 (2026-02-20; its holdout is the last 7 labelled days),
every partition is scored, and the drift starts on day 60 (2026-03-02).
"""

import json
from pathlib import Path

import pytest
from support import forget_mlflow_store, write_demo_project

TRAIN_AS_OF = "2026-02-20"  # day 50
DRIFT_START = "2026-03-02"  # day 60

pytestmark = pytest.mark.slow


def _trained_project(root: Path, scenario, rows_per_day: int, days: int = 75) -> Path:
    """Demo config on a simulated stream, a fast estimator, trained and fully scored."""
    from retrainer.flows.score import score_batch
    from retrainer.flows.train import train
    from retrainer.simulate import simulate

    forget_mlflow_store()
    sim = simulate(scenario, days=days, seed=7, rows_per_day=rows_per_day)
    path = write_demo_project(root, sim)
    train(config=str(path), as_of=TRAIN_AS_OF)
    score_batch(config=str(path))
    return path


def _recession():
    """Concept drift that comes with a population shift: in a downturn the default relation
    changes (invisible to CBPE) AND applicants' credit scores fall (which moves the model's
    scores into the uncertain region, which CBPE sees)."""
    from retrainer.simulate import DriftSpec, Scenario

    return Scenario(
        "recession",
        "downturn concept plus a subprime population from day 60",
        days=75,
        drifts=(
            DriftSpec(
                id="downturn", kind="concept", pattern="sudden", start=60, concept="downturn"
            ),
            DriftSpec(
                id="subprime",
                kind="covariate",
                pattern="sudden",
                start=60,
                columns=("credit_score",),
                magnitude=-1.2,
            ),
        ),
    )


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


@pytest.fixture(scope="module")
def concept_project(prefect_api, tmp_path_factory) -> Path:
    return _trained_project(tmp_path_factory.mktemp("concept"), "concept_sudden", 400)


@pytest.fixture(scope="module")
def recession_project(prefect_api, tmp_path_factory) -> Path:
    return _trained_project(tmp_path_factory.mktemp("recession"), _recession(), 400)


@pytest.fixture(scope="module")
def segment_project(prefect_api, tmp_path_factory) -> Path:
    return _trained_project(tmp_path_factory.mktemp("segment"), "segment_concept", 1000)


def test_concept_drift_shows_in_realised_performance_once_labels_land(concept_project):
    from retrainer.flows.monitor import monitor_performance

    # given labels known up to day 67: the window's days 60..67 are labelled and drifted
    result = monitor_performance(
        config=str(concept_project), window=f"{DRIFT_START}:2026-03-16", as_of="2026-03-16"
    )

    # then the realised AUC breaches, overall, and the event says so
    assert result["verdict"] == "degraded"
    assert result["event"] == "retrainer.performance.degraded"
    overall = [
        b for b in result["breaches"] if b["scope"] == "overall" and b["basis"] == "realised"
    ]
    assert "roc_auc" in {b["metric"] for b in overall}
    # and the part of the window still unlabelled is reported (days 68..74)
    shares = {d["date"]: d["labelled_share"] for d in result["daily"]}
    assert shares["2026-03-09"] == 1.0
    assert shares["2026-03-10"] == 0.0
    assert 0.5 < result["labelled_share"] < 0.6


def test_pure_concept_drift_is_not_visible_before_labels_land(concept_project):
    from retrainer.flows.monitor import monitor_performance

    # given as of day 65: the drifted days 60..65 have no labels yet
    result = monitor_performance(config=str(concept_project), days=14, as_of="2026-03-07")

    # then realised metrics (pre-drift labels) are fine and so is the CBPE estimate: the
    # score distribution did not move, so confidence-based estimation cannot see this drift
    checks = {(c["metric"], c["basis"], c["scope"]): c for c in result["checks"]}
    assert checks[("roc_auc", "realised", "overall")]["verdict"] == "ok"
    assert checks[("roc_auc", "estimated", "overall")]["verdict"] == "ok"
    # but once labels land, realised AUC falls far below what CBPE expected on those rows
    later = monitor_performance(
        config=str(concept_project), window=f"{DRIFT_START}:2026-03-16", as_of="2026-03-16"
    )
    assert later["expectation_gap"]["roc_auc"] < -0.05


def test_drift_that_moves_scores_shows_in_estimated_performance_before_labels(
    recession_project,
):
    from retrainer.flows.monitor import monitor_performance

    # given as of day 65: labels cover days 52..58 (before the drift), days 59..65 are
    # unlabelled and six of them drifted
    result = monitor_performance(config=str(recession_project), days=14, as_of="2026-03-07")

    # then realised performance is still fine but the estimate breaches, before any label
    checks = {(c["metric"], c["basis"], c["scope"]): c for c in result["checks"]}
    assert checks[("roc_auc", "realised", "overall")]["verdict"] == "ok"
    estimated = [b for b in result["breaches"] if b["basis"] == "estimated"]
    assert {b["metric"] for b in estimated} & {"accuracy", "log_loss"}
    assert result["verdict"] == "degraded"
    assert result["estimation"]["available"]
    assert result["estimation"]["reference_source"].startswith("champion holdout")
    # and per day the estimate drops on the drift's first day
    daily = {d["date"]: d for d in result["daily"]}
    assert (
        daily["2026-03-02"]["accuracy_estimated"] < daily["2026-02-28"]["accuracy_estimated"] - 0.05
    )
    assert daily["2026-03-02"]["labelled_share"] == 0.0


def test_segment_degradation_is_caught_and_named(segment_project):
    from retrainer.flows.monitor import monitor_performance
    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow

    # given concept drift only in region south (10 % of loans), labels up to day 67
    html = segment_project.parent / "out" / "report.html"
    result = monitor_performance(
        config=str(segment_project),
        window=f"{DRIFT_START}:2026-03-16",
        as_of="2026-03-16",
        html=str(html),
    )

    # then the overall AUC stays within its threshold, the south segment breaches, and the
    # event names the segment
    checks = {(c["metric"], c["basis"], c["scope"]): c for c in result["checks"]}
    assert checks[("roc_auc", "realised", "overall")]["verdict"] in ("ok", "warning")
    south = checks[("roc_auc", "realised", "region=south")]
    assert south["verdict"] == "degraded"
    assert result["event"] == "retrainer.performance.degraded"
    assert result["event_id"]  # the Prefect API accepted the event
    assert "region=south" in {b["scope"] for b in result["breaches"]}
    assert not [
        b
        for b in result["breaches"]
        if b["scope"].startswith("region=") and b["scope"] != "region=south"
    ]

    # and the HTML report, the JSON report and the MLflow run exist
    assert html.read_text().count("<img") >= 3
    assert json.loads(Path(result["json_report"]).read_text())["verdict"] == "degraded"
    import mlflow

    configure_mlflow(Project.load(segment_project))
    run = mlflow.MlflowClient().get_run(result["run_id"])
    assert run.data.tags["retrainer.kind"] == "monitoring"
    assert run.data.metrics["realised.roc_auc.region.south"] == pytest.approx(south["value"])
    assert "daily.roc_auc.realised" in run.data.metrics
