"""The scale-out path: segment drift shards and backtest window groups on a Dask cluster.

A real ``distributed.LocalCluster`` (two worker processes, started by Prefect's
``DaskTaskRunner`` from ``compute.task_runner``), a real Prefect API and a real MLflow
store; the results are compared with the same work on this machine's threads/processes.

Timeline (default start 2026-01-01): ``segment_covariate`` drops incomes in region south only
from day 60 (2026-03-02); the champion is trained as of day 50.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from support import forget_mlflow_store, read_events, write_demo_project

pytestmark = [pytest.mark.slow, pytest.mark.long]

TRAIN_AS_OF = "2026-02-20"
AFTER = "2026-03-04:2026-03-10"
DASK = {"task_runner": {"kind": "dask", "n_workers": 2, "threads_per_worker": 1}}


@pytest.fixture(scope="module")
def trained(prefect_api, tmp_path_factory) -> Path:
    from retrainer.flows.train import train
    from retrainer.simulate import simulate

    forget_mlflow_store()
    root = tmp_path_factory.mktemp("scale")
    path = write_demo_project(
        root, simulate("segment_covariate", days=72, seed=3, rows_per_day=600)
    )
    train(config=str(path), as_of=TRAIN_AS_OF)
    yield path
    forget_mlflow_store()


def _variant(path: Path, name: str, **sections) -> str:
    """A second config of the same project (same data and stores) with ``sections`` set."""
    data = yaml.safe_load(path.read_text())
    for key, value in sections.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    out = path.with_name(f"{name}.yaml")
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(out)


def _newest_run(prefect_api: str, name: str) -> tuple[list[str], list[str]]:
    """The log messages and the completed task runs' names of the newest flow run ``name``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
    return [log.message for log in logs], [t.name for t in tasks if t.state.is_completed()]


def test_drift_within_segments_finds_the_one_region_whose_incomes_dropped(trained):
    from retrainer.flows.drift import check_drift

    # given a project whose segment check looks at each region
    config = _variant(trained, "regions", drift__segments={"columns": ["region"]})

    # when the drift flow checks the week after incomes dropped in region south
    result = check_drift(config=config, current=AFTER)

    # then region south drifted on income, the other regions did not, and the window's
    # verdict says drift with income among the drifted features
    segments = {r["segment"]: r for r in result["segments"]["results"]}
    assert segments["region=south"]["status"] == "drift"
    assert "income" in segments["region=south"]["drifted_columns"]
    assert {segments[s]["status"] for s in segments if s != "region=south"} == {"ok"}
    assert result["verdict"] == "drift"
    assert "income" in result["drifted_features"]
    # and the drift event names the segment
    (event,) = read_events(result["event_id"])
    assert event.payload["segments"]["headline"].startswith("region=south: income")
    # and the HTML report maps the segments and lists the drifted one first
    page = Path(result["html_report"]).read_text()
    section = page[page.index("Drift within segments") :]
    assert 'alt="Drift within segments"' in section
    assert section.index("region=south") < section.index("region=north")


def test_segments_that_do_not_decide_are_reported_and_leave_the_verdict_alone(trained):
    from retrainer.flows.drift import check_drift

    config = _variant(
        trained, "report-only", drift__segments={"columns": ["region"], "decides": False}
    )
    overall = check_drift(config=_variant(trained, "plain"), current=AFTER)
    result = check_drift(config=config, current=AFTER)
    assert result["segments"]["drifted_segments"][0]["segment"] == "region=south"
    assert result["verdict"] == overall["verdict"]
    assert result["drifted_features"] == overall["drifted_features"]


def test_segment_shards_on_a_dask_cluster_give_the_threads_answer(trained, prefect_api):
    from retrainer.flows.drift import check_drift

    # given the same segment check (region x channel, 3 segments a shard) on this machine's
    # threads and on a LocalCluster of two worker processes
    segments = {"columns": ["region", "channel"], "shard_size": 3, "min_rows": 100}
    local = _variant(trained, "seg-local", drift__segments=segments)
    dask = _variant(trained, "seg-dask", drift__segments=segments, compute=DASK)

    # when both check the same window
    here = check_drift(config=local, current=AFTER)["segments"]
    there = check_drift(config=dask, current=AFTER)["segments"]

    # then the shards ran on the cluster, and every segment's result is the same
    assert there["runner"] == "dask (LocalCluster, 2 workers)"
    assert there["shards"] == here["shards"] == -(-here["segments"] // 3) > 1
    assert there["results"] == here["results"]
    on_income = [s["segment"] for s in there["drifted_segments"] if "income" in s["columns"]]
    assert len(on_income) >= 2
    assert all(s.startswith("region=south") for s in on_income)
    # and the workers reported their task runs to this run's API (not to servers of their own)
    logs, tasks = _newest_run(prefect_api, "check-segment-drift")
    assert "dask" in " ".join(logs).lower(), logs[:20]
    shards = [t for t in tasks if t.startswith("segment-drift-shard")]
    assert len(shards) == there["shards"], tasks


def test_backtest_window_groups_on_a_dask_cluster_replay_as_they_do_here(trained):
    from retrainer.backtest import PolicySpec, load_history, run_backtest, standard_policies
    from retrainer.flows.backtest import group_runner
    from retrainer.project import Project

    # given a short replay of the standard policies, with two training windows (two groups)
    config = _variant(
        trained,
        "backtest",
        backtest={"metric": "accuracy"},
        compute=DASK,
        monitoring={"metrics": ["accuracy", "roc_auc"]},
    )
    project = Project.load(config)
    history = load_history(project, unvalidated="allow")
    window = project.config.training.window
    specs = standard_policies(project.config.policy, window)[:4]
    shorter = window.model_copy(update={"days": 14})
    specs += [PolicySpec(f"{s.name}-14d", s.policy, shorter, s.kind) for s in specs[1:3]]
    runner = group_runner(project.config.compute)
    assert runner is not None

    # when it replays two weeks on this machine, and on the cluster
    span = {"start": date(2026, 2, 21), "end": date(2026, 3, 6)}
    here = run_backtest(project.config, history, specs, **span, n_jobs=1)
    there = run_backtest(project.config, history, specs, **span, runner=runner)

    # then the cluster replayed every group, and each policy decided and scored the same
    assert there.ran_on == "dask (LocalCluster, 2 workers)"
    assert (there.fits_requested, there.fits_run) == (here.fits_requested, here.fits_run)
    assert there.fits_run > 0
    for one, two in zip(here.runs, there.runs, strict=True):
        assert one.decisions == two.decisions, one.name
        assert one.metric == two.metric, one.name
