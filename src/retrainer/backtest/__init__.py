"""Policy backtest: replay history through retraining policies and price them (no Prefect).

The replay uses the live flows' own code — validation screening, drift check, monitoring,
window strategies, training, the gate and :func:`retrainer.policy.decide` — so a policy
decides the same way here as in the continuous-training flow on the same days.
"""

from retrainer.backtest.history import BacktestDataError, History, load_history
from retrainer.backtest.policies import PolicySpec, standard_policies, sweep_variants
from retrainer.backtest.run import BacktestResult, run_backtest

__all__ = [
    "BacktestDataError",
    "BacktestResult",
    "History",
    "PolicySpec",
    "load_history",
    "run_backtest",
    "standard_policies",
    "sweep_variants",
]
