"""Per-object relationships derived from set-based data: what `/users/{id}/memberOf`,
`/users/{id}/appRoleAssignments` (which also returns the app roles of the user's direct
groups), `/groups/{id}/memberOf`, `/groups/{id}/appRoleAssignments` and the service
principal endpoints would each return."""

from __future__ import annotations

from collections import defaultdict


class RelationshipIndex:
    def __init__(self, memberships: list[dict], assignments: list[dict]) -> None:
        self.member_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.direct_groups: dict[str, list[str]] = defaultdict(list)
        for row in memberships:
            self.member_of[row["member_id"]].append((row["container_type"], row["container_id"]))
            if row["container_type"] == "group":
                self.direct_groups[row["member_id"]].append(row["container_id"])
        self.by_principal: dict[str, list[dict]] = defaultdict(list)
        self.by_resource: dict[str, list[dict]] = defaultdict(list)
        for assignment in assignments:
            self.by_principal[assignment["principalId"]].append(assignment)
            self.by_resource[assignment["resourceId"]].append(assignment)

    def containers(self, object_id: str) -> list[tuple[str, str]]:
        return self.member_of.get(object_id, [])

    def user_assignments(self, user_id: str) -> list[dict]:
        """The user's own assignments and those of the groups it is a direct member of."""
        found = {a["id"]: a for a in self.by_principal.get(user_id, [])}
        for group_id in self.direct_groups.get(user_id, []):
            for assignment in self.by_principal.get(group_id, []):
                found.setdefault(assignment["id"], assignment)
        return list(found.values())

    def principal_assignments(self, principal_id: str) -> list[dict]:
        return self.by_principal.get(principal_id, [])

    def resource_assignments(self, resource_id: str) -> list[dict]:
        return self.by_resource.get(resource_id, [])


def relationship_sets(memberships: list[dict], assignments: list[dict], users: list[dict], groups: list[dict],
                      service_principals: list[dict]) -> dict[tuple[str, str], dict[str, frozenset]]:
    index = RelationshipIndex(memberships, assignments)

    def ids(items: list[dict]) -> frozenset:
        return frozenset(a["id"] for a in items)

    result: dict[tuple[str, str], dict[str, frozenset]] = {}
    for user in users:
        result[("user", user["id"])] = {"memberOf": frozenset(index.containers(user["id"])),
                                        "appRoleAssignments": ids(index.user_assignments(user["id"]))}
    for group in groups:
        result[("group", group["id"])] = {"memberOf": frozenset(index.containers(group["id"])),
                                          "appRoleAssignments": ids(index.principal_assignments(group["id"]))}
    for sp in service_principals:
        result[("servicePrincipal", sp["id"])] = {"appRoleAssignedTo": ids(index.resource_assignments(sp["id"])),
                                                  "appRoleAssignments": ids(index.principal_assignments(sp["id"]))}
    return result
