"""The policies a backtest replays: the standard set, a ``--policies`` file, and sweep variants.

Each :class:`PolicySpec` is a ``policy:`` section (the same model the live flow reads) plus the
training window its retrains use. The standard set covers what practice compares: never
retraining, fixed cadences, drift-, performance- and hybrid-triggered policies, the configured
policy (``current``) and, when the ground truth is known, an ``oracle`` that retrains right
after each change of the data-generating process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from retrainer.config.base import StrictModel
from retrainer.config.policy import (
    DriftTrigger,
    OnDemandTrigger,
    PerformanceTrigger,
    PolicySection,
    ScheduleTrigger,
)
from retrainer.config.training import FixedWindow, WindowStrategy

CADENCES = {"daily": "0 0 * * *", "weekly": "0 0 * * 0", "monthly": "0 0 1 * *"}
"""The fixed cadences of the standard set (cron, UTC)."""


@dataclass(frozen=True)
class PolicySpec:
    """One policy of a backtest.

    Attributes:
        name: How tables and plots name it.
        policy: The ``policy:`` section it runs (through :func:`retrainer.policy.decide`).
        window: The training window of its retrains.
        kind: ``never``, ``cadence``, ``drift``, ``performance``, ``hybrid``, ``current``,
            ``oracle`` or ``custom``.
        description: One line for the report.
    """

    name: str
    policy: PolicySection
    window: Any
    kind: str = "custom"
    description: str = ""

    @property
    def oracle(self) -> bool:
        """Whether the policy is told the ground truth's change points."""
        return self.kind == "oracle"

    def window_key(self) -> str:
        """The window as canonical JSON (policies on one window share their fits)."""
        return json.dumps(self.window.model_dump(mode="json"), sort_keys=True)

    def window_text(self) -> str:
        """The window in words (``fixed 60d`` ...)."""
        days = getattr(self.window, "days", None)
        return f"{self.window.kind} {days}d" if days else self.window.kind

    def snippet(self, default_window: Any) -> str:
        """The policy as a ready ``policy:`` block for ``retrainer.yaml`` (and its window)."""
        body: dict[str, Any] = {"policy": policy_document(self.policy)}
        if self.window != default_window:
            body["training"] = {"window": self.window.model_dump(mode="json", exclude_none=True)}
        return yaml.safe_dump(body, sort_keys=False)


def _trigger_document(trigger: Any) -> dict[str, Any]:
    values = trigger.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    values.pop("kind", None)
    if trigger.kind == "hybrid":
        values["triggers"] = [_trigger_document(t) for t in trigger.triggers]
    return {"kind": trigger.kind, **values}


def policy_document(policy: PolicySection) -> dict[str, Any]:
    """The policy as ``retrainer.yaml`` would hold it: defaults left out, every ``kind`` kept."""
    values = policy.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    values["triggers"] = [_trigger_document(t) for t in policy.triggers]
    return values


def _guards(base: PolicySection, **changes: Any) -> dict[str, Any]:
    """The configured guards (labels, daily cap) with ``changes``."""
    values = {"labels": base.labels, "max_per_day": base.max_per_day}
    values.update(changes)
    return values


def cadence(cron: str, base: PolicySection) -> PolicySection:
    """A fixed-cadence policy (no cooldown: the cron is the cadence)."""
    return PolicySection(triggers=[ScheduleTrigger(cron=cron)], **_guards(base, cooldown_hours=0))


def standard_policies(
    policy: PolicySection, window: Any, *, oracle: bool = False
) -> list[PolicySpec]:
    """The standard set, every policy on the configured training window.

    Args:
        policy: The configured ``policy:`` section (``current``; its guards are reused).
        window: The configured ``training.window``.
        oracle: Add the oracle (the ground truth is known).
    """
    specs = [
        PolicySpec(
            "never",
            PolicySection(triggers=[], **_guards(policy, cooldown_hours=0)),
            window,
            "never",
            "the first model serves throughout",
        )
    ]
    for name, cron in CADENCES.items():
        specs.append(PolicySpec(name, cadence(cron, policy), window, "cadence", f"cron {cron}"))
    specs += [
        PolicySpec(
            "drift",
            PolicySection(
                triggers=[DriftTrigger(consecutive=2)], **_guards(policy, cooldown_hours=72)
            ),
            window,
            "drift",
            "drift in 2 checks in a row; cooldown 3 days",
        ),
        PolicySpec(
            "performance-realised",
            PolicySection(
                triggers=[PerformanceTrigger(max_drop=0.02, basis="realised", scope="overall")],
                **_guards(policy, cooldown_hours=72),
            ),
            window,
            "performance",
            "realised metric (overall) 0.02 below the champion's; cooldown 3 days",
        ),
        PolicySpec(
            "performance-estimated",
            PolicySection(
                triggers=[PerformanceTrigger(max_drop=0.02, basis="estimated", scope="overall")],
                **_guards(policy, cooldown_hours=72),
            ),
            window,
            "performance",
            "estimated metric (overall, before labels land) 0.02 below the champion's; "
            "cooldown 3 days",
        ),
        PolicySpec(
            "hybrid",
            PolicySection(
                triggers=[
                    ScheduleTrigger(cron=CADENCES["monthly"]),
                    DriftTrigger(consecutive=2),
                    PerformanceTrigger(max_drop=0.02, scope="overall"),
                ],
                require_degradation=True,
                **_guards(policy, cooldown_hours=72),
            ),
            window,
            "hybrid",
            "monthly baseline, drift or performance safety nets, require_degradation; "
            "cooldown 3 days",
        ),
        PolicySpec("current", policy, window, "current", "the policy: section of retrainer.yaml"),
    ]
    if oracle:
        specs.append(
            PolicySpec(
                "oracle",
                PolicySection(triggers=[OnDemandTrigger()], **_guards(policy, cooldown_hours=0)),
                window,
                "oracle",
                "retrains right after each ground-truth change, once its labels are in",
            )
        )
    return specs


