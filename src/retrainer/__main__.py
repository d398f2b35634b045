"""``python -m retrainer`` runs the CLI."""

from retrainer.cli import main

if __name__ == "__main__":  # not in a child process that re-imports the main module
    main()
