"""Metric gates: may a challenger replace the champion?

One call judges a challenger on the fresh holdout and returns a report::

    from retrainer.gates import GateInputs, ModelEvidence, evaluate_gates

    report = evaluate_gates(
        config.gates,
        "binary",
        GateInputs(y_true, segments=holdout[["region", "channel"]]),
        challenger=ModelEvidence(y_proba=p_new, latency_ms_per_1k=4.2, size_bytes=2_000_000,
                                 signature=[("income", "double"), ("region", "string")]),
        champion=ModelEvidence(y_proba=p_old, signature=[...]),
    )
    report.passed, report.summary, report.to_markdown()

Core logic only: no Prefect, no MLflow. The statistics live in :mod:`retrainer.gates.stats`,
the holdout-freshness policy in :mod:`retrainer.gates.holdout`, the logged gate document in
:mod:`retrainer.gates.document`, the HTML report in :mod:`retrainer.gates.html` and the rules
of human approval in :mod:`retrainer.gates.approval`.
"""

from retrainer.gates.checks import normalize_type, signature_problems
from retrainer.gates.decision import GateConfigError, GateSetupError, evaluate_gates
from retrainer.gates.inputs import ColumnSpec, GateInputs, GateSubject, ModelEvidence, Signature
from retrainer.gates.report import (
    CheckResult,
    GateReport,
    GateStatus,
    Verdict,
    gate_status,
    human_approval_check,
)
from retrainer.gates.stats import (
    Decision,
    PairedTestResult,
    adjust_p_values,
    decide,
    delong_test,
    mcnemar_test,
    paired_bootstrap,
)

__all__ = [
    "CheckResult",
    "ColumnSpec",
    "Decision",
    "GateConfigError",
    "GateInputs",
    "GateReport",
    "GateSetupError",
    "GateStatus",
    "GateSubject",
    "ModelEvidence",
    "PairedTestResult",
    "Signature",
    "Verdict",
    "adjust_p_values",
    "decide",
    "delong_test",
    "evaluate_gates",
    "gate_status",
    "human_approval_check",
    "mcnemar_test",
    "normalize_type",
    "paired_bootstrap",
    "signature_problems",
]
