"""The one promotion rule: when a version that passed its gate becomes champion."""

from __future__ import annotations

import pytest

from retrainer.config.promotion import PromotionSection
from retrainer.promotion.rules import should_promote

MANUAL = PromotionSection()
AUTO = PromotionSection(auto_promote=True)
STAGED = PromotionSection.model_validate({"stages": [{"kind": "shadow"}]})


@pytest.mark.parametrize(
    ("first_version", "promotion", "promoted"),
    [
        (True, MANUAL, True),  # the first version always becomes champion
        (True, STAGED, True),
        (False, MANUAL, False),  # later ones wait for `retrainer promote` ...
        (False, AUTO, True),  # ... unless auto_promote is on
        # ... or a staged rollout takes the passed version over
        (False, STAGED, True),
    ],
)
def test_the_configured_rule(first_version, promotion, promoted):
    assert should_promote(first_version, None, promotion) is promoted


@pytest.mark.parametrize("promotion", [MANUAL, AUTO, STAGED])
@pytest.mark.parametrize("first_version", [True, False])
@pytest.mark.parametrize("flag", [True, False])
def test_an_explicit_choice_wins(flag, first_version, promotion):
    assert should_promote(first_version, flag, promotion) is flag
