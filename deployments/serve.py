"""Serve Retrainer's deployments locally, in one process, without a work pool.

    cd /path/to/project && python deployments/serve.py [NAME ...]

Builds the deployments of ``prefect.yaml`` (the continuous-training loop with its nightly
schedule and event triggers, the standalone flows, concurrency limits included) and serves
them with ``prefect.serve``: the lowest-latency way to run the loop on one machine
(``PREFECT_RUNNER_POLL_FREQUENCY=1`` polls every second; ``make bench-triggers`` measures it).
Creates the ``retrainer-train`` global concurrency limit (one training at a time) if missing.
Needs a Prefect API that outlives the process (``prefect server start`` and
``PREFECT_API_URL``, or Prefect Cloud); runs start in this working directory, where
``retrainer.yaml`` is. A key of ``prefect.yaml`` Prefect would ignore stops it (exit 2).
"""

from __future__ import annotations

import sys

from retrainer.deployments import DeploymentSpecError, runner_deployments
from retrainer.deployments.definitions import ensure_train_limit


def main(argv: list[str] | None = None) -> int:
    """Serve the named deployments (default: all)."""
    from prefect import serve
    from prefect.client.orchestration import get_client

    names = list(argv if argv is not None else sys.argv[1:]) or None
    try:
        deployments = runner_deployments(names=names)
    except DeploymentSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with get_client(sync_client=True) as client:
        ensure_train_limit(client)
    serve(*deployments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
