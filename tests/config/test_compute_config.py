"""The compute: section and drift.segments: what a user writes, what it means, what fails."""

from __future__ import annotations

import sys

import pytest
import yaml

from retrainer.config import ConfigError, parse_config
from retrainer.config.starter import STARTER_CONFIG


def _with(**sections) -> dict:
    data = yaml.safe_load(STARTER_CONFIG)
    data.update(sections)
    return data


def test_a_runner_without_a_kind_is_the_local_one():
    config = parse_config(_with(compute={"task_runner": {"max_workers": 3}}))
    assert (config.compute.task_runner.kind, config.compute.task_runner.max_workers) == ("local", 3)


def test_a_dask_runner_loads_where_prefect_dask_is_missing_and_fails_where_it_is_built(
    monkeypatch,
):
    from retrainer.tasks.compute import ComputeSetupError, task_runner

    # given a machine without prefect-dask (the import is made to fail)
    monkeypatch.setitem(sys.modules, "prefect_dask", None)
    config = parse_config(_with(compute={"task_runner": {"kind": "dask", "n_workers": 3}}))

    # then the config loads (a gateway reading it needs no Dask), and building the runner
    # names the package to install
    assert config.compute.task_runner.n_workers == 3
    with pytest.raises(ComputeSetupError, match=r"pip install 'retrainer\[dask\]'"):
        task_runner(config.compute)


def test_the_local_runner_is_bounded_by_the_cpus():
    import os

    from retrainer.tasks.compute import task_runner

    runner = task_runner(parse_config(_with()).compute)
    assert runner._max_workers == len(os.sched_getaffinity(0))


def test_a_segment_column_that_is_not_in_the_features_table_is_named():
    with pytest.raises(ConfigError) as info:
        parse_config(_with(drift={"segments": {"columns": ["region", "shoe_size"]}}))
    assert "drift.segments.columns: ['shoe_size'] are not columns" in " ".join(info.value.lines())


def test_an_unknown_runner_kind_is_refused_naming_the_choices():
    with pytest.raises(ConfigError) as info:
        parse_config(_with(compute={"task_runner": {"kind": "ray"}}))
    text = " ".join(info.value.lines())
    assert "compute.task_runner" in text
    assert "'local', 'dask'" in text


def test_a_local_clusters_workers_get_this_processes_prefect_api(monkeypatch, prefect_api):
    import os

    from retrainer.tasks.compute import this_api_url, workers_on_this_api

    # given a process whose Prefect API comes from its settings, not its environment (the
    # embedded default, a test harness): a LocalCluster's workers would start servers of their own
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    dask = parse_config(_with(compute={"task_runner": {"kind": "dask"}})).compute
    remote = parse_config(_with(compute={"task_runner": {"kind": "dask", "address": "tcp://x:1"}}))

    # when a LocalCluster starts inside the block, then its environment names this API
    with workers_on_this_api(dask):
        assert os.environ["PREFECT_API_URL"] == this_api_url() == prefect_api
    assert "PREFECT_API_URL" not in os.environ
    # and a remote cluster's workers keep their own
    with workers_on_this_api(remote.compute):
        assert "PREFECT_API_URL" not in os.environ
