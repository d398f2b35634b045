"""The ledger of validated partitions: what was validated, with which suite, and the verdict.

A small JSON file per project state directory. It makes the pending mode cheap (partitions not
in the ledger are new) and gives the monotonic-dates check its reference (the last validated
partition). Entries are kept per data source and table, so pointing the config at other data
does not reuse them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from retrainer.data.tables import as_date
from retrainer.registry.models import file_lock

ACCEPTED = ("valid", "warning", "released")
"""Statuses of partitions that downstream flows may read."""


class ValidationLedger:
    """Validated partitions of one table of one data source.

    Args:
        path: The JSON file (created on the first write).
        source: The data source URI (entries are kept per source).
        table: The table name.
    """

    def __init__(self, path: Path | str, source: str, table: str):
        self.path = Path(path)
        self.source = source
        self.table = table

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": 1, "sources": {}}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: cannot read the validation ledger: {exc}") from exc

    def entries(self) -> dict[date, dict[str, Any]]:
        """Date → entry (``status``, ``validated_at``, ``suite``, ``rows``, ...), oldest first."""
        tables = self._read()["sources"].get(self.source, {})
        items = tables.get(self.table, {})
        return {as_date(k): v for k, v in sorted(items.items())}

    def record(self, day: date | str, status: str, **details: Any) -> None:
        """Record the status of a partition (replacing an earlier entry)."""
        with file_lock(self.path.with_suffix(".lock")):
            data = self._read()
            table = data["sources"].setdefault(self.source, {}).setdefault(self.table, {})
            table[as_date(day).isoformat()] = {
                "status": status,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                **details,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), "utf-8")
            tmp.replace(self.path)

    def status(self, day: date | str) -> str | None:
        """The recorded status of a partition, or None."""
        entry = self.entries().get(as_date(day))
        return entry["status"] if entry else None

    def pending(self, days: list[date]) -> list[date]:
        """The dates among ``days`` that have no entry yet."""
        known = self.entries()
        return [d for d in days if d not in known]

    def last_accepted_before(self, day: date | str) -> date | None:
        """The newest accepted partition (valid, warning or released) before ``day``."""
        day = as_date(day)
        accepted = [d for d, e in self.entries().items() if d < day and e["status"] in ACCEPTED]
        return accepted[-1] if accepted else None
