"""What fails most across many batches, and which config key would change it (pure).

When a suite quarantines more than a few percent of history, the cause is rarely the data: a
reference too short for a seasonal column, a category list that misses valid codes, a unit
that really did change once. :func:`diagnose` counts the blocking findings by column and
kind and names the setting that loosens each, so the person running ``retrainer validate``
knows what to look at before releasing anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from retrainer.validation.batch import BatchValidation

ADVICE_SHARE = 0.03
"""Above this share of blocked batches the diagnosis gives advice."""

CONFIG_KEYS: dict[str, str] = {
    "range": "validation.columns.{column}.min_value / max_value, or validation.numeric.margin "
    "and relative_margin (the bounds' width)",
    "not_null": "validation.columns.{column}.max_null_share, or validation.nulls.max_increase",
    "categories": "validation.columns.{column}.extra_values, or "
    "validation.categories.max_unseen_share",
    "category_flood": "validation.columns.{column}.extra_values (the new codes are valid?), or "
    "validation.severity.category_flood: warning",
    "scale": "validation.columns.{column}.max_scale_ratio, validation.scale.max_ratio, or "
    "validation.columns.{column}.drop: [scale]",
    "row_count": "validation.row_count.min_rows / max_rows, or margin and max_growth",
    "freshness": "validation.timestamps.tolerance_hours, or max_outside_share",
    "monotonic_dates": "validation.timestamps.max_late_share",
    "unique_id": "columns.id (is it a unique row id?), or validation.drop: [unique_id]",
    "dtype": "the data itself (a type change upstream), or "
    "validation.columns.{column}.drop: [dtype]",
    "columns": "columns.* in retrainer.yaml (was the column renamed or removed?)",
    "column_set": "validation.severity.column_set",
    "extra": "validation.columns.{column}.extra_expectations",
}
"""Expectation kind → the settings that loosen it."""


@dataclass(frozen=True)
class Cause:
    """One column and kind that blocks batches."""

    column: str
    kind: str
    expectation: str
    batches: int
    example: str

    @property
    def config_key(self) -> str:
        """The settings that would change the outcome."""
        return CONFIG_KEYS.get(self.kind, "validation").format(column=self.column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "column": self.column,
            "kind": self.kind,
            "expectation": self.expectation,
            "batches": self.batches,
            "example": self.example,
            "config_key": self.config_key,
        }


@dataclass
class Diagnosis:
    """Blocked batches among many, and their most frequent causes."""

    batches: int
    blocked: int
    causes: list[Cause] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Share of the batches that are blocked."""
        return self.blocked / self.batches if self.batches else 0.0

    @property
    def needs_advice(self) -> bool:
        """Whether more than :data:`ADVICE_SHARE` of the batches are blocked."""
        return self.share > ADVICE_SHARE and bool(self.causes)

    def lines(self, limit: int = 3) -> list[str]:
        """What to tell the user (nothing when few batches are blocked)."""
        if not self.needs_advice:
            return []
        out = [
            f"{self.blocked} of {self.batches} batches ({self.share:.0%}) fail validation; "
            "most often:"
        ]
        for cause in self.causes[:limit]:
            out.append(
                f"  {cause.column} {cause.kind} ({cause.expectation}) in {cause.batches} "
                f"batches, e.g. {cause.example}"
            )
            out.append(f"    to change it: {cause.config_key}")
        out.append(
            "  check a change with `retrainer validate --dry-run`; put batches back with "
            "`--release START:END` or `--release-all --reason TEXT`"
        )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        """Inverse of :meth:`to_dict`."""
        causes = [
            Cause(c["column"], c["kind"], c["expectation"], c["batches"], c["example"])
            for c in data.get("causes", [])
        ]
        return cls(batches=data["batches"], blocked=data["blocked"], causes=causes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "batches": self.batches,
            "blocked": self.blocked,
            "share": self.share,
            "advice": self.needs_advice,
            "causes": [c.to_dict() for c in self.causes],
        }


def diagnose(batches: Sequence[BatchValidation]) -> Diagnosis:
    """Count the blocking findings of ``batches`` by column and kind, most frequent first."""
    counts: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    blocked = 0
    for batch in batches:
        if not batch.blocked:
            continue
        blocked += 1
        seen = set()
        for finding in batch.errors:
            kind = "category_flood" if finding.tier == "flood" else finding.kind
            key = (finding.target, kind, finding.expectation)
            if key in seen:
                continue
            seen.add(key)
            counts[key] += 1
            examples.setdefault(key, f"{batch.label}: {finding.observed}")
    causes = [
        Cause(column, kind, expectation, count, examples[(column, kind, expectation)])
        for (column, kind, expectation), count in counts.most_common()
    ]
    return Diagnosis(batches=len(batches), blocked=blocked, causes=causes)
