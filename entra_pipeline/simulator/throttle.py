"""Graph's identity-and-access throttling: a token bucket of resource units per app+tenant.

Limits and costs are Microsoft's published ones (learn.microsoft.com/graph/throttling-limits,
"Identity and access service limits"): S/M/L tenants get 3,500 / 5,000 / 8,000 RU per 10 s;
a request costs its base cost (listed below, 1 if unlisted), -1 with $select, +1 with
$expand, -1 with $top < 20, and never less than 1.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 10.0
LIMITS = {"S": 3500, "M": 5000, "L": 8000}


def size_for_users(users: int) -> str:
    return "S" if users < 50 else "M" if users <= 500 else "L"


def request_cost(base_cost: int, query: dict[str, str]) -> int:
    cost = base_cost
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    top = query.get("$top")
    if top is not None and top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


@dataclass
class Decision:
    allowed: bool
    cost: int
    retry_after: int = 0
    limit_percentage: float | None = None  # only reported above 0.8, as Graph does


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    updated: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now


class Throttle:
    """One bucket per (application, tenant). `enabled=False` still counts RU but never refuses."""

    def __init__(self, size: str, enabled: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.enabled = enabled
        self.clock = clock  # tests freeze it to make refills, and so 429s, exact
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return LIMITS[self.size]

    def charge(self, app_id: str, tenant_id: str, cost: int) -> Decision:
        with self._lock:
            bucket = self._buckets.get((app_id, tenant_id))
            if bucket is None:
                bucket = self._buckets[(app_id, tenant_id)] = TokenBucket(
                    self.limit, self.limit / WINDOW_SECONDS, self.clock()
                )
            bucket._refill(self.clock())
            if self.enabled and bucket.tokens < cost:
                missing = cost - bucket.tokens
                return Decision(False, cost, retry_after=max(1, math.ceil(missing / bucket.refill_per_second)))
            bucket.tokens = max(0.0, bucket.tokens - cost)
            used = 1 - bucket.tokens / bucket.capacity
            percentage = math.ceil(used * 100) / 100 if used > 0.8 else None  # 0.801 -> 0.81, never 0.80
            return Decision(True, cost, limit_percentage=percentage)
