"""``retrainer trigger REASON`` (on demand, through the policy) and ``retrainer policy explain``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
    who,
)

CT_DEPLOYMENT = "continuous-training/continuous-training"

policy_app = typer.Typer(
    help="The retraining policy: what it decided and why.", no_args_is_help=True
)


def _deployment_exists(name: str) -> bool:
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def _submit(name: str, parameters: dict[str, Any]) -> Any:
    from prefect.deployments import run_deployment

    return run_deployment(name, parameters=parameters, timeout=0, tags=["on-demand"])


def _print_decision(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    say = out_console(False)
    decision = result["decision"]
    say.print(f"decision #{result['decision_id']}: {decision['detail']}", markup=False)
    retrain = result.get("retrain")
    if retrain:
        say.print(
            f"v{retrain['version']}: gate {retrain['gate']}, "
            f"{'promoted to champion' if retrain['promoted'] else 'not promoted'}",
            markup=False,
        )


def trigger(
    reason: Annotated[str, typer.Argument(help="Why you ask for a retrain (recorded).")],
    config: ConfigOption = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who asks (default: your login name).")
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Run the continuous-training flow here, not on a worker."),
    ] = False,
    deployment: Annotated[
        str, typer.Option(help="The continuous-training deployment (flow/deployment).")
    ] = CT_DEPLOYMENT,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Data known on this date (YYYY-MM-DD).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Ask for a retrain now, through the same policy as every other trigger.

    The request is an ``on_demand`` trigger: the policy needs one in ``policy.triggers``;
    with ``bypass_cooldown`` (the default) the cooldown and daily cap do not hold it back,
    the label guard still does. With a shared Prefect API (``PREFECT_API_URL``) and the
    deployment applied, a run is created for a worker; otherwise (or ``--local``) the flow
    runs here and prints the decision.
    """
    project = load_project(config, as_json=as_json)
    if not any(t.kind == "on_demand" for t in project.config.policy.triggers):
        fail_usage(
            "policy.triggers has no on_demand trigger, so the policy would not act on a "
            "request: add `- kind: on_demand` to policy.triggers (or run `retrainer train`, "
            "which bypasses the policy)",
            as_json=as_json,
        )
    parameters = {
        "config": str(project.config_path),
        "reason": "on_demand",
        "detail": reason,
        "requested_by": who(by),
        "as_of": as_of,
    }
    from retrainer.tasks.events import prefect_api_is_shared

    if not local and prefect_api_is_shared() and _deployment_exists(deployment):
        parameters["config"] = project.config_path.name  # runs start in the project folder
        run = _submit(deployment, parameters)
        if as_json:
            print_json({"ok": True, "flow_run_id": str(run.id), "deployment": deployment})
        else:
            out_console(False).print(
                f"requested: flow run {run.name} ({run.id}) of {deployment}; "
                "`retrainer policy explain` shows its decision",
                markup=False,
            )
        raise typer.Exit(ExitCode.OK)
    from retrainer.flows.continuous_training import continuous_training

    _print_decision(continuous_training(**parameters), as_json)
    raise typer.Exit(ExitCode.OK)


def _state_lines(policy: Any, state: Any) -> list[str]:
    lines = []
    if state.last_retrain is not None:
        ready = state.last_retrain + timedelta(hours=policy.cooldown_hours)
        lines.append(
            f"last retrain {state.last_retrain:%Y-%m-%d %H:%M} UTC; cooldown "
            f"{policy.cooldown_hours:g} h (until {ready:%Y-%m-%d %H:%M} UTC)"
        )
    else:
        lines.append("no retrain decided yet")
    breaching = {k: v for k, v in state.consecutive.items() if v}
    if breaching:
        lines.append("breaching in a row: " + ", ".join(f"{k} {v}" for k, v in breaching.items()))
    return lines


@policy_app.command("explain")
def explain(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N decisions.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """The policy, what it remembers, and its last decisions with their reasons."""
    project = load_project(config, as_json=as_json)
    from retrainer.policy import PolicyState, trigger_names
    from retrainer.store import StoreError, open_store

    policy = project.config.policy
    try:
        store = open_store(project)
        state = PolicyState.from_dict(store.policy_states.get(project.model_name))
        records = store.decisions.latest(project.model_name, limit)
    except StoreError as exc:
        fail_usage(str(exc), as_json=as_json)
    names = trigger_names(policy.triggers)
    if as_json:
        print_json(
            {
                "ok": True,
                "model": project.model_name,
                "triggers": names,
                "mode": policy.mode,
                "state": state.to_dict(),
                "decisions": [r.to_dict() for r in records],
            }
        )
        raise typer.Exit(ExitCode.OK)
    say = out_console(False)
    say.print(
        f"{project.model_name}: policy {policy.mode} of {', '.join(names)}; cooldown "
        f"{policy.cooldown_hours:g} h"
        + (f", at most {policy.max_per_day} a day" if policy.max_per_day else "")
        + (", require_degradation" if policy.require_degradation else ""),
        markup=False,
    )
    for line in _state_lines(policy, state):
        say.print(line, markup=False)
    if not records:
        say.print("no decision recorded yet", markup=False)
    for r in records:
        outcome = f" -> v{r.version} {r.outcome}" if r.outcome else ""
        say.print(
            f"#{r.id} {r.at:%Y-%m-%d %H:%M} {r.reason:<11} {r.status:<18} {r.detail}{outcome}",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.command("trigger")(trigger)
    app.add_typer(policy_app, name="policy")
