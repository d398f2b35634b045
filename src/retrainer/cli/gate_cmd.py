"""``retrainer gate`` and ``retrainer approve``."""

from __future__ import annotations

from typing import Annotated

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
)


def gate(
    config: ConfigOption = None,
    version: Annotated[
        str | None,
        typer.Option(help="Version to judge (default: the challenger alias).", show_default=False),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Labels known on this date (YYYY-MM-DD).", show_default=False),
    ] = None,
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Promote on pass (default: first version yes, later ones per "
            "promotion.auto_promote).",
            show_default=False,
        ),
    ] = None,
    require_approval: Annotated[
        bool | None,
        typer.Option(
            "--require-approval/--no-approval",
            help="Override gates.human_approval.required.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the challenger with the champion on the same fresh holdout (paired tests).

    Exit 0 when the gate passed, 1 when it failed or waits for approval, 2 on a usage error.
    """
    project = load_project(config, as_json=as_json)
    from retrainer.flows.gate import evaluate_gates
    from retrainer.gates import GateSetupError

    try:
        result = evaluate_gates(
            config=str(project.config_path),
            version=version,
            as_of=as_of,
            promote=promote,
            require_approval=require_approval,
        )
    except GateSetupError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(result)
    else:
        console = out_console(False)
        console.print(
            f"{project.model_name} v{result['challenger_version']}: {result['summary']}",
            markup=False,
        )
        for check in result["checks"]:
            if check["verdict"] in ("failed", "pending", "insufficient_data", "warning"):
                console.print(
                    f"  {check['verdict']:>17}  {check['name']}: {check['message']}", markup=False
                )
        console.print(f"report: {result['report_html']}", markup=False)
        if result["status"] == "awaiting_approval":
            console.print(
                f"waiting for approval: retrainer approve {result['challenger_version']} "
                "--reviewer NAME",
                markup=False,
            )
        if result["promoted"]:
            console.print(f"promoted: {result['champion_uri']}", markup=False)
    raise typer.Exit(ExitCode.OK if result["status"] == "passed" else ExitCode.FINDING)


def approve(
    version: Annotated[str, typer.Argument(help="The version waiting for approval.")],
    reviewer: Annotated[str, typer.Option(help="Who approves (recorded).")],
    config: ConfigOption = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    comment: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Approve (or reject) a version whose gate waits for a human.

    Resumes the paused gate run when it waits on a Prefect server; otherwise (local runs on
    the ephemeral API) records the decision on the version directly.
    """
    project = load_project(config, as_json=as_json)
    from retrainer.gates.approval import ApprovalError
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.tasks.approval import approve_version

    configure_mlflow(project)
    try:
        outcome = approve_version(project, version, reviewer, not reject, comment)
    except ApprovalError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(outcome)
    else:
        out_console(False).print(outcome["message"], markup=False)
    # approved, but another version became champion since the gate: nothing was promoted
    raise typer.Exit(ExitCode.FINDING if outcome.get("promotion_conflict") else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.command("gate")(gate)
    app.command("approve")(approve)
