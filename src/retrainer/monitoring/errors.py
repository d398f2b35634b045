"""The error of a scoring or monitoring run that cannot go ahead (no Prefect, no IO)."""

from __future__ import annotations


class MonitoringError(Exception):
    """Monitoring or scoring cannot run (no champion, no predictions, bad window ...).

    The message names the problem and, where there is one, the command that fixes it; the
    CLI prints it and exits 2.
    """
