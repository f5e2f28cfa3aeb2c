"""The entity registry: every raw asset the connector pulls and every record set it builds, one
row each, read by every stage (the plan, the pull, the records, the Dagster assets, the
connection test, a run's outcome). Adding an entity is a row here, plus its map
(transform/maps.py) and its plan code (graph/plan.py).

Names are the ones stored and shown, so they never change: a raw asset's name is its snapshot
file and its Dagster key (`raw_<name>`); an entity's name is its map, its record file and its
Dagster key (`records_<name>`). Graph's own names (`servicePrincipals`) are the plan's parts
and a pull's object lists. The spec's Asset Types choose the rows: Identities Only, or
Identities with Security Posture (`with_posture`).
"""

from __future__ import annotations

from dataclasses import dataclass

WITH_POSTURE = "identities_with_security_posture"  # connectors.yaml's asset_types value


def with_posture(asset_types: str) -> bool:
    """Whether a connector's Asset Types take the posture rows too (applications, service
    principals, tenant): the one place that question is answered."""
    return asset_types == WITH_POSTURE


@dataclass(frozen=True)
class Requirement:
    """What reading an asset needs, per the spec's "Permissions Required" table. Graph accepts
    any one of several permissions per endpoint (least privileged first); the first is what
    the user is told to grant. Decision and reasons: docs/connection-test.md."""

    entity: str  # the spec's entity
    reads: str  # what the connector reads with it
    any_of: tuple[str, ...]
    probe: str  # a cheap GET that needs it

    def met_by(self, roles: set[str]) -> bool:
        return bool(roles.intersection(self.any_of))


@dataclass(frozen=True)
class RawAsset:
    """Graph objects as pulled, one snapshot file per run."""

    name: str
    parts: tuple[str, ...]  # the plan's parts it is read from: it arrived whole only if all of them did
    source: str  # its list in a pull's objects; "" when held apart (memberships, assignments)
    needs: Requirement | None  # None: read with the listings of its parts, no permission of its own
    description: str  # what the Dagster UI shows
    posture: bool = False  # only with Identities with Security Posture
    merged: bool = False  # its file is the committed table the delta rounds of its parts merge into
    remedy: str = ""  # the permission a refusal's remedy names, when not what `needs` names first

    @property
    def grant(self) -> str:
        """The least-privileged permission to grant when Graph refuses this asset."""
        return self.remedy or (self.needs.any_of[0] if self.needs else READ_DIRECTORY[0])


@dataclass(frozen=True)
class Entity:
    """Qualys asset records, built with the spec's map from raw assets that all arrived whole."""

    name: str
    inputs: tuple[str, ...]  # raw assets; the first is the one whose objects are mapped when it is alone
    posture: bool = False


READ_DIRECTORY = ("Directory.Read.All", "Directory.ReadWrite.All")
READ_APPLICATIONS = ("Directory.Read.All", "Application.Read.All", "Directory.ReadWrite.All")
ROLES = Requirement(
    "Roles",
    "role definitions and assignments",
    ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", *READ_DIRECTORY),
    "/roleManagement/directory/roleDefinitions?$select=id",
)
MEMBERSHIP_PARTS = ("groups", "directoryRoles", "administrativeUnits")  # memberships are complete with all three