class _FileEntry(StrictModel):
    name: str = Field(description="Name in the tables.")
    description: str = Field(default="", description="One line for the report.")
    policy: PolicySection = Field(description="The policy, as in retrainer.yaml.")
    window: WindowStrategy | None = Field(
        default=None, description="Training window (default: training.window)."
    )


class PoliciesFile(StrictModel):
    """A ``--policies`` file: the policies to compare, each a ``policy:`` section."""

    policies: list[_FileEntry] = Field(min_length=1, description="The policies.")


class PoliciesFileError(ValueError):
    """A ``--policies`` file that cannot be read; the message names the file and field."""


def load_policies_file(path: str | Path, window: Any) -> list[PolicySpec]:
    """The policies of a YAML file (``policies: [{name, policy, window?}, ...]``).

    Raises:
        PoliciesFileError: The file is missing, not YAML, or a policy is invalid (the
            message names the field).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PoliciesFileError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PoliciesFileError(f"{path}: not YAML: {exc}") from None
    try:
        parsed = TypeAdapter(PoliciesFile).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PoliciesFileError(f"{path}: {where}: {first['msg']}") from None
    names = [p.name for p in parsed.policies]
    if len(set(names)) != len(names):
        raise PoliciesFileError(f"{path}: policy names must be unique")
    return [
        PolicySpec(p.name, p.policy, p.window or window, "custom", p.description)
        for p in parsed.policies
    ]


def sweep_variants(policy: PolicySection, sweep: Any) -> list[PolicySpec]:
    """The grid of ``backtest.sweep``: cadences, drift, performance and hybrid variants.

    Every variant exists once per window length; triggered variants once per cooldown.
    """
    specs: list[PolicySpec] = []
    for days in sweep.window_days:
        window = FixedWindow(days=days)
        tag = f"w{days}"
        for cron in sweep.cadences:
            name = next((n for n, c in CADENCES.items() if c == cron), cron.replace(" ", "_"))
            specs.append(
                PolicySpec(f"{name}/{tag}", cadence(cron, policy), window, "cadence", cron)
            )
        for hours in sweep.cooldown_hours:
            guards = _guards(policy, cooldown_hours=hours)
            cd = f"cd{hours:g}h"
            for n in sweep.drift_consecutive:
                specs.append(
                    PolicySpec(
                        f"drift-x{n}/{cd}/{tag}",
                        PolicySection(triggers=[DriftTrigger(consecutive=n)], **guards),
                        window,
                        "drift",
                        f"drift in {n} check(s) in a row",
                    )
                )
            for drop in sweep.performance_drops:
                specs.append(
                    PolicySpec(
                        f"perf-{drop:g}/{cd}/{tag}",
                        PolicySection(
                            triggers=[PerformanceTrigger(max_drop=drop, scope="overall")], **guards
                        ),
                        window,
                        "performance",
                        f"metric {drop:g} below the champion's (realised or estimated)",
                    )
                )
                specs.append(
                    PolicySpec(
                        f"hybrid-{drop:g}/{cd}/{tag}",
                        PolicySection(
                            triggers=[
                                DriftTrigger(consecutive=2),
                                PerformanceTrigger(max_drop=drop, scope="overall"),
                            ],
                            require_degradation=True,
                            **guards,
                        ),
                        window,
                        "hybrid",
                        f"drift (2 in a row) or a {drop:g} drop; require_degradation",
                    )
                )
    return specs
