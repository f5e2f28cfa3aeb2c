"""The one retry policy both HTTP clients follow (retry.py): how a server's wait is read, and
what each kind of failure gets: a wait, or giving up."""

from __future__ import annotations

import email.utils

import pytest

from entra_pipeline.destinations.qualys.csam import retry_policy
from entra_pipeline.retry import Attempts, RetryPolicy, retry_after_seconds

NOW = 1_800_000_000.0


def clock() -> float:
    return NOW


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("7", 7.0),  # integer seconds
        ("0", 0.0),
        ("2.128", 2.128),  # Microsoft's own sample is fractional
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),  # an HTTP date: the time until it
        (email.utils.formatdate(NOW - 3600, usegmt=True), 0.0),  # a date past: no wait, not a negative one
        ("-5", 0.0),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, seconds):
    assert retry_after_seconds(value, now=clock) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "Mon, 99 Foo 2026", "7 seconds"])
def test_retry_after_not_understood_is_none(value):
    assert retry_after_seconds(value, now=clock) is None


def test_backoff_doubles_up_to_the_cap_with_jitter():
    policy = RetryPolicy(max_attempts=10, backoff_base=1.0, backoff_cap=8.0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert all(full / 2 <= wait <= full for wait in waits) and len(set(waits)) > 1


def test_server_errors_are_retried_until_the_attempts_run_out():
    attempts = Attempts(RetryPolicy(max_attempts=3, backoff_base=0.5))
    waits = []
    for _ in range(3):
        attempts.start()
        waits.append(attempts.after_status(503, {"Retry-After": "2"}))
    assert waits == [2.0, 2.0, None]
    assert Attempts(RetryPolicy(max_attempts=3)).after_status(404, {}) is None  # not an error worth retrying


def test_a_rate_limit_is_waited_out_as_told_up_to_the_total_wait():
    attempts = Attempts(RetryPolicy(max_attempts=2, max_throttle_wait=10.0))
    waits = []
    for _ in range(5):
        attempts.start()
        waits.append(attempts.after_status(429, {"Retry-After": "4"}))
    assert waits == [4.0, 4.0, 4.0, None, None]  # attempts do not bound it; 12 s waited passes 10 s


def test_the_qualys_gateway_names_its_wait_in_its_own_header_first():
    attempts = Attempts(retry_policy(max_attempts=6))
    attempts.start()
    assert attempts.after_status(409, {"X-RateLimit-ToWait-Sec": "3", "Retry-After": "9"}) == 3.0
    assert attempts.after_status(429, {"X-RateLimit-ToWait-Sec": "later", "Retry-After": "9"}) == 9.0
    assert attempts.after_status(429, {}) == 60.0  # said nothing: a minute
    date = email.utils.formatdate(usegmt=True)
    assert attempts.after_status(429, {"Retry-After": date}) == pytest.approx(0.0, abs=2)
