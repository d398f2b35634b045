"""``retrainer promote``, ``retrainer rollback`` and ``retrainer history``.

All three go through :mod:`retrainer.promotion`: the operational store holds the champion
(compare-and-set) and the ledger, the MLflow aliases follow it. Each first reconciles the
aliases with the store (e.g. after a crash between the two writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    err_console,
    error_document,
    fail_usage,
    load_project,
    out_console,
    print_json,
    who,
)

if TYPE_CHECKING:
    from retrainer.promotion import ModelTarget, PromotionRecord

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the ledger).")]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", help="Who (kept in the ledger; default: your login name).", show_default=False
    ),
]


def _finding(message: str, as_json: bool, **details: Any) -> NoReturn:
    """Exit 1 with one line on stderr (and the error document under --json)."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    if as_json:
        print_json({**error_document(message), **details})
    raise typer.Exit(ExitCode.FINDING)


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Conflicts exit 1; a missing version, the store or the registry failing exit 2."""
    from mlflow.exceptions import MlflowException

    from retrainer.promotion import PromotionConflict, PromotionError
    from retrainer.registry.models import RegistryError
    from retrainer.store import StoreError

    try:
        yield
    except PromotionConflict as exc:
        _finding(str(exc), as_json, expected=exc.expected, actual=exc.actual)
    except (PromotionError, RegistryError, StoreError, MlflowException) as exc:
        fail_usage(" ".join(str(exc).split())[:500], as_json=as_json)


def _open(config: ConfigOption, as_json: bool) -> ModelTarget:
    project = load_project(config, as_json=as_json)
    from retrainer.promotion import ModelTarget
    from retrainer.registry.tracking import configure_mlflow

    with _errors(as_json):
        configure_mlflow(project)
        return ModelTarget.for_project(project)


def _gate_evidence(target: ModelTarget, version: str, force: bool, as_json: bool) -> dict:
    """The version's gate verdict as ledger evidence; exit 1 unless it passed (or --force)."""
    from retrainer.registry.models import TAG_PREFIX

    tags = dict(target.registry.get_version(version).tags or {})
    verdict = tags.get(f"{TAG_PREFIX}gate")
    if verdict != "passed" and not force:
        _finding(
            f"{target.name} v{version}: its gate is {verdict or 'not run'} "
            f"({TAG_PREFIX}gate), not passed; run `retrainer gate --version {version}`, or "
            "promote anyway with --force (recorded in the ledger)",
            as_json,
            gate=verdict,
        )
    evidence = {
        "gate": verdict,
        "gate_summary": tags.get(f"{TAG_PREFIX}gate_summary"),
        "gate_run_id": tags.get(f"{TAG_PREFIX}gate_run_id"),
        "gate_champion": tags.get(f"{TAG_PREFIX}gate_champion"),
        "forced": force,
    }
    return {k: v for k, v in evidence.items() if v is not None}


def _report(target: ModelTarget, record: PromotionRecord, verb: str, as_json: bool) -> None:
    aliases = target.registry.aliases()
    if as_json:
        print_json({"ok": True, "record": record.to_dict(), "aliases": aliases})
        return
    was = f"v{record.from_version}" if record.from_version else "none"
    out_console(False).print(
        f"{verb} {target.name} v{record.to_version} to champion (was {was}); "
        f"previous_champion: {aliases.get('previous_champion', 'none')}; "
        f"ledger record #{record.id}",
        markup=False,
    )


def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    config: ConfigOption = None,
    reason: ReasonOption = "promoted with retrainer promote",
    force: Annotated[
        bool,
        typer.Option("--force", help="Promote although its gate did not pass (recorded)."),
    ] = False,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make VERSION the champion (its gate must have passed, unless --force).

    The champion changes only if it is still the one read when the command started: when
    another promotion wins meanwhile, nothing changes and the command exits 1 naming the
    expected and the actual champion.
    """
    target = _open(config, as_json)
    from retrainer.promotion import champion_state
    from retrainer.tasks.events import prefect_api_is_shared
    from retrainer.tasks.promotion import promote_and_announce

    with _errors(as_json):
        evidence = _gate_evidence(target, version, force, as_json)
        expected = champion_state(target).champion
        record, _ = promote_and_announce(
            target,
            version,
            expected_champion=expected,
            by=who(by),
            reason=reason
            + (" (forced: gate not passed)" if evidence.get("gate") != "passed" else ""),
            evidence=evidence,
            emit_event=prefect_api_is_shared(),
        )
    _report(target, record, "promoted", as_json)


def rollback(
    config: ConfigOption = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Version to restore (default: the previous champion).", show_default=False
        ),
    ] = None,
    reason: ReasonOption = "rolled back with retrainer rollback",
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make the previous champion (or --to VERSION) the champion again.

    Like ``promote``, a compare-and-set: when another promotion changes the champion
    meanwhile, nothing changes and the command exits 1.
    """
    target = _open(config, as_json)
    from retrainer.tasks.events import prefect_api_is_shared
    from retrainer.tasks.promotion import rollback_and_announce

    with _errors(as_json):
        record, _ = rollback_and_announce(
            target, to, by=who(by), reason=reason, emit_event=prefect_api_is_shared()
        )
    _report(target, record, "rolled back", as_json)


def _line(record: PromotionRecord) -> str:
    moved = f"{record.from_version or '-'} -> {record.to_version or '-'}"
    when = record.at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{when}  {record.action:<8}  {moved:<10}  {record.by:<12}  {record.reason}"


def history(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N records.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The promotion ledger, newest first: when, action, from -> to, by, reason."""
    target = _open(config, as_json)
    from retrainer.promotion import history as ledger_history
    from retrainer.promotion import reconcile

    with _errors(as_json):
        state = reconcile(target).state
        records = ledger_history(target, limit)
    if as_json:
        print_json(
            {
                "ok": True,
                "model": target.name,
                "champion": state.champion,
                "previous_champion": state.previous,
                "records": [r.to_dict() for r in records],
            }
        )
        return
    say = out_console(False)
    champion = f"v{state.champion}" if state.champion else "none"
    say.print(f"{target.name}: champion {champion}", markup=False)
    if not records:
        say.print("no promotion recorded yet", markup=False)
    for record in records:
        say.print(_line(record), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("history")(history)
