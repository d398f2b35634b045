"""The webhook receiver's replay guard in the operational store, on SQLite and PostgreSQL.

Receivers behind a load balancer share one table of used signatures: a signature claimed by
one process is refused to every other until its request would be stale anyway.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from retrainer.store.webhook_deliveries import WebhookDeliveries

NOW = 1_800_000_000.0
WINDOW = 300.0


def _signature() -> str:
    return f"sha256={uuid.uuid4().hex}{uuid.uuid4().hex}"


@pytest.fixture
def clock() -> list[float]:
    return [NOW]


@pytest.fixture
def guard(store, clock) -> WebhookDeliveries:
    return WebhookDeliveries(store, clock=lambda: clock[0])


def test_a_second_claim_of_a_signature_is_refused_by_another_receiver(store, guard):
    # given a signature claimed by one receiver
    signature = _signature()
    assert guard.claim(signature, NOW + WINDOW)

    # when a second receiver on the same store (and the first one again) claims it
    other = WebhookDeliveries(store, clock=lambda: NOW + 1)

    # then both are refused
    assert not other.claim(signature, NOW + 1 + WINDOW)
    assert not guard.claim(signature, NOW + WINDOW)


def test_an_expired_signature_can_be_claimed_again_and_expired_rows_are_purged(store, guard, clock):
    # given two signatures claimed now
    first, second = _signature(), _signature()
    assert guard.claim(first, NOW + WINDOW)
    assert guard.claim(second, NOW + WINDOW)

    # when the window has passed (far enough for every earlier test's rows too)
    clock[0] = NOW + 10 * WINDOW

    # then the first can be claimed again, and the second no longer takes room
    assert guard.claim(first, clock[0] + WINDOW)
    assert guard.remembered() == 1
    assert not guard.claim(first, clock[0] + WINDOW)


def test_a_released_signature_can_be_claimed_again(guard):
    # given a claimed signature whose events could not be delivered
    signature = _signature()
    assert guard.claim(signature, NOW + WINDOW)

    # when it is released
    guard.release(signature)

    # then the sender's retry may claim it; releasing an unknown signature is harmless
    assert guard.claim(signature, NOW + WINDOW)
    guard.release(_signature())


def test_simultaneous_claims_of_one_signature_have_exactly_one_winner(store):
    # given six receivers (threads with their own connections) and three signatures
    receivers = 6
    signatures = [_signature() for _ in range(3)]
    barrier = threading.Barrier(receivers)
    wins: dict[str, list[bool]] = {s: [] for s in signatures}
    errors: list[BaseException] = []

    def receive() -> None:
        guard = WebhookDeliveries(store, clock=lambda: NOW)
        try:
            for signature in signatures:
                barrier.wait(timeout=60)  # released together for each signature
                wins[signature].append(guard.claim(signature, NOW + WINDOW))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    # when they all claim each signature at the same moment
    threads = [threading.Thread(target=receive) for _ in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then for every signature exactly one claim won
    assert errors == []
    assert {s: sorted(w) for s, w in wins.items()} == {
        s: [False] * (receivers - 1) + [True] for s in signatures
    }
