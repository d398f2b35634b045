"""``python -m retrainer`` runs the CLI."""

from retrainer.cli import main

main()
