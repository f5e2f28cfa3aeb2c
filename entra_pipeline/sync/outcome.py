"""The spec's outcome of a run: Processed (every selected entity fetched and delivered) or
Partially Processed (some data fetched, some not: a part refused or failed, records rejected
for a missing required field, an entity held back). A run that fetched nothing fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..entities import grant_for

PROCESSED = "Processed"
PARTIALLY_PROCESSED = "Partially Processed"

# The run log's line for a raw asset whose part failed, "<asset> not fetched, previously
# ingested data kept: <error>" (defs/assets.py writes it): the CLI reads it back to say each
# cause once however many assets it stopped.
_NOT_FETCHED = re.compile(r"(\w+) not fetched, previously ingested data kept: (.*)", re.DOTALL)


def not_fetched(message: str) -> tuple[str, str] | None:
    """(asset, error) of such a line, else None."""
    found = _NOT_FETCHED.fullmatch(message)
    return (found.group(1), found.group(2)) if found else None


@dataclass
class RunState:
    state: str = PROCESSED
    reasons: list[str] = field(default_factory=list)

    def partial(self, reason: str) -> None:
        self.state = PARTIALLY_PROCESSED
        self.reasons.append(reason)

    @property
    def tag(self) -> str:
        return self.state.lower().replace(" ", "_")


# The spec's Troubleshooting row for "Connector is in Partially Processed state".
PARTIAL_RESOLUTION = (
    "Typically caused by missing or unconsented API permissions for a specific object type: "
    "grant {permission} (application permission) and have an administrator give admin consent."
)


def name_list(names: list[str], shown: int = 3) -> str:
    """ "users", "users and groups", "users, groups and roles", "users, groups, roles and 5 more"."""
    if len(names) > shown:
        return f"{', '.join(names[:shown])} and {len(names) - shown} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def by_cause(errors: dict[str, str]) -> list[tuple[list[str], str]]:
    """The parts that failed for the same reason together (an unreachable endpoint fails every
    part with one message), in the order the parts first appear."""
    grouped: dict[str, list[str]] = {}
    for name, error in errors.items():
        grouped.setdefault(error, []).append(name)
    return [(names, error) for error, names in grouped.items()]


# Graph's refusal as GraphError words it ("403 Authorization_RequestDenied: ..."), not any "403"
# in the text: a port such as 127.0.0.1:33403 is not a refusal.
REFUSED = re.compile(r"(?<![\w.:])403 \w+: |Authorization_RequestDenied")


def _grant(assets: list[str], error: str) -> str:
    """For a refusal (403), the spec's resolution naming the permissions to grant."""
    if not REFUSED.search(error):
        return ""
    permissions = list(dict.fromkeys(grant_for(asset) for asset in assets))
    return " " + PARTIAL_RESOLUTION.format(permission=name_list(permissions, shown=len(permissions)))


def derive_state(fetch_errors: dict[str, str], rejected: dict[str, int], held_back: dict[str, str]) -> RunState:
    result = RunState()
    for assets, error in by_cause(fetch_errors):
        said = error if error.endswith(("?", "!", ".")) else error + "."
        result.partial(f"{name_list(assets)} not fetched: {said} Previously ingested data kept.{_grant(assets, error)}")
    for entity, count in sorted(rejected.items()):
        if count:
            result.partial(f"{count} {entity} record(s) rejected for a missing required field")
    for entity, reason in sorted(held_back.items()):
        if entity in fetch_errors:  # already said: its own pull failed
            continue
        result.partial(f"{entity} not delivered: {reason}")
    return result


# Failures whose cause the operator can remove: the words that tell them, and what to do.
FAILURE_REMEDIES = (
    (
        ("No space left on device", "database or disk is full", "disk I/O error"),
        "free space on the disk holding the home folder (data files and the store) and run again",
    ),
    (
        ("database is locked",),
        "another process holds the store database (store.sqlite): let it finish (or stop it) and run again",
    ),
)
NOTHING_LOST = "nothing already ingested was lost; the next run delivers what this one did not"


def with_remedy(failure: str) -> str:
    for words, remedy in FAILURE_REMEDIES:
        if any(word in failure for word in words):
            return f"{failure}. Remedy: {remedy} ({NOTHING_LOST})."
    return failure
