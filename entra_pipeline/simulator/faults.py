"""Fault injection: each rule fires at a rate or on chosen request numbers, optionally only
on paths that contain a given fragment.

Text form (CLI `--faults`, comma-separated):  KIND[=ARG][@RATE | @#N[#M...]][~PATH]
  503@0.05                  5% of Graph requests answer 503
  reset@#12                 the 12th Graph request has its connection reset
  slow=30@0.01              1% of requests answer after 30 s
  forbidden=applications    every request for applications answers 403
  expired-page-token@#3~/users   the 3rd request (counted among /users ones) ...
  oversized=110@#1~/users   the first /users page padded to 110 MiB (hostile upstream)
  vanish@#1~/appRoleAssignedTo   the service principal named by the first such request is deleted first: 404
  odd-error=502:html@#2     the 2nd Graph request answers 502 with an HTML page, as a gateway does
  foreign-next-link@#1      the first page's nextLink names https://localhost:<port> (same server, another origin)
  foreign-next-link=delta:https://127.0.0.2:9   every deltaLink names another origin (= foreign-delta-link=...)
  foreign-redirect@#1       the first Graph request answers 307 to the same path on https://localhost:<port>
  token-500@#1              the first token request answers 500 server_error (AADSTS50000)
  token-hang=30@#2~/oauth2/v2.0/token   the 2nd v2 token request answers 30 s late
  token-echo                token requests answer 400 invalid_client echoing the form body, secret and all
  invalid-utf8@#1~/users    the first /users page's first displayName holds the bytes FF FE
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

KINDS = {
    "500",
    "502",
    "503",
    "504",
    "reset",  # connection closed without a response
    "slow",  # answer after ARG seconds (default 60): past a client's timeout
    "429",  # throttled, with Retry-After: ARG seconds (default 1)
    "429-no-retry-after",  # throttled, without the Retry-After header
    "expired-page-token",  # 400 Directory_ExpiredPageToken on a request that carries $skiptoken
    "loop",  # a page whose nextLink points back at itself
    "forbidden",  # 403 Authorization_RequestDenied on entity ARG
    "truncated",  # body cut short, connection closed
    "malformed",  # body that is not JSON
    "empty-page",  # delta: an empty page that still carries a nextLink
    "replay",  # delta: a round that replays the previous round's changes too
    # Hostile upstream: answers no real Graph gives, that a client must survive with a clear error.
    "oversized",  # a page padded (JSON whitespace) to ARG MiB (default 110)
    "nested",  # a page whose first object carries a value nested ARG levels deep (default 100000)
    "control-header",  # a response header whose value holds control characters
    "invalid-utf8",  # the first object of a page has raw invalid UTF-8 (FF FE) in its displayName
    "odd-error",  # ARG STATUS:SHAPE (default 404:oauth): an error body not in Graph's shape, as proxies send
    "foreign-next-link",  # a page's nextLink on another origin ARG (default localhost: same port, other host name)
    "foreign-delta-link",  # a page's deltaLink on another origin (also written foreign-next-link=delta:ORIGIN)
    "foreign-redirect",  # 307 to the same path and query on another origin ARG (default localhost)
    # Graph behaviour on races: the object a request names is deleted just before it is served.
    "vanish",  # delete the user/group (soft) or service principal/role/unit the path names: 404
    # The token endpoint (POST /{tenant}/oauth2/v2.0/token and /oauth2/token); counted among token requests.
    "token-500",  # 500 server_error, AADSTS50000, in Entra's error shape
    "token-no-access-token",  # 200 with token_type and expires_in but no access_token
    "token-hang",  # the token answer comes ARG seconds late (default 600)
    "token-echo",  # hostile proxy: 400 invalid_client whose error_description echoes the form body
    "token-html",  # hostile proxy: 502 with an HTML page
}
TOKEN_FAULTS = {k for k in KINDS if k.startswith("token-")}
ODD_SHAPES = ("oauth", "html", "string", "list", "null", "empty")


def odd_error(arg: str | None) -> tuple[int, str]:
    """STATUS:SHAPE, STATUS or SHAPE -> (status, shape); defaults 404 and oauth."""
    status, shape = 404, "oauth"
    for part in (arg or "").split(":"):
        part = part.strip()
        if part.isdigit():
            status = int(part)
        elif part:
            shape = part
    if not 100 <= status <= 599 or shape not in ODD_SHAPES:
        raise FaultSpecError(f"fault 'odd-error' takes STATUS:SHAPE, SHAPE one of {', '.join(ODD_SHAPES)}; got {arg!r}")
    return status, shape


def foreign_origin(arg: str | None, own_origin: str) -> str:
    """The other origin a foreign-* fault names: `localhost` (the default) is this simulator's
    own port under the host name localhost, anything else an explicit https://host[:port]."""
    if not arg or arg == "localhost":
        return "https://localhost:" + own_origin.rsplit(":", 1)[-1]
    return arg.rstrip("/")


