"""Helpers for benchmarks/drift_vs_evidently.py.

The modules that run in a child process (``child``, ``data``, ``measure`` and the runners) import
only the standard library, numpy, scipy, pandas and pyarrow at module level, so the same code runs
in the project venv and in the peers venv (``benchmarks/.peers-venv``).
"""
