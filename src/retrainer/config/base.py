"""Base classes shared by every configuration section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and validates on assignment.

    Every section of ``retrainer.yaml`` derives from this class so that a typo in a key is
    reported as an error naming the field instead of being silently ignored.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
