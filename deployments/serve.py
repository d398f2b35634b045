"""Serve Retrainer's deployments locally, in one process, without a work pool.

    cd /path/to/project && python deployments/serve.py [NAME ...]

Builds the deployments of ``prefect.yaml`` (schedules, event triggers and concurrency
limits included) and serves them with ``prefect.serve``: the lowest-latency way to run the
continuous-training loop on one machine. Needs a Prefect API that outlives the process
(``prefect server start`` and ``PREFECT_API_URL``, or Prefect Cloud); runs start in this
working directory, where ``retrainer.yaml`` is.
"""

from __future__ import annotations

import sys

from retrainer.deployments import runner_deployments


def main(argv: list[str] | None = None) -> None:
    """Serve the named deployments (default: all)."""
    from prefect import serve

    names = list(argv if argv is not None else sys.argv[1:]) or None
    serve(*runner_deployments(names=names))


if __name__ == "__main__":
    main()
