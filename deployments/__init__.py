"""Deployment code and templates for Retrainer's flows (``prefect.yaml`` is the source)."""
