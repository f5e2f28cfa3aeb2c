"""Which application permissions the connector's calls need, per entity of the spec's
"Permissions Required" table.

The spec lists permissions per entity; Graph accepts any one of several per endpoint (least
privileged first). A requirement is met when the token holds any of its alternatives; when it
is not, the message names the spec's permission first. Decision and reasons:
docs/connection-test.md.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_DIRECTORY = ("Directory.Read.All", "Directory.ReadWrite.All")


@dataclass(frozen=True)
class Requirement:
    entity: str  # the spec's entity
    reads: str  # what the connector reads with it
    any_of: tuple[str, ...]  # first = what we tell the user to grant
    probe: str  # a cheap GET that needs it

    def met_by(self, roles: set[str]) -> bool:
        return bool(roles.intersection(self.any_of))


REQUIREMENTS = (
    Requirement("Users", "users", ("User.Read.All", "User.ReadWrite.All", *READ_DIRECTORY), "/users?$top=1&$select=id"),
    Requirement("Groups", "groups and their members",
                ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", *READ_DIRECTORY),
                "/groups?$top=1&$select=id"),
    Requirement("Roles", "role definitions and assignments",
                ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory",
                 *READ_DIRECTORY), "/roleManagement/directory/roleDefinitions?$select=id"),
    Requirement("Roles", "eligible (PIM) role assignments",
                ("RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory", "RoleManagement.Read.All",
                 "RoleEligibilitySchedule.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"),
                "/roleManagement/directory/roleEligibilitySchedules?$top=1"),
    Requirement("Users", "directory-role memberships (memberOf)",
                ("Directory.Read.All", "RoleManagement.Read.Directory", "RoleManagement.Read.All",
                 "Directory.ReadWrite.All"), "/directoryRoles?$select=id"),
    Requirement("Users", "administrative-unit memberships (memberOf)",
                ("Directory.Read.All", "AdministrativeUnit.Read.All", "Directory.ReadWrite.All"),
                "/directory/administrativeUnits?$top=1&$select=id"),
    Requirement("Users", "app role assignments (permissions)",
                ("Directory.Read.All", "Application.Read.All", "Directory.ReadWrite.All"),
                "/servicePrincipals?$top=1&$select=id"),
)
POSTURE_REQUIREMENTS = (
    Requirement("Applications", "applications", ("Directory.Read.All", "Application.Read.All",
                                                 "Directory.ReadWrite.All"), "/applications?$top=1&$select=id"),
    Requirement("Service Principals", "service principals", ("Directory.Read.All", "Application.Read.All",
                                                             "Directory.ReadWrite.All"),
                "/servicePrincipals?$top=1&$select=id"),
    Requirement("Tenant", "the organization", ("Directory.Read.All", "Organization.Read.All",
                                               "Directory.ReadWrite.All"), "/organization?$select=id"),
)


def requirements_for(asset_types: str) -> tuple[Requirement, ...]:
    return REQUIREMENTS + (POSTURE_REQUIREMENTS if asset_types == "identities_with_security_posture" else ())
