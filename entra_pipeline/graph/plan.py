"""What to ask Graph, and in what shape: the set-based plan the pipeline runs, and the spec's
literal per-object plan kept as a reference implementation.

The set-based plan never calls Graph once per user. Users and groups come from delta rounds
(their deltaLinks seed later delta runs); group memberships from `members@delta` in the same
round; directory-role and administrative-unit memberships from one listing per role or unit;
app role assignments from each service principal's `appRoleAssignedTo`. From these, every
user's and group's `memberOf` and `appRoleAssignments` are derived locally
(`relationships.py`), identical to what the per-object endpoints return.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from .. import redact
from .client import PART, GraphClient, GraphError
from .delta import Round, Snapshot, merge_user, run_round

log = logging.getLogger(__name__)

# Exactly what the transformation maps and relationships need (several are not returned by default).
USER_SELECT = ("id,userPrincipalName,accountEnabled,displayName,mail,givenName,surname,mobilePhone,jobTitle,"
               "lastPasswordChangeDateTime,streetAddress,state,city,country,postalCode,department")
GROUP_SELECT = "id,displayName,description,visibility,securityIdentifier,securityEnabled,uniqueName,members"
# What a memberOf item needs for the maps (directory roles have no visibility, units have no uniqueName).
ROLE_SELECT = "id,displayName,description,roleTemplateId"
UNIT_SELECT = "id,displayName,description,visibility"
MEMBER_SELECT = "id"
ASSIGNMENT_SELECT = "id,appRoleId,principalId,principalType,principalDisplayName,resourceId,resourceDisplayName"
LARGE_PAGES = {"Prefer": "odata.maxpagesize=999"}  # delta takes no $top

IDENTITIES = ("users", "groups", "roles")
POSTURE = ("applications", "servicePrincipals", "tenant")


def entities_for(asset_types: str) -> tuple[str, ...]:
    return IDENTITIES + (POSTURE if asset_types == "identities_with_security_posture" else ())


def odata_kind(odata_type: str | None) -> str:
    return (odata_type or "#microsoft.graph.user").rsplit(".", 1)[-1]


@dataclass
class Pull:
    """One pull of a tenant. `failed` names each part that could not be read, and why."""

    objects: dict[str, list[dict]] = field(default_factory=dict)
    memberships: list[dict] = field(default_factory=list)  # container_id/type, member_id/type
    app_role_assignments: list[dict] = field(default_factory=list)
    delta_links: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    rounds: dict[str, Round] = field(default_factory=dict)  # users, groups: full, delta or resync


class SetBasedPlan:
    """`snapshot` and `links` make users and groups delta rounds merged into what earlier runs
    built; without them (first run, baseline, --full) they are full rounds."""

    def __init__(self, client: GraphClient, entities: tuple[str, ...], snapshot: Snapshot | None = None,
                 links: dict[str, str] | None = None) -> None:
        self.client = client
        self.entities = entities
        self.snapshot = snapshot or Snapshot()
        self.links = links if snapshot is not None else {}
        self.pull = Pull()

    async def run(self) -> Pull:
        parts = [self._users(), self._groups(), self._directory_roles(), self._administrative_units(),
                 self._roles(), self._app_role_assignments()]
        if "applications" in self.entities:
            parts.append(self._list("applications", "/applications?$top=999"))
        if "tenant" in self.entities:
            parts.append(self._list("tenant", "/organization"))
        tasks = [asyncio.ensure_future(part) for part in parts]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # An interrupt (SIGINT/SIGTERM: Dagster's DagsterExecutionInterruptedError, not an
            # Exception) arrives in whichever part was running: the run stops now, not when
            # every other part has finished.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # ended before the client closes
            raise
        return self.pull

    async def _guard(self, part: str, work) -> None:
        """A part that fails is recorded, not fatal: the others still arrive (Partially Processed)."""
        PART.set(part)  # each gathered part runs in its own task, so its own context
        try:
            await work
        except GraphError as error:
            log.warning("could not read %s: %s", part, error)
            self.pull.failed[part] = str(error)
            return
        except Exception as error:  # noqa: BLE001 - an answer no code path expected: that part, not the run
            log.warning("could not read %s: %s: %s", part, type(error).__name__, error, exc_info=True)
            self.pull.failed[part] = f"{type(error).__name__}: {redact.mask(str(error))[:300]}"
            return
        log.info("fetched %s", self._progress(part))

    def _progress(self, part: str) -> str:
        objects = self.pull.objects
        if part == "appRoleAssignments":
            return (f"{len(self.pull.app_role_assignments)} app role assignments from "
                    f"{len(objects.get('servicePrincipals', []))} service principals")
        if part == "roles":
            return (f"{len(objects['roles'])} role definitions, {len(objects['roleAssignments'])} role assignments, "
                    f"{len(objects['roleEligibilitySchedules'])} eligibility schedules")
        return f"{len(objects.get(part, []))} {part}"

    def _list(self, entity: str, path: str):
        async def work() -> None:
            self.pull.objects[entity], _ = await self.client.collect(path)
        return self._guard(entity, work())

    def _users(self):
        async def work() -> None:
            users = self.snapshot.users
            result = await run_round(self.client, f"/users/delta?$select={USER_SELECT}", self.links.get("users"),
                                     LARGE_PAGES, lambda item: merge_user(users, item), users.clear)
            self.pull.objects["users"] = list(users.values())
            self.pull.delta_links["users"] = result.link
            self.pull.rounds["users"] = result
        return self._guard("users", work())

    def _groups(self):
        async def work() -> None:
            groups, members = self.snapshot.groups, self.snapshot.group_members

            def reset() -> None:
                groups.clear()
                members.clear()

            result = await run_round(self.client, f"/groups/delta?$select={GROUP_SELECT}", self.links.get("groups"),
                                     LARGE_PAGES, lambda item: merge_group_item(groups, members, item), reset)
            self.pull.objects["groups"] = list(groups.values())
            # Every membership Graph holds, including those of soft-deleted users and groups: they are
            # hidden meanwhile but come back with a restore, which group delta does not announce.
            # The records stage ignores principals and containers that are not live.
            self.pull.memberships.extend(
                {"container_id": g, "container_type": "group", "member_id": m, "member_type": kind}
                for (g, m), kind in members.items())
            self.pull.delta_links["groups"] = result.link
            self.pull.rounds["groups"] = result
        return self._guard("groups", work())

    def _containers(self, part: str, list_path: str, members_path: str, kind: str, select: str):
        async def work() -> None:
            containers, _ = await self.client.collect(f"{list_path}?$select={select}")

            async def members_of(container: dict) -> list[dict] | None:
                items = await self._children(kind, container["id"], members_path.format(id=container["id"]) +
                                             f"?$select={MEMBER_SELECT}")
                return None if items is None else [
                    {"container_id": container["id"], "container_type": kind, "member_id": m["id"],
                     "member_type": odata_kind(m.get("@odata.type"))} for m in items]

            found = await asyncio.gather(*(members_of(c) for c in containers))
            self.pull.objects[part] = [c for c, rows in zip(containers, found) if rows is not None]
            for rows in found:
                self.pull.memberships.extend(rows or ())
        return self._guard(part, work())

    async def _children(self, kind: str, object_id: str, path: str) -> list[dict] | None:
        """The items of an object's child listing; None when the object was deleted since it was
        listed (404): it is left out of this run, and the next run sees the deletion. Any other
        error fails the part, naming the object."""
        try:
            items, _ = await self.client.collect(path)
            return items
        except GraphError as error:
            if error.gone:
                log.warning("%s %s was deleted during the run (404 %s): left out, the next run sees the deletion",
                            kind, object_id, error.code)
                return None
            raise GraphError(error.status, error.code, f"{kind} {object_id}: {error.message}", error.url) from None

    def _directory_roles(self):
        return self._containers("directoryRoles", "/directoryRoles", "/directoryRoles/{id}/members", "directoryRole",
                                ROLE_SELECT)

    def _administrative_units(self):
        return self._containers("administrativeUnits", "/directory/administrativeUnits",
                                "/directory/administrativeUnits/{id}/members", "administrativeUnit", UNIT_SELECT)

    def _roles(self):
        async def work() -> None:
            definitions, assignments, eligibility = await asyncio.gather(
                self.client.collect("/roleManagement/directory/roleDefinitions"),
                self.client.collect("/roleManagement/directory/roleAssignments?$top=999"),
                self.client.collect("/roleManagement/directory/roleEligibilitySchedules?$top=999"))
            self.pull.objects["roles"] = definitions[0]
            self.pull.objects["roleAssignments"] = assignments[0]
            self.pull.objects["roleEligibilitySchedules"] = eligibility[0]
        return self._guard("roles", work())

    def _app_role_assignments(self):
        async def work() -> None:
            principals, _ = await self.client.collect("/servicePrincipals?$top=999")

            async def assigned_to(sp: dict) -> list[dict] | None:
                # Every service principal, not only those defining app roles: default-access
                # assignments (appRoleId 0000…) live on principals that define none.
                return await self._children("servicePrincipal", sp["id"], f"/servicePrincipals/{sp['id']}/"
                                            f"appRoleAssignedTo?$top=999&$select={ASSIGNMENT_SELECT}")

            found = await asyncio.gather(*(assigned_to(sp) for sp in principals))
            self.pull.objects["servicePrincipals"] = [sp for sp, items in zip(principals, found) if items is not None]
            assignments: dict[str, dict] = {}
            for items in found:
                for item in items or ():
                    assignments[item["id"]] = item
            self.pull.app_role_assignments = list(assignments.values())
        return self._guard("appRoleAssignments", work())


def merge_group_item(groups: dict[str, dict], members: dict[tuple[str, str], str], item: dict) -> None:
    """Merge one groups/delta item: the same group may come on several pages, each with a slice
    of its members@delta; removals carry @removed."""
    group_id = item["id"]
    if "@removed" in item:
        groups.pop(group_id, None)
        if item["@removed"].get("reason") == "deleted":  # gone for good; a soft-deleted group keeps them
            for key in [k for k in members if k[0] == group_id]:
                del members[key]
        return
    properties = {k: v for k, v in item.items() if k != "members@delta"}
    groups[group_id] = {**groups.get(group_id, {}), **properties}
    for member in item.get("members@delta", []):
        key = (group_id, member["id"])
        if "@removed" in member:
            members.pop(key, None)
        else:
            members[key] = odata_kind(member.get("@odata.type"))


class LiteralPlan:
    """The spec's endpoints followed literally: two or more calls per user, group and service
    principal. Kept only as the reference the set-based plan is checked (and benchmarked) against."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    async def relationships(self) -> dict[tuple[str, str], dict[str, frozenset]]:
        users, _ = await self.client.collect("/users?$top=999&$select=id")
        groups, _ = await self.client.collect("/groups?$top=999&$select=id")
        principals, _ = await self.client.collect("/servicePrincipals?$top=999&$select=id")

        async def ids(path: str, typed: bool = False) -> frozenset:
            items, _ = await self.client.collect(path)
            return frozenset((odata_kind(i.get("@odata.type")), i["id"]) if typed else i["id"] for i in items)

        async def user(u: dict):
            return ("user", u["id"]), {
                "memberOf": await ids(f"/users/{u['id']}/memberOf?$select=id", typed=True),
                "appRoleAssignments": await ids(f"/users/{u['id']}/appRoleAssignments?$select=id")}

        async def group(g: dict):
            return ("group", g["id"]), {
                "memberOf": await ids(f"/groups/{g['id']}/memberof?$select=id", typed=True),
                "appRoleAssignments": await ids(f"/groups/{g['id']}/appRoleAssignments?$select=id")}

        async def principal(sp: dict):
            return ("servicePrincipal", sp["id"]), {
                "appRoleAssignedTo": await ids(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo?$select=id"),
                "appRoleAssignments": await ids(f"/servicePrincipals/{sp['id']}/appRoleAssignments?$select=id")}

        results = await asyncio.gather(*(user(u) for u in users), *(group(g) for g in groups),
                                       *(principal(sp) for sp in principals))
        return dict(results)
