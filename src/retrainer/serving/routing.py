"""Sticky routing of requests between champion and challenger (pure).

Every request falls in a bucket in [0, 100) from a hash of its entity key (a request without
one is placed by its request id): the same entity always lands in the same bucket, so it
keeps its variant for the whole rollout, and because a canary step only raises the
challenger's weight, an entity sent to the challenger at 5% is still sent there at 25%. The
shadow sample uses a second, independent hash of the same key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from retrainer.rollout import Traffic

Variant = Literal["champion", "challenger"]

_SCALE = 100.0 / 2**64


def bucket(key: str, salt: str = "route") -> float:
    """The key's place in [0, 100) (uniform, stable across processes and restarts)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=salt.encode()[:16]).digest()
    return int.from_bytes(digest, "big") * _SCALE


@dataclass(frozen=True)
class Route:
    """Where one request goes: the variant that answers, and whether the other shadows it."""

    variant: Variant
    shadow: bool = False


def route(traffic: Traffic, key: str) -> Route:
    """The route of the request keyed ``key`` (entity key, else request id) under ``traffic``.

    The challenger answers when the key's bucket is below its weight. In shadow
    (challenger weight 0, a shadow fraction), the champion answers and the challenger also
    scores the request when the key's shadow bucket is below the fraction.
    """
    variant: Variant = "challenger" if bucket(key) < traffic.challenger else "champion"
    shadow = (
        variant == "champion"
        and traffic.shadow_fraction > 0
        and bucket(key, "shadow") < traffic.shadow_fraction * 100
    )
    return Route(variant, shadow)
