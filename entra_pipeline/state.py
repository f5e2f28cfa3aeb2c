"""The spec's outcome of a run: Processed (every selected entity fetched and delivered) or
Partially Processed (some data fetched, some not: a part refused or failed, records rejected
for a missing required field, an entity held back). A run that fetched nothing fails."""

from __future__ import annotations

from dataclasses import dataclass, field

PROCESSED = "Processed"
PARTIALLY_PROCESSED = "Partially Processed"


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


# Raw asset -> the permission to grant when Graph refuses it (least privileged; graph/permissions.py).
GRANT_FOR = {
    "users": "User.Read.All", "groups": "GroupMember.Read.All", "memberships": "Directory.Read.All",
    "roles": "RoleManagement.Read.Directory", "role_assignments": "RoleManagement.Read.Directory",
    "role_eligibility_schedules": "RoleEligibilitySchedule.Read.Directory",
    "directory_roles": "RoleManagement.Read.Directory", "administrative_units": "Directory.Read.All",
    "app_role_assignments": "Directory.Read.All", "service_principals": "Directory.Read.All",
    "applications": "Directory.Read.All", "tenant": "Directory.Read.All",
}
# The spec's Troubleshooting row for "Connector is in Partially Processed state".
PARTIAL_RESOLUTION = ("Typically caused by missing or unconsented API permissions for a specific object type: "
                      "grant {permission} (application permission) and have an administrator give admin consent.")


def derive_state(fetch_errors: dict[str, str], rejected: dict[str, int], held_back: dict[str, str]) -> RunState:
    result = RunState()
    for asset, error in sorted(fetch_errors.items()):
        remedy = (" " + PARTIAL_RESOLUTION.format(permission=GRANT_FOR.get(asset, "Directory.Read.All"))
                  if "403" in error or "Authorization_RequestDenied" in error else "")
        result.partial(f"{asset} not fetched: {error}.{remedy}")
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
    (("No space left on device", "database or disk is full", "disk I/O error"),
     "free space on the disk holding the home folder (data files and the store) and run again"),
    (("database is locked",),
     "another process holds the store database (store.sqlite): let it finish (or stop it) and run again"),
)
NOTHING_LOST = "nothing already ingested was lost; the next run delivers what this one did not"


def with_remedy(failure: str) -> str:
    for words, remedy in FAILURE_REMEDIES:
        if any(word in failure for word in words):
            return f"{failure}. Remedy: {remedy} ({NOTHING_LOST})."
    return failure
