"""Parent side: set up the peers venv, and run each runner in a fresh child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _drift_bench.runners import RUNNERS

BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
PEERS_VENV = BENCH_DIR / ".peers-venv"
PEERS_SETUP = BENCH_DIR / "peers" / "setup.sh"

# Telemetry off for every child (Evidently reads DO_NOT_TRACK, NannyML its own variable).
QUIET_ENV = {"DO_NOT_TRACK": "1", "NML_DISABLE_USAGE_LOGGING": "1"}


@dataclass
class Pythons:
    """Interpreters for the two venvs; ``peers`` is None when the peers venv is unavailable."""

    project: Path
    peers: Path | None
    notes: list[str] = field(default_factory=list)

    def for_runner(self, runner: str) -> Path | None:
        return self.project if RUNNERS[runner][2] == "project" else self.peers


def ensure_peers_venv(skip: bool) -> tuple[Path | None, str | None]:
    """Create/refresh ``benchmarks/.peers-venv`` via ``peers/setup.sh``.

    Args:
        skip: Do not touch the peers venv (peers are left out of the run).

    Returns:
        The peers interpreter (or None) and a note explaining why it is missing.
    """
    if skip:
        return None, "peers skipped (--no-peers)"
    completed = subprocess.run(
        ["bash", str(PEERS_SETUP)], check=False, env={**os.environ, **QUIET_ENV}
    )
    python = PEERS_VENV / "bin" / "python"
    if completed.returncode != 0 or not python.exists():
        return None, f"peers venv unavailable: {PEERS_SETUP} exited {completed.returncode}"
    return python, None


def ours_available(project_python: Path) -> tuple[bool, str]:
    """Whether ``retrainer.drift`` exposes the API the 'ours' runners use (checked in a child)."""
    probe = (
        "from retrainer.drift import DriftDetector, BaselineProfile\n"
        "from retrainer.config.drift import DriftSection\n"
        "for name in ('fit', 'compare', 'compare_batches', 'from_profile'):\n"
        "    assert hasattr(DriftDetector, name), f'DriftDetector.{name} is missing'\n"
        "assert hasattr(BaselineProfile, 'load'), 'BaselineProfile.load is missing'\n"
    )
    completed = subprocess.run(
        [str(project_python), "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if completed.returncode == 0:
        return True, ""
    last = (completed.stderr.strip().splitlines() or ["unknown error"])[-1]
    return False, f"retrainer.drift is not usable yet ({last})"


def run_child(
    python: Path,
    runner: str,
    *,
    log_dir: Path,
    timeout_s: float,
    reference: Path | None = None,
    current: Path | None = None,
    profile: Path | None = None,
    stream: Path | None = None,
    batch_rows: int | None = None,
) -> dict[str, Any]:
    """Run one runner in a fresh process and return its JSON figures.

    The child's stdout/stderr go to a log file under ``log_dir``; on failure the last lines are
    returned in ``error``.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".json", dir=log_dir, delete=False) as handle:
        out = Path(handle.name)
    command = [str(python), "-m", "_drift_bench.child", runner, "--out", str(out)]
    for flag, value in (
        ("--reference", reference),
        ("--current", current),
        ("--profile", profile),
        ("--stream", stream),
        ("--batch-rows", batch_rows),
    ):
        if value is not None:
            command += [flag, str(value)]
    env = {**os.environ, **QUIET_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_DIR), env.get("PYTHONPATH")) if p)
    log = log_dir / f"{runner}.log"
    started = time.perf_counter()
    with log.open("w") as log_handle:
        try:
            completed = subprocess.run(
                command,
                cwd=BENCH_DIR,
                env=env,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
            returncode: int | None = completed.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    process_s = time.perf_counter() - started
    try:
        payload = json.loads(out.read_text()) if out.stat().st_size else {}
    except (OSError, json.JSONDecodeError):
        payload = {}
    finally:
        out.unlink(missing_ok=True)
    if returncode is None:
        payload = {"ok": False, "error": f"timed out after {timeout_s:.0f} s"}
    elif not payload:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        payload = {"ok": False, "error": f"exit {returncode}: " + " | ".join(tail)}
    payload["runner"] = runner
    payload["process_s"] = process_s
    payload["log"] = str(log)
    return payload


def run_repeated(
    python: Path, runner: str, repeat: int, repeat_below_s: float, **kwargs: Any
) -> dict[str, Any]:
    """Run ``runner`` in fresh processes: once, and up to ``repeat`` times if it is fast.

    Returns:
        The run with the lowest wall time, with every run's wall and CPU in ``runs``.
    """
    runs = [run_child(python, runner, **kwargs)]
    while (
        runs[0].get("ok")
        and len(runs) < repeat
        and float(runs[0].get("wall_s", 0.0)) < repeat_below_s
    ):
        run = run_child(python, runner, **kwargs)
        if not run.get("ok"):
            break
        runs.append(run)
    ok_runs = [r for r in runs if r.get("ok")]
    best = min(ok_runs, key=lambda r: r["wall_s"]) if ok_runs else runs[0]
    best = dict(best)
    best["runs"] = [
        {"wall_s": r.get("wall_s"), "cpu_s": r.get("cpu_s"), "delta_mib": r.get("delta_mib")}
        for r in ok_runs
    ]
    return best


def progress(message: str) -> None:
    """One progress line on stderr (the figures go to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
