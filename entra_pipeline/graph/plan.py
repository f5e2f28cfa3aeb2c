"""What to ask Graph, and in what shape: the set-based plan the pipeline runs, and the spec's
literal per-object plan kept as a reference implementation.

The set-based plan never calls Graph once per user, group or service principal:
- users: a delta round (its deltaLink seeds the next run);
- groups: in full, the delta link first (`$deltatoken=latest`, so changes made during the pull
  replay in the next round) and then the listing with each group's members expanded; only the
  groups whose expansion is full (Graph expands at most 20) have their members listed apart,
  side by side. Incrementally, a delta round with `members@delta`;
- directory roles and administrative units: delta rounds with `members@delta`; where a tenant
  refuses their delta, one listing per role or unit, every run;
- app role assignments: the service-principal listing with `appRoleAssignedTo` expanded, and
  the principals above the expansion's cap listed apart.
From these, every user's and group's `memberOf` and `appRoleAssignments` are derived locally
(`relationships.py`), identical to what the per-object endpoints return. docs/graph-access.md
has the plan with its sources and costs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from .. import redact
from .client import PART, GraphClient, GraphError
from .delta import Changes, Round, follow, kept_link, merge_item, odata_kind, run_round

log = logging.getLogger(__name__)

# Exactly what the transformation maps and relationships need (several are not returned by default).
USER_SELECT = (
    "id,userPrincipalName,accountEnabled,displayName,mail,givenName,surname,mobilePhone,jobTitle,"
    "lastPasswordChangeDateTime,streetAddress,state,city,country,postalCode,department"
)
GROUP_PROPERTIES = "id,displayName,description,visibility,securityIdentifier,securityEnabled,uniqueName"
GROUP_SELECT = GROUP_PROPERTIES + ",members"
# What a memberOf item needs for the maps (directory roles have no visibility, units have no uniqueName).
ROLE_SELECT = "id,displayName,description,roleTemplateId"
UNIT_SELECT = "id,displayName,description,visibility"
MEMBER_SELECT = "id"
ASSIGNMENT_SELECT = "id,appRoleId,principalId,principalType,principalDisplayName,resourceId,resourceDisplayName"
LARGE_PAGES = {"Prefer": "odata.maxpagesize=999"}  # delta takes no $top
EXPAND_CAP = 20  # Graph expands at most 20 directory objects per object, with no nextLink
# Requests fanned out beside the listings (members of large groups, ...) leave this many of the
# client's connections to the listings themselves: a listing is a chain, each page waits for one.
CHAIN_RESERVE = 6
# Answers meaning "this tenant or cloud does not offer that query": the plan falls back.
NOT_OFFERED = {400, 404, 405, 501}

CONTAINER_KINDS = {"groups": "group", "directoryRoles": "directoryRole", "administrativeUnits": "administrativeUnit"}


@dataclass
class Pull:
    """One pull of a tenant. `failed` names each part that could not be read, and why.

    For users, groups, directory roles and units, `changes` holds what their round brought and
    `rounds` how: a full round's changes are the whole entity (also in `objects` and
    `memberships`), an incremental one's only what changed since its link."""

    objects: dict[str, list[dict]] = field(default_factory=dict)
    app_role_assignments: list[dict] = field(default_factory=list)
    changes: dict[str, Changes] = field(default_factory=dict)
    delta_links: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    rounds: dict[str, Round] = field(default_factory=dict)
    memberships: list[dict] | None = None  # set when they come from elsewhere than full rounds

    def membership_rows(self) -> Iterator[dict]:
        """Every membership (container_id/type, member_id/type), made one at a time from the full
        rounds' changes: a list of them would be the largest thing a pull holds (9M rows at 1M
        users). Every membership Graph holds, including those of soft-deleted groups: they are
        hidden meanwhile but come back with a restore, which delta does not announce; the
        records stage ignores containers that are not live."""
        if self.memberships is not None:
            yield from self.memberships
            return
        for part, kind in CONTAINER_KINDS.items():
            changes = self.changes.get(part)
            if changes is None or self.rounds[part].mode == "delta":
                continue
            gone = changes.hard_deleted()
            for (container, member), member_kind in changes.members.items():
                if member_kind is not None and container not in gone:
                    yield {
                        "container_id": container,
                        "container_type": kind,
                        "member_id": member,
                        "member_type": member_kind,
                    }


