"""The one retry module every client and runner uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from rtcflow.protocols.retry import Backoff, RetryPolicy, parse_retry_after


def test_retry_after_forms() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 01 Jun 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0.0


def test_policy_delays_grow_are_bounded_and_jittered_down() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0, jitter=0.5)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [policy.delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    with pytest.raises(ValidationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_policy_without_jitter_gives_exactly_max_attempts_minus_one_delays() -> None:
    policy = RetryPolicy(initial_delay=0.1, max_delay=0.3, max_attempts=5)
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.3, 0.3])


def test_backoff_honours_a_longer_retry_after_and_resets() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, jitter=0.0)
    assert [backoff.delay() for _ in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    assert backoff.delay(retry_after=3.0) == 3.0
    backoff.reset()
    assert backoff.delay() == pytest.approx(0.1)
