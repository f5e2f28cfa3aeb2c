"""Per-object relationships derived from set-based data: what `/users/{id}/memberOf`,
`/users/{id}/appRoleAssignments` (which also returns the app roles of the user's direct
groups), `/groups/{id}/memberOf`, `/groups/{id}/appRoleAssignments` and the service
principal endpoints would each return."""

from __future__ import annotations

from collections import defaultdict


def relationship_sets(memberships: list[dict], assignments: list[dict], users: list[dict], groups: list[dict],
                      service_principals: list[dict]) -> dict[tuple[str, str], dict[str, frozenset]]:
    member_of: dict[str, set] = defaultdict(set)
    direct_groups: dict[str, set] = defaultdict(set)
    for row in memberships:
        member_of[row["member_id"]].add((row["container_type"], row["container_id"]))
        if row["container_type"] == "group":
            direct_groups[row["member_id"]].add(row["container_id"])
    by_principal: dict[str, set] = defaultdict(set)
    by_resource: dict[str, set] = defaultdict(set)
    for assignment in assignments:
        by_principal[assignment["principalId"]].add(assignment["id"])
        by_resource[assignment["resourceId"]].add(assignment["id"])

    result: dict[tuple[str, str], dict[str, frozenset]] = {}
    for user in users:
        inherited = set().union(*(by_principal[g] for g in direct_groups[user["id"]])) if direct_groups[user["id"]] else set()
        result[("user", user["id"])] = {"memberOf": frozenset(member_of[user["id"]]),
                                        "appRoleAssignments": frozenset(by_principal[user["id"]] | inherited)}
    for group in groups:
        result[("group", group["id"])] = {"memberOf": frozenset(member_of[group["id"]]),
                                          "appRoleAssignments": frozenset(by_principal[group["id"]])}
    for sp in service_principals:
        result[("servicePrincipal", sp["id"])] = {"appRoleAssignedTo": frozenset(by_resource[sp["id"]]),
                                                  "appRoleAssignments": frozenset(by_principal[sp["id"]])}
    return result