class SetBasedPlan:
    """Runs the `parts` named (entities.plan_parts: what a connector's Asset Types read). `links`
    make the users, groups, directory-role and unit rounds incremental; without a link (first
    run, baseline, --full) an entity's round is full."""

    def __init__(self, client: GraphClient, parts: tuple[str, ...], links: dict[str, str] | None = None) -> None:
        self.client = client
        self.parts = parts
        self.links = links or {}
        self.pull = Pull()
        self.fanout = asyncio.Semaphore(max(1, client.settings.concurrency - CHAIN_RESERVE))

    async def run(self) -> Pull:
        known = {
            "users": self._users,
            "groups": self._groups,
            "directoryRoles": self._directory_roles,
            "administrativeUnits": self._administrative_units,
            "roles": self._roles,
            "appRoleAssignments": self._app_role_assignments,
            "applications": lambda: self._list("applications", "/applications?$top=999"),
            "tenant": lambda: self._list("tenant", "/organization"),
        }
        if set(self.parts) - set(known):  # a registry row without its plan code
            raise ValueError(f"the plan has no code for {sorted(set(self.parts) - set(known))}")
        tasks = [asyncio.ensure_future(start()) for name, start in known.items() if name in self.parts]
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
            return (
                f"{len(self.pull.app_role_assignments)} app role assignments from "
                f"{len(objects.get('servicePrincipals', []))} service principals"
            )
        if part == "roles":
            return (
                f"{len(objects['roles'])} role definitions, {len(objects['roleAssignments'])} role assignments, "
                f"{len(objects['roleEligibilitySchedules'])} eligibility schedules"
            )
        round_ = self.pull.rounds.get(part)
        if round_ is not None and round_.mode == "delta":
            return f"{round_.changes} changed {part} (delta round)"
        return f"{len(objects.get(part, []))} {part}"

    def _list(self, entity: str, path: str):
        async def work() -> None:
            self.pull.objects[entity], _ = await self.client.all_pages(path)

        return self._guard(entity, work())

    # ---------------------------------------------------------------- delta entities
    def _delta_part(self, part: str, full: Callable[[Changes, str], Awaitable[Round]]):
        """Users, groups, roles, units: a round from the committed link, else `full`."""

        async def work() -> None:
            changes = Changes()
            result = await run_round(
                self.client,
                self.links.get(part),
                LARGE_PAGES,
                lambda item: merge_item(changes, item),
                changes.clear,
                lambda mode: full(changes, mode),
            )
            self.pull.changes[part] = changes
            self.pull.rounds[part] = result
            if result.link:
                self.pull.delta_links[part] = result.link
            if result.mode != "delta":
                self.pull.objects[part] = list(changes.objects.values())

        return self._guard(part, work())

    def _delta_round(self, initial: str) -> Callable[[Changes, str], Awaitable[Round]]:
        """A full round of a delta query: every object, and its link at the end."""

        def full(changes: Changes, mode: str) -> Awaitable[Round]:
            return follow(
                self.client, initial, LARGE_PAGES, lambda item: merge_item(changes, item), changes.clear, Round(mode)
            )

        return full

    def _users(self):
        return self._delta_part("users", self._delta_round(f"/users/delta?$select={USER_SELECT}"))

    def _groups(self):
        async def full(changes: Changes, mode: str) -> Round:
            # The link first: what changes while the groups are listed replays in the next round.
            latest = await self.client.get(f"/groups/delta?$select={GROUP_SELECT}&$deltatoken=latest")
            link = kept_link(self.client, "/groups/delta", latest.get("@odata.deltaLink"))
            try:
                count = await self._expanded(
                    changes,
                    f"/groups?$select={GROUP_PROPERTIES}&$expand=members($select={MEMBER_SELECT})&$top=999",
                    "members",
                    "group",
                    lambda gid: f"/groups/{gid}/members?$select={MEMBER_SELECT}&$top=999",
                    lambda gid, items: add_members(changes, gid, items),
                )
            except GraphError as error:
                if error.status not in NOT_OFFERED:
                    raise
                log.warning(
                    "the groups listing with members expanded was refused (%s): a full delta round instead", error
                )
                changes.clear()
                return await self._delta_round(f"/groups/delta?$select={GROUP_SELECT}")(changes, mode)
            return Round(mode, count, link)

        return self._delta_part("groups", full)

    def _containers(self, part: str, delta_path: str, list_path: str, members_path: str, kind: str, select: str):
        async def full(changes: Changes, mode: str) -> Round:
            try:
                return await self._delta_round(f"{delta_path}?$select={select},members")(changes, mode)
            except GraphError as error:
                if error.status not in NOT_OFFERED:
                    raise
                log.warning("%s: delta refused (%s): one listing per %s instead, every run", part, error, kind)
            changes.clear()
            containers, _ = await self.client.all_pages(f"{list_path}?$select={select}")

            async def members_of(container: dict) -> None:
                items = await self._children(
                    kind, container["id"], members_path.format(id=container["id"]) + f"?$select={MEMBER_SELECT}"
                )
                if items is not None:
                    changes.objects[container["id"]] = container
                    add_members(changes, container["id"], items)

            await asyncio.gather(*(members_of(c) for c in containers))
            return Round(mode, len(containers), None)  # no link: listed in full every run

        return self._delta_part(part, full)

    def _directory_roles(self):
        return self._containers(
            "directoryRoles",
            "/directoryRoles/delta",
            "/directoryRoles",
            "/directoryRoles/{id}/members",
            "directoryRole",
            ROLE_SELECT,
        )

    def _administrative_units(self):
        return self._containers(
            "administrativeUnits",
            "/directory/administrativeUnits/delta",
            "/directory/administrativeUnits",
            "/directory/administrativeUnits/{id}/members",
            "administrativeUnit",
            UNIT_SELECT,
        )

    # ---------------------------------------------------------------- listings with an expansion
    async def _expanded(
        self,
        changes: Changes,
        path: str,
        navigation: str,
        kind: str,
        rest_of: Callable[[str], str],
        add: Callable[[str, list[dict]], None],
        reset: Callable[[], None] | None = None,
    ) -> int:
        """A listing whose objects carry `navigation` expanded: an object whose expansion came
        full (EXPAND_CAP items, perhaps more) has the whole collection listed apart, side by side
        with the listing. An object deleted before that (404) is left out of this run."""
        pending: list[tuple[str, asyncio.Task]] = []
        count = 0

        def restart() -> None:  # an expired page token: the listing starts again
            changes.clear()
            if reset:
                reset()

        try:
            async for page in self.client.pages(path, on_restart=restart):
                for obj in page.get("value", []):
                    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                        log.warning("%s: an item without an id skipped: %.200s", path.split("?")[0], obj)
                        continue
                    items = obj.pop(navigation, None)
                    changes.objects[obj["id"]] = obj
                    count += 1
                    if not isinstance(items, list) or len(items) >= EXPAND_CAP:
                        pending.append(
                            (obj["id"], asyncio.ensure_future(self._fanned_out(kind, obj["id"], rest_of(obj["id"]))))
                        )
                        continue
                    add(obj["id"], items)
            for object_id, task in pending:
                items = await task
                if items is None:
                    changes.objects.pop(object_id, None)
                    continue
                add(object_id, items)
        finally:
            for _, task in pending:
                task.cancel()
        return count

    async def _fanned_out(self, kind: str, object_id: str, path: str) -> list[dict] | None:
        async with self.fanout:
            return await self._children(kind, object_id, path)

    async def _children(self, kind: str, object_id: str, path: str) -> list[dict] | None:
        """The items of an object's child listing; None when the object was deleted since it was
        listed (404): it is left out of this run, and the next run sees the deletion. Any other
        error fails the part, naming the object."""
        try:
            items, _ = await self.client.all_pages(path)
            return items
        except GraphError as error:
            if error.gone:
                log.warning(
                    "%s %s was deleted during the run (404 %s): left out, the next run sees the deletion",
                    kind,
                    object_id,
                    error.code,
                )
                return None
            raise GraphError(error.status, error.code, f"{kind} {object_id}: {error.message}", error.url) from None

    def _roles(self):
        async def work() -> None:
            definitions, assignments, eligibility = await asyncio.gather(
                self.client.all_pages("/roleManagement/directory/roleDefinitions"),
                self.client.all_pages("/roleManagement/directory/roleAssignments?$top=999"),
                self.client.all_pages("/roleManagement/directory/roleEligibilitySchedules?$top=999"),
            )
            self.pull.objects["roles"] = definitions[0]
            self.pull.objects["roleAssignments"] = assignments[0]
            self.pull.objects["roleEligibilitySchedules"] = eligibility[0]

        return self._guard("roles", work())

    def _app_role_assignments(self):
        async def work() -> None:
            # Every service principal, not only those defining app roles: default-access
            # assignments (appRoleId 0000…) live on principals that define none.
            principals = Changes()
            assignments: dict[str, dict] = {}
            try:
                await self._expanded(
                    principals,
                    f"/servicePrincipals?$top=999&$expand=appRoleAssignedTo($select={ASSIGNMENT_SELECT})",
                    "appRoleAssignedTo",
                    "servicePrincipal",
                    lambda sp: f"/servicePrincipals/{sp}/appRoleAssignedTo?$top=999&$select={ASSIGNMENT_SELECT}",
                    lambda sp, items: assignments.update((item["id"], item) for item in items),
                    assignments.clear,
                )
            except GraphError as error:
                if error.status not in NOT_OFFERED:
                    raise
                log.warning(
                    "the service-principal listing with appRoleAssignedTo expanded was refused (%s): "
                    "one listing per service principal instead",
                    error,
                )
                principals.clear()
                assignments.clear()
                await self._assignments_per_principal(principals, assignments)
            self.pull.objects["servicePrincipals"] = list(principals.objects.values())
            self.pull.app_role_assignments = list(assignments.values())

        return self._guard("appRoleAssignments", work())

    async def _assignments_per_principal(self, principals: Changes, assignments: dict[str, dict]) -> None:
        listed, _ = await self.client.all_pages("/servicePrincipals?$top=999")

        async def assigned_to(sp: dict) -> None:
            items = await self._fanned_out(
                "servicePrincipal",
                sp["id"],
                f"/servicePrincipals/{sp['id']}/appRoleAssignedTo?$top=999&$select={ASSIGNMENT_SELECT}",
            )
            if items is not None:
                principals.objects[sp["id"]] = sp
                for item in items:
                    assignments[item["id"]] = item

        await asyncio.gather(*(assigned_to(sp) for sp in listed))


