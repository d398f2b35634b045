"""Printing the figures: per-size tables, targets with PASS/FAIL, decisions against the truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from _drift_bench.data import CATEGORICAL, NUMERIC, TINY_DRIFT, TRUE_DRIFT

MIB_PER_GIB = 1024

LABELS = {
    "ours": "ours: full report from frames (exact)",
    "ours_profile": "ours: from a saved baseline profile",
    "floor": "numpy/scipy floor (exact)",
    "evidently": "Evidently DataDriftPreset",
    "nannyml_1chunk": "NannyML KS+JS / χ²+JS, 1 chunk",
    "nannyml_10chunks": "NannyML KS+JS / χ²+JS, 10 chunks",
    "ours_stream": "ours: streaming compare_batches",
}


@dataclass
class Target:
    """One target: a measured value against a goal."""

    name: str
    value: float | None
    goal: float
    higher_is_better: bool
    unit: str
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "SKIP"
        ok = self.value >= self.goal if self.higher_is_better else self.value <= self.goal
        return "PASS" if ok else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "goal": self.goal,
            "goal_op": ">=" if self.higher_is_better else "<=",
            "unit": self.unit,
            "verdict": self.verdict,
            "note": self.note,
        }


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ok(result: dict[str, Any] | None) -> bool:
    return bool(result and result.get("ok"))


def size_table(results: dict[str, dict[str, Any]]) -> str:
    """The per-size table: wall, CPU, peak RSS, Δ RSS and the untimed phases."""
    header = (
        f"{'implementation':<40} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} "
        f"{'Δ RSS MB':>9} {'RSS before':>11} {'runs':>5} {'import s':>9} {'read s':>7}"
    )
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        label = LABELS.get(name, name)
        if not _ok(result):
            lines.append(f"{label:<40} not measured: {result.get('error', 'unknown error')}")
            continue
        read = result.get("read_s")
        profile_load = result.get("extra", {}).get("profile_load_s")
        read_text = _num(read) if profile_load is None else f"{_num(read)}*"
        lines.append(
            f"{label:<40} {_num(result['wall_s']):>8} {_num(result['cpu_s']):>8} "
            f"{_num(result['max_rss_mib'], 0):>12} {_num(result['delta_mib'], 0):>9} "
            f"{_num(result['rss_before_mib'], 0):>11} {len(result.get('runs', [])) or 1:>5} "
            f"{_num(result['import_s']):>9} {read_text:>7}"
        )
    return "\n".join(lines)


def _wall(results: dict[str, dict[str, Any]], name: str) -> float | None:
    result = results.get(name)
    return float(result["wall_s"]) if _ok(result) else None


def _cpu(results: dict[str, dict[str, Any]], name: str) -> float | None:
    result = results.get(name)
    return float(result["cpu_s"]) if _ok(result) else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def size_targets(results: dict[str, dict[str, Any]]) -> list[Target]:
    """Targets for one size (speed-ups on wall time; CPU-time ratios go in the note)."""
    targets: list[Target] = []

    def speedup(name: str, slow: str, fast: str, goal: float) -> None:
        cpu = _ratio(_cpu(results, slow), _cpu(results, fast))
        targets.append(
            Target(
                name,
                _ratio(_wall(results, slow), _wall(results, fast)),
                goal,
                True,
                "×",
                "" if cpu is None else f"CPU-time ratio {cpu:.1f}×",
            )
        )

    speedup("ours vs Evidently (speed-up)", "evidently", "ours", 15.0)
    speedup("ours vs NannyML 1 chunk (speed-up)", "nannyml_1chunk", "ours", 3.0)
    cpu_floor = _ratio(_cpu(results, "ours"), _cpu(results, "floor"))
    targets.append(
        Target(
            "ours / numpy floor (time)",
            _ratio(_wall(results, "ours"), _wall(results, "floor")),
            1.5,
            False,
            "×",
            "" if cpu_floor is None else f"CPU-time ratio {cpu_floor:.2f}×",
        )
    )
    speedup("ours from profile vs Evidently (speed-up)", "evidently", "ours_profile", 30.0)
    for name, label in (("ours", "frames"), ("ours_profile", "from profile")):
        result = results.get(name)
        delta = (
            float(result["delta_mib"])
            if _ok(result) and result.get("delta_mib") is not None
            else None
        )
        targets.append(
            Target(
                f"ours Δ memory ({label})",
                delta,
                100.0,
                False,
                "MB",
                "peak RSS during the call minus RSS before it",
            )
        )
    return targets


def stream_targets(result: dict[str, Any] | None) -> list[Target]:
    """The streaming target: peak RSS of the whole child under 1 GiB."""
    peak = float(result["max_rss_mib"]) if _ok(result) else None
    return [
        Target(
            "streaming: peak RSS of the process",
            peak,
            float(MIB_PER_GIB),
            False,
            "MB",
            "ru_maxrss of the child, imports and profile included",
        )
    ]


def targets_table(targets: list[Target]) -> str:
    header = f"{'target':<46} {'value':>10} {'goal':>10}  {'result':<6} note"
    lines = [header, "-" * len(header)]
    for target in targets:
        op = "≥" if target.higher_is_better else "≤"
        value = "–" if target.value is None else f"{target.value:.1f}{target.unit}"
        goal = f"{op} {target.goal:g}{target.unit}"
        lines.append(f"{target.name:<46} {value:>10} {goal:>10}  {target.verdict:<6} {target.note}")
    return "\n".join(lines)


def score_decisions(flagged: list[str] | None) -> dict[str, Any] | None:
    """Recall on the 5 real shifts and false positives (the tiny num_02 shift counts as one)."""
    if flagged is None:
        return None
    flagged_set = set(flagged)
    truth = set(TRUE_DRIFT)
    return {
        "flagged": sorted(flagged_set),
        "recall": len(flagged_set & truth) / len(truth),
        "missed": sorted(truth - flagged_set),
        "false_positives": sorted(flagged_set - truth),
        "tiny_flagged": sorted(flagged_set & set(TINY_DRIFT)),
    }


def decision_rows(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Each library's default decisions, scored against the truth."""
    rows: dict[str, dict[str, Any] | None] = {}
    for name, label in (
        ("ours", "ours (defaults)"),
        ("ours_profile", "ours from profile (defaults)"),
        ("evidently", "Evidently (default stattests)"),
    ):
        if _ok(results.get(name)):
            rows[label] = score_decisions(results[name].get("flagged"))
    nannyml = results.get("nannyml_10chunks")
    if _ok(nannyml):
        rows["NannyML 10 chunks, any alert (KS/JS/χ²)"] = score_decisions(nannyml.get("flagged"))
        rows["NannyML 10 chunks, JS alerts (its default)"] = score_decisions(
            nannyml.get("extra", {}).get("flagged_js_only")
        )
    return rows


def decisions_table(rows: dict[str, dict[str, Any] | None]) -> str:
    total_null = len(NUMERIC) + len(CATEGORICAL) - len(TRUE_DRIFT) - len(TINY_DRIFT)
    header = f"{'library':<44} {'recall':>7} {'false pos.':>10}  details"
    lines = [
        f"truth: drift in {', '.join(TRUE_DRIFT)}; {TINY_DRIFT[0]} has a tiny shift (+0.02σ) that "
        f"should not be flagged; {total_null} columns without drift",
        header,
        "-" * len(header),
    ]
    for label, score in rows.items():
        if score is None:
            lines.append(f"{label:<44} no decision reported")
            continue
        details = []
        if score["missed"]:
            details.append("missed " + ", ".join(score["missed"]))
        if score["false_positives"]:
            details.append("false positives " + ", ".join(score["false_positives"]))
        lines.append(
            f"{label:<44} {score['recall'] * len(TRUE_DRIFT):>5.0f}/{len(TRUE_DRIFT)} "
            f"{len(score['false_positives']):>10}  {'; '.join(details) or 'exact'}"
        )
    return "\n".join(lines)
