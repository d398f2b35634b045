"""The Prefect task runner of the ``compute:`` section (this machine or a Dask cluster)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from retrainer.config.compute import ComputeSection, DaskRunner, LocalRunner


def _local(runner: LocalRunner) -> Any:
    from prefect.task_runners import ThreadPoolTaskRunner

    # Prefect's own default is unbounded: every shard at once, each with its own buffers
    return ThreadPoolTaskRunner(max_workers=runner.max_workers or len(os.sched_getaffinity(0)))


class ComputeSetupError(RuntimeError):
    """The configured task runner cannot be built here (its package is missing)."""


def _dask(runner: DaskRunner) -> Any:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ComputeSetupError(
            "compute.task_runner kind: dask needs prefect-dask, which is not installed here: "
            "pip install 'retrainer[dask]'"
        ) from None

    if runner.address:
        return DaskTaskRunner(address=runner.address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": runner.n_workers,
            "threads_per_worker": runner.threads_per_worker,
            "memory_limit": runner.memory_limit,
            "processes": True,
            "host": "127.0.0.1",
            # a free port: the default 8787 is the webhook receiver's
            "dashboard_address": "127.0.0.1:0",
        },
    )


_RUNNERS: dict[str, Callable[[Any], Any]] = {"local": _local, "dask": _dask}


def task_runner(section: ComputeSection) -> Any:
    """A new task runner for ``section.task_runner``.

    One per flow run: a LocalCluster lives as long as the flow run that started it.

    Raises:
        ComputeSetupError: ``kind: dask`` without prefect-dask installed.
    """
    return _RUNNERS[section.task_runner.kind](section.task_runner)


def runner_label(section: ComputeSection) -> str:
    """Where the fan-out runs, for reports: ``local``, ``dask (LocalCluster, 2 workers)`` ..."""
    runner = section.task_runner
    if isinstance(runner, DaskRunner):
        where = runner.address or f"LocalCluster, {runner.n_workers} workers"
        return f"dask ({where})"
    return "local (threads)"


def this_api_url() -> str:
    """The Prefect API this process talks to: ``PREFECT_API_URL``, else the ephemeral server.

    The ephemeral server (the embedded default) is started if it is not running yet, as
    Prefect's own client does.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url


@contextmanager
def workers_on_this_api(section: ComputeSection) -> Iterator[None]:
    """Give a LocalCluster's worker processes this process's Prefect API.

    They inherit the environment when the cluster starts; without ``PREFECT_API_URL`` there
    (the embedded default, or a test harness's settings), each worker would start a
    temporary server of its own and report its task runs there. A remote cluster's workers
    (``address``) take theirs from their own environment.
    """
    runner = section.task_runner
    if not isinstance(runner, DaskRunner) or runner.address or os.environ.get("PREFECT_API_URL"):
        yield
        return
    os.environ["PREFECT_API_URL"] = this_api_url()
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
