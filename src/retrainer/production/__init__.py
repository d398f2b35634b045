"""Production mode on one machine: the stack's plan (pure) and its supervisor (processes)."""

from retrainer.production.stack import (
    STACK_DIR,
    Piece,
    Ports,
    StackSettings,
    client_environment,
    pieces,
)

__all__ = ["STACK_DIR", "Piece", "Ports", "StackSettings", "client_environment", "pieces"]