_RAW = (
    RawAsset(
        "users",
        ("users",),
        "users",
        Requirement(
            "Users", "users", ("User.Read.All", "User.ReadWrite.All", *READ_DIRECTORY), "/users?$top=1&$select=id"
        ),
        "Entra ID users (spec: Users), with the properties the Users transformation map reads.",
        merged=True,
    ),
    RawAsset(
        "groups",
        ("groups",),
        "groups",
        Requirement(
            "Groups",
            "groups and their members",
            ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", *READ_DIRECTORY),
            "/groups?$top=1&$select=id",
        ),
        "Entra ID groups (spec: Groups), with the properties the Groups transformation map reads.",
        merged=True,
    ),
    RawAsset(
        "roles",
        ("roles",),
        "roles",
        ROLES,
        "Role definitions (spec: Roles, GET /roleManagement/directory/roleDefinitions), always pulled in full.",
    ),
    RawAsset(
        "role_assignments",
        ("roles",),
        "roleAssignments",
        ROLES,
        "Active directory role assignments (roleManagement/directory/roleAssignments).",
    ),
    RawAsset(
        "role_eligibility_schedules",
        ("roles",),
        "roleEligibilitySchedules",
        Requirement(
            "Roles",
            "eligible (PIM) role assignments",
            (
                "RoleEligibilitySchedule.Read.Directory",
                "RoleManagement.Read.Directory",
                "RoleManagement.Read.All",
                "RoleEligibilitySchedule.ReadWrite.Directory",
                "RoleManagement.ReadWrite.Directory",
            ),
            "/roleManagement/directory/roleEligibilitySchedules?$top=1",
        ),
        "Eligible (PIM) role assignments (roleManagement/directory/roleEligibilitySchedules).",
    ),
    RawAsset(
        "directory_roles",
        ("directoryRoles",),
        "directoryRoles",
        Requirement(
            "Users",
            "directory-role memberships (memberOf)",
            (
                "Directory.Read.All",
                "RoleManagement.Read.Directory",
                "RoleManagement.Read.All",
                "Directory.ReadWrite.All",
            ),
            "/directoryRoles?$select=id",
        ),
        "Activated directory roles: the roles a user's or group's memberOf can name.",
        merged=True,
        remedy="RoleManagement.Read.Directory",
    ),
    RawAsset(
        "administrative_units",
        ("administrativeUnits",),
        "administrativeUnits",
        Requirement(
            "Users",
            "administrative-unit memberships (memberOf)",
            ("Directory.Read.All", "AdministrativeUnit.Read.All", "Directory.ReadWrite.All"),
            "/directory/administrativeUnits?$top=1&$select=id",
        ),
        "Administrative units: the units a user's or group's memberOf can name.",
        merged=True,
    ),
    RawAsset(
        "memberships",
        MEMBERSHIP_PARTS,
        "",
        None,
        "Direct memberships (group, directory role, administrative unit -> user, group, service principal), "
        "from which every memberOf is derived without a call per user.",
        merged=True,
    ),
    RawAsset(
        "app_role_assignments",
        ("appRoleAssignments",),
        "",
        Requirement(
            "Users", "app role assignments (permissions)", READ_APPLICATIONS, "/servicePrincipals?$top=1&$select=id"
        ),
        "App role assignments of every service principal (appRoleAssignedTo), from which users' and "
        "groups' appRoleAssignments are derived.",
    ),
    RawAsset(
        "applications",
        ("applications",),
        "applications",
        Requirement("Applications", "applications", READ_APPLICATIONS, "/applications?$top=1&$select=id"),
        "Applications (spec: Applications, Identities with Security Posture).",
        posture=True,
    ),
    # Read with the app role assignments (the same listing), kept as records only with posture.
    RawAsset(
        "service_principals",
        ("appRoleAssignments",),
        "servicePrincipals",
        Requirement(
            "Service Principals", "service principals", READ_APPLICATIONS, "/servicePrincipals?$top=1&$select=id"
        ),
        "Service principals (spec: Service Principals, Identities with Security Posture).",
        posture=True,
    ),
    RawAsset(
        "tenant",
        ("tenant",),
        "tenant",
        Requirement(
            "Tenant",
            "the organization",
            ("Directory.Read.All", "Organization.Read.All", "Directory.ReadWrite.All"),
            "/organization?$select=id",
        ),
        "The organization (spec: Tenant, Identities with Security Posture).",
        posture=True,
    ),
)
_CONTAINERS = ("groups", "directory_roles", "administrative_units", "memberships", "app_role_assignments")
_ENTITIES = (
    Entity("users", ("users", *_CONTAINERS)),
    Entity("groups", _CONTAINERS),
    Entity("roles", ("roles",)),
    Entity("applications", ("applications",), posture=True),
    Entity("servicePrincipals", ("service_principals",), posture=True),
    Entity("tenant", ("tenant",), posture=True),
)

RAW_ASSETS: dict[str, RawAsset] = {asset.name: asset for asset in _RAW}
ENTITIES: dict[str, Entity] = {entity.name: entity for entity in _ENTITIES}
# The parts read by delta rounds (users, groups, directory roles, units), and per part the raw
# files its changes are merged into and the records those feed: a link is committed only with them.
DELTA_PARTS = tuple(dict.fromkeys(part for asset in _RAW if asset.merged for part in asset.parts))
SNAPSHOT_FILES = {part: tuple(a.name for a in _RAW if a.merged and part in a.parts) for part in DELTA_PARTS}
FEEDS_RECORDS = {
    part: tuple(e.name for e in _ENTITIES if set(e.inputs) & set(files)) for part, files in SNAPSHOT_FILES.items()
}


def raw_assets_for(asset_types: str) -> tuple[str, ...]:
    """The raw assets a connector with these Asset Types pulls, in the registry's order."""
    return tuple(a.name for a in _RAW if with_posture(asset_types) or not a.posture)


def entities_for(asset_types: str) -> tuple[str, ...]:
    """The record sets a connector with these Asset Types builds and delivers."""
    return tuple(e.name for e in _ENTITIES if with_posture(asset_types) or not e.posture)


def plan_parts(asset_types: str) -> tuple[str, ...]:
    """The plan's parts that read those raw assets (graph/plan.py runs exactly these)."""
    return tuple(dict.fromkeys(part for name in raw_assets_for(asset_types) for part in RAW_ASSETS[name].parts))


def requirements_for(asset_types: str) -> tuple[Requirement, ...]:
    """The permissions those reads need, each once, for the connection test."""
    needs = (RAW_ASSETS[name].needs for name in raw_assets_for(asset_types))
    return tuple(dict.fromkeys(need for need in needs if need is not None))


def grant_for(asset: str) -> str:
    """The permission to grant when Graph refuses a raw asset (least privileged)."""
    return RAW_ASSETS[asset].grant if asset in RAW_ASSETS else READ_DIRECTORY[0]
