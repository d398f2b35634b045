"""``retrainer rollout``: the staged rollout of ``promotion.stages`` (status, start, pause ...).

Every change is a compare-and-set on the operational store
(:mod:`retrainer.promotion.rollouts`); the end of a rollout goes through the single promotion
path. Exit codes: 0 done, 1 another writer changed the rollout first (run again), 2 a usage
problem (no stages, no rollout, a change that does not apply to its status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
    who,
)
from retrainer.cli.promotion_cmd import ByOption
from retrainer.cli.promotion_cmd import _errors as promotion_errors
from retrainer.cli.promotion_cmd import _finding as finding

if TYPE_CHECKING:
    from retrainer.project import Project
    from retrainer.promotion import ModelTarget
    from retrainer.rollout import RolloutState

rollout_app = typer.Typer(name="rollout", help="The staged rollout of promotion.stages.")


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """The promotion commands' errors, plus two of the rollout's.

    Another writer first exits 1; a change that does not apply (no rollout, wrong status)
    exits 2.
    """
    from retrainer.promotion.rollouts import RolloutConflict

    try:
        with promotion_errors(as_json):
            yield
    except RolloutConflict as exc:
        finding(str(exc), as_json)
    except (LookupError, ValueError) as exc:
        fail_usage(" ".join(str(exc).split())[:500], as_json=as_json)


def _open(config: ConfigOption, as_json: bool) -> tuple[Project, ModelTarget]:
    project = load_project(config, as_json=as_json)
    from retrainer.promotion import ModelTarget
    from retrainer.registry.tracking import configure_mlflow

    with _errors(as_json):
        configure_mlflow(project)
        return project, ModelTarget.for_project(project)


def _describe(project: Project, state: RolloutState | None) -> dict[str, Any]:
    from retrainer.rollout import stage_name, traffic

    stages = project.config.promotion.stages
    if state is None:
        return {"model": project.model_name, "rollout": None, "stages": len(stages)}
    share = traffic(stages, state)
    return {
        "model": project.model_name,
        "rollout": state.to_dict(),
        "stage": stage_name(stages, state),
        "traffic": {
            "champion": share.champion,
            "challenger": share.challenger,
            "shadow_fraction": share.shadow_fraction,
        },
    }


def _print_state(project: Project, state: RolloutState | None, as_json: bool, **extra: Any) -> None:
    document = {"ok": True, **_describe(project, state), **extra}
    if as_json:
        print_json(document)
        return
    out = out_console(False)
    if state is None:
        out.print(f"{project.model_name}: no rollout", markup=False)
        return
    t = document["traffic"]
    share = (
        f"shadow {t['shadow_fraction']:.0%} of requests"
        if t["shadow_fraction"]
        else f"{t['challenger']}% to the challenger"
    )
    out.print(
        f"{project.model_name}: v{state.challenger} against v{state.champion or '-'}, "
        f"{state.status}, {document['stage']} ({share}), revision {state.revision}\n"
        f"  {state.reason}",
        markup=False,
    )
    for line in extra.get("settled", []):
        out.print(f"  {line}", markup=False)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show the rollout in force: challenger, stage, traffic and the last reason."""
    project, target = _open(config, as_json)
    with _errors(as_json):
        state = target.store.rollouts.get(target.name)
    _print_state(project, state, as_json)


