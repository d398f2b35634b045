"""The layers stay apart: the core imports no Prefect, and tasks never import flows.

The serving gateway and the webhook receiver import the core without Prefect; a task that
imported a flow would make the tasks layer depend on the orchestration built on top of it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import retrainer

PACKAGE = Path(retrainer.__file__).parent

CORE = [
    "retrainer.gates",
    "retrainer.promotion",
    "retrainer.store",
    "retrainer.policy",
    "retrainer.rollout",
    "retrainer.serving",
    "retrainer.webhooks",
    "retrainer.registry.champion",
    "retrainer.reports",
    "retrainer.validation",
    "retrainer.drift",
    "retrainer.monitoring",
    "retrainer.metrics",
    "retrainer.training",
    "retrainer.backtest",
    "retrainer.production",
    "retrainer.demo",
]

# Imports each module and every submodule of each package, in a fresh interpreter; prints the
# first one after whose import a prefect module was loaded (null when none was).
_PROBE = """
import importlib, json, pkgutil, sys

def prefect_loaded():
    return sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))[:3]

for name in sys.argv[1:]:
    module = importlib.import_module(name)
    path = getattr(module, "__path__", [])
    for sub in [name, *(m.name for m in pkgutil.walk_packages(path, name + "."))]:
        importlib.import_module(sub)
        if prefect_loaded():
            print(json.dumps({"module": sub, "prefect": prefect_loaded()}))
            sys.exit(0)
print(json.dumps(None))
"""


def test_importing_the_core_loads_no_prefect():
    # given a fresh interpreter
    # when every core package and each of its modules is imported
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *CORE], capture_output=True, text=True, check=False
    )
    # then no prefect module was loaded
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout.splitlines()[-1]) is None, probe.stdout


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _imports_flows(source: str, package: str = "retrainer.tasks") -> bool:
    flows = "retrainer.flows"
    return any(n == flows or n.startswith(f"{flows}.") for n in imported_modules(source, package))


@pytest.mark.parametrize(
    ("source", "imports"),
    [
        ("from retrainer.flows.gate import evaluate_gates", True),
        ("import retrainer.flows.train", True),
        ("from retrainer import flows", True),
        ("def f():\n    from ..flows import gate", True),  # a lazy, relative import
        ("from . import gating", False),
        ("from retrainer.tasks.gating import judge\nimport retrainer.flowsy", False),
    ],
)
def test_the_checker_sees_every_way_of_importing_flows(source, imports):
    assert _imports_flows(source) is imports


def test_no_task_module_imports_a_flow():
    # given every module of the tasks layer
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted((PACKAGE / "tasks").rglob("*.py"))
        if _imports_flows(path.read_text(encoding="utf-8"))
    ]
    # then none imports retrainer.flows (not even lazily inside a function)
    assert offenders == []
