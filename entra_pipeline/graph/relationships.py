"""Per-object relationships derived from set-based data: what `/users/{id}/memberOf`,
`/users/{id}/appRoleAssignments` (which also returns the app roles of the user's direct
groups), `/groups/{id}/memberOf`, `/groups/{id}/appRoleAssignments` and the service
principal endpoints would each return."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


class RelationshipIndex:
    def __init__(self, memberships: Iterable[dict], assignments: list[dict]) -> None:
        self.member_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.direct_groups: dict[str, list[str]] = defaultdict(list)
        member_of, direct_groups = self.member_of, self.direct_groups
        for row in memberships:  # each field read once: this runs for every membership of the tenant
            member, kind, container = row["member_id"], row["container_type"], row["container_id"]
            member_of[member].append((kind, container))
            if kind == "group":
                direct_groups[member].append(container)
        self.by_principal: dict[str, list[dict]] = defaultdict(list)
        self.by_resource: dict[str, list[dict]] = defaultdict(list)
        by_principal, by_resource = self.by_principal, self.by_resource
        for assignment in assignments:
            by_principal[assignment["principalId"]].append(assignment)
            by_resource[assignment["resourceId"]].append(assignment)

    def containers(self, object_id: str) -> list[tuple[str, str]]:
        return self.member_of.get(object_id, [])

    def user_assignments(self, user_id: str) -> list[dict]:
        """The user's own assignments and those of the groups it is a direct member of."""
        by_principal = self.by_principal
        own = by_principal.get(user_id)
        inherited = [by_principal[g] for g in self.direct_groups.get(user_id, ()) if g in by_principal]
        if not inherited:  # the common case: nothing to merge (own ids kept once, the last of each)
            return list({a["id"]: a for a in own}.values()) if own else []
        found = {a["id"]: a for a in own} if own else {}
        for items in inherited:
            for assignment in items:
                found.setdefault(assignment["id"], assignment)
        return list(found.values())

    def principal_assignments(self, principal_id: str) -> list[dict]:
        return self.by_principal.get(principal_id, [])

    def resource_assignments(self, resource_id: str) -> list[dict]:
        return self.by_resource.get(resource_id, [])


def relationship_sets(
    memberships: list[dict],
    assignments: list[dict],
    users: list[dict],
    groups: list[dict],
    service_principals: list[dict],
) -> dict[tuple[str, str], dict[str, frozenset]]:
    index = RelationshipIndex(memberships, assignments)

    def ids(items: list[dict]) -> frozenset:
        return frozenset(a["id"] for a in items)

    result: dict[tuple[str, str], dict[str, frozenset]] = {}
    for user in users:
        result[("user", user["id"])] = {
            "memberOf": frozenset(index.containers(user["id"])),
            "appRoleAssignments": ids(index.user_assignments(user["id"])),
        }
    for group in groups:
        result[("group", group["id"])] = {
            "memberOf": frozenset(index.containers(group["id"])),
            "appRoleAssignments": ids(index.principal_assignments(group["id"])),
        }
    for sp in service_principals:
        result[("servicePrincipal", sp["id"])] = {
            "appRoleAssignedTo": ids(index.resource_assignments(sp["id"])),
            "appRoleAssignments": ids(index.principal_assignments(sp["id"])),
        }
    return result