def start(
    version: Annotated[str, typer.Argument(help="The challenger to roll out.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a rollout of VERSION (a running rollout of another version restarts with it)."""
    project, target = _open(config, as_json)
    if not project.config.promotion.stages:
        fail_usage("promotion.stages is empty: set the rollout stages first", as_json=as_json)
    from retrainer.tasks.promotion import start_rollout

    with _errors(as_json):
        target.registry.get_version(version)
        result = start_rollout(project, version)
    _print_state(project, result.state, as_json, action=result.action)


def _by_hand(
    config: ConfigOption, as_json: JsonOption, change: Callable[[RolloutState], Any]
) -> None:
    project, target = _open(config, as_json)
    from retrainer.promotion.rollouts import transition_by_hand
    from retrainer.tasks.promotion import rollout_emitter

    with _errors(as_json):
        result = transition_by_hand(target, change, rollout_emitter(project.model_name))
    _print_state(project, result.state, as_json, action=result.action, settled=result.settled)


def pause(config: ConfigOption = None, by: ByOption = None, as_json: JsonOption = False) -> None:
    """Pause the running rollout: the traffic split holds until resume or abort."""
    from retrainer.rollout import pause as pause_state

    _by_hand(config, as_json, lambda s: pause_state(s, who(by)))


def resume(config: ConfigOption = None, by: ByOption = None, as_json: JsonOption = False) -> None:
    """Resume a paused rollout: its current step collects fresh evidence."""
    from retrainer.rollout import resume as resume_state

    _by_hand(config, as_json, lambda s: resume_state(s, datetime.now(UTC), who(by)))


def abort(
    config: ConfigOption = None,
    by: ByOption = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "aborted by hand",
    as_json: JsonOption = False,
) -> None:
    """Abort the rollout: all traffic to the champion, which stays; recorded in the ledger."""
    from retrainer.rollout import abort as abort_state

    _by_hand(config, as_json, lambda s: abort_state(s, f"{reason} ({who(by)})"))


def promote(config: ConfigOption = None, by: ByOption = None, as_json: JsonOption = False) -> None:
    """Promote the challenger now, skipping the remaining stages (through the one path)."""
    from retrainer.rollout import promote_now

    _by_hand(config, as_json, lambda s: promote_now(s, who(by)))


def reconcile(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Advance the rollout one step now, as the reconcile-rollout deployment does."""
    project, target = _open(config, as_json)
    from retrainer.promotion.rollouts import tick
    from retrainer.tasks.promotion import rollout_emitter

    with _errors(as_json):
        result = tick(
            target,
            project.config.promotion.stages,
            now=datetime.now(UTC),
            emit=rollout_emitter(project.model_name),
        )
    summary = result.to_dict()
    _print_state(
        project,
        result.state,
        as_json,
        action=result.action,
        settled=result.settled,
        evidence=summary["evidence"],
    )


def report(
    config: ConfigOption = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also copy the HTML report to FILE.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the side-by-side report of the rollout (HTML and PNG), logged to MLflow."""
    import shutil

    project, _ = _open(config, as_json)
    from retrainer.tasks.promotion import write_rollout_report

    with _errors(as_json):
        written = write_rollout_report(project)
    if written is None:
        fail_usage(f"{project.model_name} has no rollout to report on", as_json=as_json)
    if html is not None:
        shutil.copyfile(written["html"], html)
        written["copied_to"] = str(html)
    if as_json:
        print_json({"ok": True, **written})
        return
    out_console(False).print(
        f"rollout report: {written['html']} (figure {written['png']}; MLflow run "
        f"{written['mlflow_run_id']})",
        markup=False,
    )


def history(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="Transitions to show, newest first.", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show the rollout's transitions, newest first, with the analysis of each."""
    _, target = _open(config, as_json)
    with _errors(as_json):
        rows = target.store.rollouts.history(target.name, limit)
    if as_json:
        print_json({"ok": True, "model": target.name, "transitions": rows})
        return
    out = out_console(False)
    if not rows:
        out.print(f"{target.name}: no rollout transitions", markup=False)
    for row in rows:
        at = row["at"].isoformat(timespec="seconds")
        version = row["state"]["challenger"]
        out.print(
            f"{at}  #{row['revision']} {row['action']:8} v{version}: {row['reason']}", markup=False
        )


def register(app: typer.Typer) -> None:
    """Add the ``rollout`` group to the main app."""
    for name, command in [
        ("status", status),
        ("start", start),
        ("pause", pause),
        ("resume", resume),
        ("promote", promote),
        ("abort", abort),
        ("history", history),
        ("report", report),
        ("reconcile", reconcile),
    ]:
        rollout_app.command(name)(command)
    app.add_typer(rollout_app, name="rollout")
