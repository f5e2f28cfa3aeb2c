"""When a request is tried again, and how long to wait first: one policy for both HTTP clients
(graph/client.py, destinations/qualys/csam.py).

A rate limit (Graph's 429, the Qualys gateway's 409 and 429) is answered by waiting as the
server says, bounded by the total time one request may spend waiting so. A server error or a
connection that brought no answer is tried again up to a number of attempts. Without a wait
from the server, the wait is exponential backoff with jitter. A stop (SIGINT, SIGTERM) the HTTP
stack turned into a connection error is raised, not retried.

The clients keep what is theirs: which answers are errors of their API, how a wait is logged
and counted, and how they sleep (asyncio for Graph, a thread for Qualys).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .interrupts import raise_if_stopped

SERVER_ERRORS = frozenset({500, 502, 503, 504})


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as integer or fractional seconds, or an HTTP date (a date past is 0 s);
    None when absent or not understood."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int  # per request, for server errors and answers that did not arrive
    backoff_base: float = 1.0  # seconds before the second attempt, doubled for each further one
    backoff_cap: float = 60.0
    max_throttle_wait: float = math.inf  # total seconds one request may spend waiting on rate limits
    throttled: frozenset[int] = frozenset({429})
    retried: frozenset[int] = SERVER_ERRORS
    wait_headers: tuple[str, ...] = ("Retry-After",)  # where the server says how long to wait, first found wins
    throttle_default: float | None = None  # a rate limit that says no wait: this, or else backoff

    def backoff(self, attempt: int) -> float:
        """Exponential, capped, then jittered to between half and all of it, so clients that
        failed together do not come back together."""
        return float(min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))

    def told(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for, in seconds, if it asked in a way we understand."""
        for header in self.wait_headers:
            seconds = retry_after_seconds(headers.get(header))
            if seconds is not None:
                return seconds
        return None


class Attempts:
    """One request's attempts under a policy. `start` before each; after a failed one, the
    method for what went wrong says how long to wait before the next, or None: give up."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 0
        self.throttle_waited = 0.0

    def start(self) -> int:
        self.attempt += 1
        return self.attempt

    def after_status(self, status: int, headers: Mapping[str, str]) -> float | None:
        if status in self.policy.throttled:
            return self.after_throttle(headers)
        if status in self.policy.retried:
            return self.after_failure(self.policy.told(headers))
        return None

    def after_throttle(self, headers: Mapping[str, str]) -> float | None:
        """A rate limit is answered by waiting as told, not by giving up: bounded by total wait only."""
        if self.throttle_waited >= self.policy.max_throttle_wait:
            return None
        delay = self.policy.told(headers)
        if delay is None:
            delay = self.policy.throttle_default
        if delay is None:
            delay = self.policy.backoff(self.attempt)
        self.throttle_waited += delay
        return delay

    def after_failure(self, told: float | None = None) -> float | None:
        """A server error or a broken answer: again while attempts are left."""
        if self.attempt >= self.policy.max_attempts:
            return None
        return told if told is not None else self.policy.backoff(self.attempt)

    def after_transport_error(self) -> float | None:
        """No answer at all. A stop the HTTP stack turned into a connection error is raised here."""
        raise_if_stopped()
        return self.after_failure()
