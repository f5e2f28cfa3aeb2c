"""The simulated directory: objects, relationships, mutations and the change log delta reads.

Objects are plain dicts holding Graph JSON properties; a property that was never set is
absent (GET returns it as null, delta omits it, as Graph does). Every mutation appends
to an append-only change log, stamped with a monotonically increasing sequence number;
delta tokens are positions in that log.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import catalog

CONTAINER_KINDS = ("group", "directoryRole", "administrativeUnit")


class SimulatorError(Exception):
    """A mutation that the directory would refuse (unknown id, wrong kind, ...)."""


@dataclass(frozen=True)
class Change:
    """One entry of the change log. `entity` is the kind delta tracks: "user", "group",
    "directoryRole" or "administrativeUnit"."""

    seq: int
    entity: str
    object_id: str
    action: str  # "upsert" | "removed" | "member"
    properties: frozenset[str] | None = None  # upsert: changed properties; None = all
    member_id: str | None = None
    member_kind: str | None = None
    added: bool = True


@dataclass
class ChangeLog:
    entries: list[Change] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    seq: int = 0

    def append(self, entity: str, object_id: str, action: str, **kwargs) -> None:
        self.seq += 1
        self.entries.append(Change(self.seq, entity, object_id, action, **kwargs))
        self.seqs.append(self.seq)

    def between(self, after: int, upto: int) -> Iterator[Change]:
        """Entries with after < seq <= upto."""
        start = bisect.bisect_right(self.seqs, after)
        end = bisect.bisect_right(self.seqs, upto)
        return iter(self.entries[start:end])


def now_iso(clock: dt.datetime) -> str:
    return clock.strftime("%Y-%m-%dT%H:%M:%SZ")


class Tenant:
    """All directory state of one tenant. Callers hold `lock` around reads and writes."""

    def __init__(self, tenant_id: str, domain: str) -> None:
        self.lock = threading.RLock()
        self.tenant_id = tenant_id
        self.domain = domain
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.deleted_users: dict[str, dict] = {}  # soft-deleted: restorable
        self.deleted_groups: dict[str, dict] = {}
        self.user_order: list[str] = []  # listing order; ids of deleted objects are skipped
        self.group_order: list[str] = []
        self.directory_roles: dict[str, dict] = {}
        self.administrative_units: dict[str, dict] = {}
        self.role_definitions: dict[str, dict] = {}
        self.role_assignments: dict[str, dict] = {}
        self.role_eligibility_schedules: dict[str, dict] = {}
        self.applications: dict[str, dict] = {}
        self.service_principals: dict[str, dict] = {}
        self.app_role_assignments: dict[str, dict] = {}
        self.organization: dict = {}
        # container id (group / directory role / AU) -> member ids, in insertion order
        self.members: dict[str, dict[str, None]] = {}
        # principal id -> container ids (the reverse of `members`)
        self.member_of: dict[str, dict[str, None]] = {}
        self.assignments_by_principal: dict[str, dict[str, None]] = {}
        self.assignments_by_resource: dict[str, dict[str, None]] = {}
        self.log = ChangeLog()
        self._member_list_cache: dict[str, list[str]] = {}
        self.clock = lambda: dt.datetime.now(dt.UTC)

    # ------------------------------------------------------------------ lookups
    def kind_of(self, object_id: str) -> str | None:
        for kind, table in (
            ("user", self.users),
            ("group", self.groups),
            ("servicePrincipal", self.service_principals),
            ("directoryRole", self.directory_roles),
            ("administrativeUnit", self.administrative_units),
            ("application", self.applications),
        ):
            if object_id in table:
                return kind
        return None

    def get(self, object_id: str) -> dict | None:
        kind = self.kind_of(object_id)
        return None if kind is None else self.table(kind)[object_id]

    def table(self, kind: str) -> dict[str, dict]:
        return {
            "user": self.users,
            "group": self.groups,
            "servicePrincipal": self.service_principals,
            "directoryRole": self.directory_roles,
            "administrativeUnit": self.administrative_units,
            "application": self.applications,
        }[kind]

    def live_members(self, container_id: str) -> list[str]:
        """Members that exist now (soft-deleted principals are hidden, as in Graph)."""
        cached = self._member_list_cache.get(container_id)
        if cached is None:
            cached = [m for m in self.members.get(container_id, ()) if self.kind_of(m) is not None]
            self._member_list_cache[container_id] = cached
        return cached

    def containers_of(self, principal_id: str, kinds: Iterable[str] = CONTAINER_KINDS) -> list[tuple[str, str]]:
        wanted = set(kinds)
        result = []
        for container_id in self.member_of.get(principal_id, ()):
            kind = self.kind_of(container_id)
            if kind in wanted:
                result.append((kind, container_id))
        return result

    def assignments_to_principal(self, principal_id: str) -> list[dict]:
        return [self.app_role_assignments[a] for a in self.assignments_by_principal.get(principal_id, ())]

    def assignments_on_resource(self, resource_id: str) -> list[dict]:
        return [
            a
            for a in (self.app_role_assignments[i] for i in self.assignments_by_resource.get(resource_id, ()))
            if self.kind_of(a["principalId"]) is not None
        ]

    # ------------------------------------------------------------------ raw builders (generator)
    def _invalidate_members(self, container_id: str) -> None:
        self._member_list_cache.pop(container_id, None)

    def _link(self, container_id: str, member_id: str) -> bool:
        members = self.members.setdefault(container_id, {})
        if member_id in members:
            return False
        members[member_id] = None
        self.member_of.setdefault(member_id, {})[container_id] = None
        self._invalidate_members(container_id)
        return True

    def _unlink(self, container_id: str, member_id: str) -> bool:
        members = self.members.get(container_id, {})
        if member_id not in members:
            return False
        del members[member_id]
        self.member_of.get(member_id, {}).pop(container_id, None)
        self._invalidate_members(container_id)
        return True

    def add_user_raw(self, user: dict) -> None:
        self.users[user["id"]] = user
        self.user_order.append(user["id"])

    def add_group_raw(self, group: dict) -> None:
        self.groups[group["id"]] = group
        self.group_order.append(group["id"])

    def add_assignment_raw(self, assignment: dict) -> None:
        self.app_role_assignments[assignment["id"]] = assignment
        self.assignments_by_principal.setdefault(assignment["principalId"], {})[assignment["id"]] = None
        self.assignments_by_resource.setdefault(assignment["resourceId"], {})[assignment["id"]] = None

    # ------------------------------------------------------------------ mutations: users & groups
    def create_user(self, **properties) -> dict:
        with self.lock:
            user_id = properties.pop("id", None) or str(uuid.uuid4())
            if self.kind_of(user_id) or user_id in self.deleted_users:
                raise SimulatorError(f"object {user_id} already exists")
            nickname = user_id[:8]
            user = {
                "id": user_id,
                "displayName": f"User {nickname}",
                "userPrincipalName": f"user.{nickname}@{self.domain}",
                "accountEnabled": True,
                "userType": "Member",
                "createdDateTime": now_iso(self.clock()),
                "businessPhones": [],
            }
            user.update(properties)
            self.add_user_raw(user)
            self.log.append("user", user_id, "upsert")
            return copy.deepcopy(user)

    def update_user(self, user_id: str, **properties) -> dict:
        return self._update("user", self.users, user_id, properties)

    def create_group(self, **properties) -> dict:
        with self.lock:
            group_id = properties.pop("id", None) or str(uuid.uuid4())
            if self.kind_of(group_id) or group_id in self.deleted_groups:
                raise SimulatorError(f"object {group_id} already exists")
            group = {key: None for key in catalog.GROUP_DEFAULT_PROPERTIES}
            group.update(
                id=group_id,
                displayName=f"Group {group_id[:8]}",
                createdDateTime=now_iso(self.clock()),
                groupTypes=[],
                mailEnabled=False,
                securityEnabled=True,
                mailNickname=group_id[:8],
                proxyAddresses=[],
                resourceBehaviorOptions=[],
                resourceProvisioningOptions=[],
                onPremisesProvisioningErrors=[],
                securityIdentifier=f"S-1-12-1-{uuid.UUID(group_id).int % 4294967295}",
            )
            group.update(properties)
            self.add_group_raw(group)
            self.log.append("group", group_id, "upsert")
            return copy.deepcopy(group)

    def update_group(self, group_id: str, **properties) -> dict:
        return self._update("group", self.groups, group_id, properties)

    def _update(self, entity: str, table: dict, object_id: str, properties: dict) -> dict:
        with self.lock:
            obj = table.get(object_id)
            if obj is None:
                raise SimulatorError(f"no {entity} with id {object_id}")
            properties.pop("id", None)
            allowed = catalog.PROPERTIES_BY_KIND[entity]
            unknown = sorted(set(properties) - set(allowed))
            if unknown:
                raise SimulatorError(f"unknown {entity} properties: {', '.join(unknown)}")
            obj.update(properties)
            self.log.append(entity, object_id, "upsert", properties=frozenset(properties))
            if entity in ("user", "group") and "displayName" in properties:
                self._refresh_principal_display_name(object_id, properties["displayName"])
            return copy.deepcopy(obj)

    def _refresh_principal_display_name(self, principal_id: str, name: str) -> None:
        for assignment_id in self.assignments_by_principal.get(principal_id, ()):
            self.app_role_assignments[assignment_id]["principalDisplayName"] = name

    def soft_delete(self, object_id: str) -> None:
        """Move a user or group to deleted items. Memberships are kept for a restore and hidden
        meanwhile; group delta does not report them as removed (only a hard delete does)."""
        with self.lock:
            entity, live, deleted = self._deletable(object_id)
            obj = live.pop(object_id)
            obj["deletedDateTime"] = now_iso(self.clock())
            deleted[object_id] = obj
            self._invalidate_containers_of(object_id)
            self.log.append(entity, object_id, "removed")

    def restore(self, object_id: str) -> dict:
        with self.lock:
            if object_id in self.deleted_users:
                entity, live, deleted = "user", self.users, self.deleted_users
            elif object_id in self.deleted_groups:
                entity, live, deleted = "group", self.groups, self.deleted_groups
            else:
                raise SimulatorError(f"no deleted user or group with id {object_id}")
            obj = deleted.pop(object_id)
            obj["deletedDateTime"] = None
            live[object_id] = obj
            self._invalidate_containers_of(object_id)
            self.log.append(entity, object_id, "upsert")
            return copy.deepcopy(obj)

    def hard_delete(self, object_id: str) -> None:
        """Delete permanently (from live objects or from deleted items); memberships go too."""
        with self.lock:
            if object_id in self.deleted_users or object_id in self.users:
                entity = "user"
                self.users.pop(object_id, None)
                self.deleted_users.pop(object_id, None)
            elif object_id in self.deleted_groups or object_id in self.groups:
                entity = "group"
                self.groups.pop(object_id, None)
                self.deleted_groups.pop(object_id, None)
                for member_id in list(self.members.get(object_id, ())):
                    self._unlink(object_id, member_id)
                self.members.pop(object_id, None)
            else:
                raise SimulatorError(f"no user or group with id {object_id}")
            self._drop_principal(object_id, entity)
            self.log.append(entity, object_id, "removed")

    def _drop_principal(self, object_id: str, kind: str) -> None:
        """A principal deleted for good: out of every group, role and unit (group delta reports
        the removal), and its app role assignments gone."""
        for container_id in list(self.member_of.get(object_id, ())):
            self._unlink(container_id, object_id)
            container_kind = "group" if container_id in self.deleted_groups else self.kind_of(container_id)
            if container_kind in CONTAINER_KINDS:  # group, role and unit delta report the removal
                self.log.append(
                    container_kind, container_id, "member", member_id=object_id, member_kind=kind, added=False
                )
        self.member_of.pop(object_id, None)
        for assignment_id in list(self.assignments_by_principal.get(object_id, ())):
            self._drop_assignment(assignment_id)
        self.assignments_by_principal.pop(object_id, None)

    def _drop_container(self, container_id: str) -> None:
        for member_id in list(self.members.get(container_id, ())):
            self._unlink(container_id, member_id)
        self.members.pop(container_id, None)
        self._invalidate_members(container_id)

    def delete_service_principal(self, sp_id: str) -> None:
        """Delete a service principal (permanently: the simulator keeps no deleted service
        principals). As with a hard-deleted user its memberships and the app roles assigned to it
        go; being a resource too, every assignment of its own app roles (appRoleAssignedTo) goes
        with it, and so do directory role assignments naming it."""
        with self.lock:
            if self.service_principals.pop(sp_id, None) is None:
                raise SimulatorError(f"no service principal with id {sp_id}")
            self._drop_principal(sp_id, "servicePrincipal")
            for assignment_id in list(self.assignments_by_resource.get(sp_id, ())):
                self._drop_assignment(assignment_id)
            self.assignments_by_resource.pop(sp_id, None)
            for assignment_id in [a for a, ra in self.role_assignments.items() if ra["principalId"] == sp_id]:
                del self.role_assignments[assignment_id]

    def delete_directory_role(self, role_id: str) -> None:
        """An activated directory role gone, and its memberships with it (Graph offers no such
        deletion: this models the object missing between listing it and reading its members).
        Role assignments stay: they name the role definition, not the directory role."""
        with self.lock:
            if self.directory_roles.pop(role_id, None) is None:
                raise SimulatorError(f"no directory role with id {role_id}")
            self._drop_container(role_id)
            self.log.append("directoryRole", role_id, "removed")

    def delete_administrative_unit(self, unit_id: str) -> None:
        """An administrative unit gone: its memberships and the role assignments scoped to it."""
        with self.lock:
            if self.administrative_units.pop(unit_id, None) is None:
                raise SimulatorError(f"no administrative unit with id {unit_id}")
            self._drop_container(unit_id)
            self.log.append("administrativeUnit", unit_id, "removed")
            scope = f"/administrativeUnits/{unit_id}"
            for assignment_id in [a for a, ra in self.role_assignments.items() if ra["directoryScopeId"] == scope]:
                del self.role_assignments[assignment_id]

    def vanish(self, object_id: str) -> str:
        """Delete an object the way its kind is deleted: users and groups soft-deleted (as the
        admin API's DELETE does), service principals, directory roles and units for good.
        Returns the kind it was."""
        with self.lock:
            kind = self.kind_of(object_id)
            if kind in ("user", "group"):
                self.soft_delete(object_id)
            elif kind == "servicePrincipal":
                self.delete_service_principal(object_id)
            elif kind == "directoryRole":
                self.delete_directory_role(object_id)
            elif kind == "administrativeUnit":
                self.delete_administrative_unit(object_id)
            else:
                raise SimulatorError(
                    f"no user, group, service principal, directory role or administrative unit with id {object_id}"
                )
            return kind

    def _deletable(self, object_id: str) -> tuple[str, dict, dict]:
        if object_id in self.users:
            return "user", self.users, self.deleted_users
        if object_id in self.groups:
            return "group", self.groups, self.deleted_groups
        raise SimulatorError(f"no live user or group with id {object_id}")

    def _invalidate_containers_of(self, object_id: str) -> None:
        for container_id in self.member_of.get(object_id, ()):
            self._invalidate_members(container_id)

    # ------------------------------------------------------------------ memberships
    def add_member(self, container_id: str, member_id: str) -> None:
        with self.lock:
            container_kind = self.kind_of(container_id)
            member_kind = self.kind_of(member_id)
            if container_kind not in CONTAINER_KINDS:
                raise SimulatorError(f"{container_id} is not a group, directory role or administrative unit")
            if member_kind not in ("user", "group", "servicePrincipal"):
                raise SimulatorError(f"{member_id} is not a user, group or service principal")
            if member_id == container_id:
                raise SimulatorError("a group cannot be a member of itself")
            if self._link(container_id, member_id):
                self.log.append(
                    container_kind, container_id, "member", member_id=member_id, member_kind=member_kind, added=True
                )

    def remove_member(self, container_id: str, member_id: str) -> None:
        with self.lock:
            member_kind = self.kind_of(member_id) or "user"
            if not self._unlink(container_id, member_id):
                raise SimulatorError(f"{member_id} is not a member of {container_id}")
            container_kind = self.kind_of(container_id)
            if container_kind in CONTAINER_KINDS:
                self.log.append(
                    container_kind, container_id, "member", member_id=member_id, member_kind=member_kind, added=False
                )

    # ------------------------------------------------------------------ roles
    def create_role_definition(self, **properties) -> dict:
        with self.lock:
            role_id = properties.pop("id", None) or str(uuid.uuid4())
            role = {
                "id": role_id,
                "description": None,
                "displayName": f"Custom role {role_id[:8]}",
                "isBuiltIn": False,
                "isEnabled": True,
                "resourceScopes": ["/"],
                "rolePermissions": [
                    {"allowedResourceActions": ["microsoft.directory/users/standard/read"], "condition": None}
                ],
                "templateId": role_id,
                "version": None,
            }
            role.update(properties)
            self.role_definitions[role_id] = role
            return copy.deepcopy(role)

    def update_role_definition(self, role_id: str, **properties) -> dict:
        with self.lock:
            role = self.role_definitions.get(role_id)
            if role is None:
                raise SimulatorError(f"no role definition with id {role_id}")
            role.update(properties)
            return copy.deepcopy(role)

    def delete_role_definition(self, role_id: str) -> None:
        with self.lock:
            if self.role_definitions.pop(role_id, None) is None:
                raise SimulatorError(f"no role definition with id {role_id}")

    def assign_role(self, principal_id: str, role_definition_id: str, directory_scope_id: str = "/") -> dict:
        """An active role assignment; a tenant-wide one also makes the principal a member of the
        activated directory role (as Entra does), activating it if needed."""
        with self.lock:
            if self.kind_of(principal_id) not in ("user", "group", "servicePrincipal"):
                raise SimulatorError(f"{principal_id} is not a user, group or service principal")
            role = self.role_definitions.get(role_definition_id)
            if role is None:
                raise SimulatorError(f"no role definition with id {role_definition_id}")
            assignment_id = str(
                uuid.uuid5(uuid.UUID(self.tenant_id), f"{principal_id}|{role_definition_id}|{directory_scope_id}")
            )
            if assignment_id in self.role_assignments:
                raise SimulatorError(
                    "A conflicting object with one or more of the specified property values is "
                    "present in the directory."
                )
            assignment = {
                "id": assignment_id,
                "appScopeId": None,
                "condition": None,
                "directoryScopeId": directory_scope_id,
                "principalId": principal_id,
                "roleDefinitionId": role_definition_id,
            }
            self.role_assignments[assignment["id"]] = assignment
            if directory_scope_id == "/":
                directory_role = self.activate_directory_role(role["templateId"])
                self.add_member(directory_role["id"], principal_id)
            return copy.deepcopy(assignment)

    def remove_role_assignment(self, assignment_id: str) -> None:
        with self.lock:
            assignment = self.role_assignments.pop(assignment_id, None)
            if assignment is None:
                raise SimulatorError(f"no role assignment with id {assignment_id}")
            template_id = self.role_definitions.get(assignment["roleDefinitionId"], {}).get("templateId")
            still_assigned = any(
                a["principalId"] == assignment["principalId"]
                and a["roleDefinitionId"] == assignment["roleDefinitionId"]
                and a["directoryScopeId"] == "/"
                for a in self.role_assignments.values()
            )
            if assignment["directoryScopeId"] == "/" and not still_assigned:
                for role in self.directory_roles.values():
                    if role["roleTemplateId"] == template_id and self._unlink(role["id"], assignment["principalId"]):
                        self.log.append(
                            "directoryRole",
                            role["id"],
                            "member",
                            member_id=assignment["principalId"],
                            member_kind=self.kind_of(assignment["principalId"]) or "user",
                            added=False,
                        )

    def activate_directory_role(self, template_id: str) -> dict:
        with self.lock:
            return self._activate_directory_role(template_id)

    def _activate_directory_role(self, template_id: str) -> dict:
        for role in self.directory_roles.values():
            if role["roleTemplateId"] == template_id:
                return role
        definition = next((r for r in self.role_definitions.values() if r["templateId"] == template_id), None)
        if definition is None:
            raise SimulatorError(f"no role template {template_id}")
        role = {
            "id": str(uuid.uuid5(uuid.UUID(self.tenant_id), template_id)),
            "deletedDateTime": None,
            "description": definition["description"],
            "displayName": definition["displayName"],
            "roleTemplateId": template_id,
        }
        self.directory_roles[role["id"]] = role
        self.log.append("directoryRole", role["id"], "upsert")
        return role

    def update_directory_role(self, role_id: str, **properties) -> dict:
        return self._update("directoryRole", self.directory_roles, role_id, properties)

    def create_administrative_unit(self, **properties) -> dict:
        with self.lock:
            unit_id = properties.pop("id", None) or str(uuid.uuid4())
            if self.kind_of(unit_id):
                raise SimulatorError(f"object {unit_id} already exists")
            unknown = sorted(set(properties) - set(catalog.ADMINISTRATIVE_UNIT_PROPERTIES))
            if unknown:
                raise SimulatorError(f"unknown administrativeUnit properties: {', '.join(unknown)}")
            unit = {key: None for key in catalog.ADMINISTRATIVE_UNIT_PROPERTIES}
            unit.update(
                id=unit_id, displayName=f"Administrative unit {unit_id[:8]}", isMemberManagementRestricted=False
            )
            unit.update(properties)
            self.administrative_units[unit_id] = unit
            self.log.append("administrativeUnit", unit_id, "upsert")
            return copy.deepcopy(unit)

    def update_administrative_unit(self, unit_id: str, **properties) -> dict:
        return self._update("administrativeUnit", self.administrative_units, unit_id, properties)

    # ------------------------------------------------------------------ app role assignments
    def assign_app_role(self, principal_id: str, resource_id: str, app_role_id: str | None = None) -> dict:
        with self.lock:
            principal_kind = self.kind_of(principal_id)
            if principal_kind not in ("user", "group", "servicePrincipal"):
                raise SimulatorError(f"{principal_id} is not a user, group or service principal")
            resource = self.service_principals.get(resource_id)
            if resource is None:
                raise SimulatorError(f"{resource_id} is not a service principal")
            role_ids = [r["id"] for r in resource.get("appRoles") or []]
            if app_role_id is None:
                app_role_id = role_ids[0] if role_ids else catalog.DEFAULT_ACCESS_ROLE_ID
            if app_role_id != catalog.DEFAULT_ACCESS_ROLE_ID and app_role_id not in role_ids:
                raise SimulatorError(f"service principal {resource_id} defines no app role {app_role_id}")
            principal = self.table(principal_kind)[principal_id]
            assignment = {
                "id": assignment_id_for(principal_id, resource_id, app_role_id),
                "deletedDateTime": None,
                "appRoleId": app_role_id,
                "createdDateTime": now_iso(self.clock()),
                "principalDisplayName": principal.get("displayName"),
                "principalId": principal_id,
                "principalType": {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[
                    principal_kind
                ],
                "resourceDisplayName": resource.get("displayName"),
                "resourceId": resource_id,
            }
            if assignment["id"] in self.app_role_assignments:
                raise SimulatorError("Permission being assigned already exists on the object")
            self.add_assignment_raw(assignment)
            return copy.deepcopy(assignment)

    def remove_app_role_assignment(self, assignment_id: str) -> None:
        with self.lock:
            if assignment_id not in self.app_role_assignments:
                raise SimulatorError(f"no app role assignment with id {assignment_id}")
            self._drop_assignment(assignment_id)

    def _drop_assignment(self, assignment_id: str) -> None:
        assignment = self.app_role_assignments.pop(assignment_id)
        self.assignments_by_principal.get(assignment["principalId"], {}).pop(assignment_id, None)
        self.assignments_by_resource.get(assignment["resourceId"], {}).pop(assignment_id, None)

    # ------------------------------------------------------------------ truth
    def truth(self) -> dict:
        """Every object and relationship as it stands now, as plain JSON-able data."""
        with self.lock:

            def members_of(container_id: str) -> list[dict]:
                return [{"id": m, "kind": self.kind_of(m)} for m in self.live_members(container_id)]

            return copy.deepcopy(
                {
                    "tenantId": self.tenant_id,
                    "users": list(self.users.values()),
                    "groups": list(self.groups.values()),
                    "deletedUsers": list(self.deleted_users.values()),
                    "deletedGroups": list(self.deleted_groups.values()),
                    "groupMembers": {g: members_of(g) for g in self.groups},
                    "directoryRoles": list(self.directory_roles.values()),
                    "directoryRoleMembers": {r: members_of(r) for r in self.directory_roles},
                    "administrativeUnits": list(self.administrative_units.values()),
                    "administrativeUnitMembers": {a: members_of(a) for a in self.administrative_units},
                    "roleDefinitions": list(self.role_definitions.values()),
                    "roleAssignments": list(self.role_assignments.values()),
                    "roleEligibilitySchedules": list(self.role_eligibility_schedules.values()),
                    "applications": list(self.applications.values()),
                    "servicePrincipals": list(self.service_principals.values()),
                    "appRoleAssignments": [
                        a for a in self.app_role_assignments.values() if self.kind_of(a["principalId"]) is not None
                    ],
                    "organization": [self.organization],
                }
            )


def assignment_id_for(principal_id: str, resource_id: str, app_role_id: str) -> str:
    """appRoleAssignment ids are not GUIDs in Graph (base64url-like strings): mimic that."""
    import base64
    import hashlib

    digest = hashlib.sha256(f"{principal_id}|{resource_id}|{app_role_id}".encode()).digest()
    return base64.urlsafe_b64encode(uuid.UUID(principal_id).bytes + digest[:16]).decode().rstrip("=")