class FaultSpecError(ValueError):
    pass


@dataclass
class FaultRule:
    kind: str
    arg: str | None = None
    rate: float | None = None
    on_requests: frozenset[int] = frozenset()
    path: str | None = None
    seen: int = 0  # matching requests so far
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(KINDS))}")
        if self.kind == "forbidden" and not self.arg:
            raise FaultSpecError("fault 'forbidden' needs an entity, e.g. forbidden=applications")
        if self.kind == "foreign-next-link" and self.arg and self.arg.startswith("delta:"):
            self.kind, self.arg = "foreign-delta-link", self.arg[len("delta:") :] or None
        if self.kind == "odd-error":
            odd_error(self.arg)
        if (
            self.kind.startswith("foreign-")
            and self.arg
            and self.arg != "localhost"
            and ("://" not in self.arg or self.arg.split("://", 1)[1].strip("/") == "")
        ):
            raise FaultSpecError(
                f"fault {self.kind!r} takes 'localhost' or an origin like https://127.0.0.2:9, not {self.arg!r}"
            )
        if self.kind in ("token-hang", "slow") and self.arg:
            try:
                float(self.arg)
            except ValueError:
                raise FaultSpecError(f"fault {self.kind!r} takes a number, not {self.arg!r}") from None
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise FaultSpecError(f"fault rate must be between 0 and 1, got {self.rate}")

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        spec = text.strip()
        path = None
        if "~" in spec:
            spec, path = spec.split("~", 1)
        rate, on = None, frozenset()
        if "@" in spec:
            spec, when = spec.split("@", 1)
            try:
                if when.startswith("#"):
                    on = frozenset(int(n) for n in when.strip("#").split("#"))
                else:
                    rate = float(when)
            except ValueError:
                raise FaultSpecError(f"bad fault timing {when!r} in {text!r}: use @0.05 or @#12") from None
        kind, _, arg = spec.partition("=")
        return cls(kind=kind.strip(), arg=arg.strip() or None, rate=rate, on_requests=on, path=path)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "arg": self.arg,
            "rate": self.rate,
            "on_requests": sorted(self.on_requests),
            "path": self.path,
            "seen": self.seen,
            "fired": self.fired,
        }


@dataclass
class Faults:
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule | str) -> FaultRule:
        rule = FaultRule.parse(rule) if isinstance(rule, str) else rule
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def has(self, kind: str) -> bool:
        return any(rule.kind == kind for rule in self.rules)

    def pick(self, path: str, entity: str | None, kinds: set[str]) -> FaultRule | None:
        """The first rule of `kinds` that fires for this request (each rule counts its own matches)."""
        with self._lock:
            for rule in self.rules:
                if rule.kind not in kinds or (rule.path and rule.path.lower() not in path.lower()):
                    continue
                if rule.kind == "forbidden":
                    if entity == rule.arg:
                        rule.fired += 1
                        return rule
                    continue
                rule.seen += 1
                fires = (
                    (rule.seen in rule.on_requests)
                    if rule.on_requests
                    else (rule.rate is None or self._rng.random() < rule.rate)
                )
                if fires:
                    rule.fired += 1
                    return rule
        return None
