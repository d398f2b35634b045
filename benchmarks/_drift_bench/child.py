"""Entry point of one measured run, in a fresh process: ``python -m _drift_bench.child RUNNER ...``.

Phases (each timed): import the library, read the inputs, warm up on a small slice, then the
measured call (wall, process CPU, RSS before, peak during the call). The result is written as
JSON to ``--out`` (stdout is left to the libraries, which print banners and warnings).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

from _drift_bench.measure import Stopwatch, max_rss_mib, measure_call, rss_mib
from _drift_bench.runners import RUNNERS, ChildArgs, make_runner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runner", choices=sorted(RUNNERS))
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--current", type=Path)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--stream", type=Path)
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--warmup-rows", type=int, default=2_000)
    return parser.parse_args(argv)


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Run one runner through its phases and collect the figures."""
    args = ChildArgs(
        reference=options.reference,
        current=options.current,
        profile=options.profile,
        stream=options.stream,
        batch_rows=options.batch_rows,
        warmup_rows=options.warmup_rows,
    )
    runner = make_runner(options.runner, args)
    with Stopwatch() as imports:
        runner.import_libraries()
    rss_after_import = rss_mib()
    with Stopwatch() as read:
        runner.load_inputs()
    with Stopwatch() as warmup:
        runner.warm_up()
    result, figures = measure_call(runner.compute)
    flagged = runner.flagged_columns(result)
    return {
        "runner": options.runner,
        "ok": True,
        "python": platform.python_version(),
        "versions": runner.versions(),
        "import_s": imports.seconds,
        "read_s": read.seconds,
        "warmup_s": warmup.seconds,
        **figures,
        "rss_after_import_mib": rss_after_import,
        "max_rss_mib": max_rss_mib(),
        "flagged": flagged,
        "extra": runner.extra(result),
    }


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        payload = run(options)
        code = 0
    except Exception as exc:
        payload = {
            "runner": options.runner,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "max_rss_mib": max_rss_mib(),
        }
        code = 1
    options.out.write_text(json.dumps(payload, indent=1, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