def add_members(changes: Changes, container_id: str, items: list[dict]) -> None:
    """A container's member items (`@odata.type` and `id`) as its memberships."""
    members, kinds = changes.members, _KINDS
    for item in items:
        odata_type = item.get("@odata.type")
        kind = kinds.get(odata_type)
        if kind is None:
            kind = kinds[odata_type] = odata_kind(odata_type)
        members[(container_id, item["id"])] = kind


_KINDS: dict[str | None, str] = {}  # @odata.type -> member kind, as seen


class LiteralPlan:
    """The spec's endpoints followed literally: two or more calls per user, group and service
    principal. Kept only as the reference the set-based plan is checked (and benchmarked) against."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    async def relationships(self) -> dict[tuple[str, str], dict[str, frozenset]]:
        users, _ = await self.client.all_pages("/users?$top=999&$select=id")
        groups, _ = await self.client.all_pages("/groups?$top=999&$select=id")
        principals, _ = await self.client.all_pages("/servicePrincipals?$top=999&$select=id")

        async def ids(path: str, typed: bool = False) -> frozenset:
            items, _ = await self.client.all_pages(path)
            return frozenset((odata_kind(i.get("@odata.type")), i["id"]) if typed else i["id"] for i in items)

        async def user(u: dict):
            return ("user", u["id"]), {
                "memberOf": await ids(f"/users/{u['id']}/memberOf?$select=id", typed=True),
                "appRoleAssignments": await ids(f"/users/{u['id']}/appRoleAssignments?$select=id"),
            }

        async def group(g: dict):
            return ("group", g["id"]), {
                "memberOf": await ids(f"/groups/{g['id']}/memberof?$select=id", typed=True),
                "appRoleAssignments": await ids(f"/groups/{g['id']}/appRoleAssignments?$select=id"),
            }

        async def principal(sp: dict):
            return ("servicePrincipal", sp["id"]), {
                "appRoleAssignedTo": await ids(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo?$select=id"),
                "appRoleAssignments": await ids(f"/servicePrincipals/{sp['id']}/appRoleAssignments?$select=id"),
            }

        results = await asyncio.gather(
            *(user(u) for u in users), *(group(g) for g in groups), *(principal(sp) for sp in principals)
        )
        return dict(results)
