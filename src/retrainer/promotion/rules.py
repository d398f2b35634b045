"""When a gated version becomes champion: the one promotion rule, as a pure function.

The gate flow (after a passed gate) and ``retrainer approve`` (after an approval) both ask
:func:`should_promote`; neither decides on its own. No IO, no Prefect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrainer.config.promotion import PromotionSection


def should_promote(
    first_version: bool, promote_flag: bool | None, promotion: PromotionSection
) -> bool:
    """Whether a version that passed its gate is promoted to champion right away.

    An explicit ``promote_flag`` (``--promote`` / ``--no-promote``) decides. Otherwise the
    first version of a model (no champion yet) is always promoted, and later versions with
    ``promotion.auto_promote`` or ``promotion.stages`` (then "promoted" means handed to the
    staged rollout, whose analyses decide; see :func:`retrainer.tasks.promotion.hand_over`).

    Args:
        first_version: Whether the model has no champion yet.
        promote_flag: The caller's explicit choice, or None for the configured rule.
        promotion: The ``promotion:`` section.

    Returns:
        True to promote now.
    """
    if promote_flag is not None:
        return promote_flag
    return first_version or promotion.auto_promote or bool(promotion.stages)
