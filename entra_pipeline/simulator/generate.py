"""Deterministic tenant generation: the same seed and sizes always give the same directory.

Shaped like real tenants (see docs/simulator.md): members and guests, disabled accounts,
missing and null optional fields, non-ASCII names; security, Microsoft 365 and
role-assignable groups, nested groups and a few very large ones; activated directory
roles, administrative units, ~100 built-in role definitions plus custom ones,
applications and service principals with and without app roles, app role assignments
(including default-access ones), PIM eligibility, one organization.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass

from . import catalog
from .first_party import MICROSOFT_APPS_GRAPH_SOURCE
from .tenant import Tenant, assignment_id_for

PROFILES = ("classic", "realistic")


@dataclass(frozen=True)
class TenantShape:
    """How big the tenant is and how it is shaped.

    profile "classic" is the original generator (tests depend on its exact output);
    "realistic" follows the long-tailed shape of large real tenants (docs/simulator.md,
    "The realistic profile"): ~users/4 groups, hundreds of first-party service principals,
    users/30 app registrations plus gallery apps, assignments concentrated on a few apps.
    """

    users: int = 1000
    seed: int = 7
    groups: int | None = None  # default: users // 10 (classic) or users // 4 (realistic), at least 12
    applications: int | None = None  # default: users // 1000 (classic) or users // 30 (realistic), at least 8
    custom_roles: int = 5
    profile: str = "classic"

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"tenant profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")

    @property
    def realistic(self) -> bool:
        return self.profile == "realistic"

    @property
    def group_count(self) -> int:
        if self.groups is not None:
            return self.groups
        return max(12, self.users // 4) if self.realistic else max(12, self.users // 10)

    @property
    def application_count(self) -> int:
        if self.applications is not None:
            return self.applications
        return max(8, self.users // 30) if self.realistic else max(8, self.users // 1000)

    @property
    def gallery_count(self) -> int:
        """Enterprise (gallery) apps: a service principal each, no app registration here."""
        return min(5000, max(20, self.users // 200)) if self.realistic else 0

    @property
    def first_party_count(self) -> int:
        return len(first_party_service_principals()) if self.realistic else len(catalog.FIRST_PARTY_SERVICE_PRINCIPALS)

    @property
    def service_principal_count(self) -> int:
        """First-party + one per app registration (and the connector's) + gallery apps."""
        return self.first_party_count + self.application_count + 1 + self.gallery_count


def first_party_service_principals() -> tuple[tuple[str, str, str], ...]:
    """(displayName, appId, appOwnerOrganizationId): the catalog's five first, then every
    other first-party service principal of merill/microsoft-info's Source=Graph list."""
    microsoft_tenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    result = [(name, app_id, microsoft_tenant) for name, app_id in catalog.FIRST_PARTY_SERVICE_PRINCIPALS]
    seen = {app_id for _, app_id, _ in result}
    for name, app_id, owner in MICROSOFT_APPS_GRAPH_SOURCE:
        if app_id not in seen:
            seen.add(app_id)
            result.append((name or app_id, app_id, owner))
    return tuple(result)


@dataclass(frozen=True)
class ConnectorApp:
    """The application the connector signs in as (its object lives in the tenant too)."""

    client_id: str
    client_secret: str
    secret_expires: dt.datetime
    granted_permissions: tuple[str, ...]


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _maybe(rng: random.Random, probability_missing: float, value, null_instead: bool = True):
    """Return value, or a sentinel meaning "absent"/None with the given probability."""
    if rng.random() < probability_missing:
        return None if null_instead else _ABSENT
    return value


_ABSENT = object()


def _ascii_slug(text: str) -> str:
    import unicodedata

    slug = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = "".join(ch for ch in slug if ch.isalnum())
    return slug or "user"


def build_tenant(shape: TenantShape, connector: ConnectorApp, tenant_id: str | None = None) -> Tenant:
    rng = random.Random(shape.seed)
    ids = _Ids(rng)
    tenant_id = tenant_id or ids.new()
    domain = f"contoso{shape.seed}.onmicrosoft.com"
    tenant = Tenant(tenant_id, domain)
    tenant.organization = _organization(tenant_id, domain)

    user_ids = _users(tenant, shape, rng, ids)
    groups = _realistic_groups if shape.realistic else _groups
    group_ids = groups(tenant, shape, rng, ids, user_ids)
    _role_definitions(tenant, shape, rng, ids)
    _directory_roles(tenant, rng, user_ids, group_ids)
    _administrative_units(tenant, shape, rng, ids, user_ids, group_ids)
    _eligibility(tenant, rng, ids, user_ids)
    if shape.realistic:
        realistic = _realistic_service_principals(tenant, shape, rng, ids, connector)
        _realistic_assignments(tenant, rng, user_ids, group_ids, realistic)
    else:
        sp_ids = _applications(tenant, shape, rng, ids, connector)
        _app_role_assignments(tenant, rng, user_ids, group_ids, sp_ids)
    tenant.add_member(
        next(r["id"] for r in tenant.directory_roles.values() if r["displayName"] == "Directory Readers"),
        _connector_sp_id(tenant, connector),
    )
    return tenant


def _organization(tenant_id: str, domain: str) -> dict:
    return {
        "id": tenant_id,
        "deletedDateTime": None,
        "businessPhones": ["+1 425 555 0100"],
        "city": "Redmond",
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": "2021-08-02T10:30:06Z",
        "displayName": "Contoso (simulated)",
        "marketingNotificationEmails": [],
        "onPremisesSyncEnabled": None,
        "postalCode": "98052",
        "preferredLanguage": "en",
        "privacyProfile": {"contactEmail": "", "statementUrl": ""},
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": "WA",
        "street": "1 Microsoft Way",
        "technicalNotificationMails": [f"admin@{domain}"],
        "tenantType": "AAD",
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": True,
                "isInitial": True,
                "name": domain,
                "type": "Managed",
            },
        ],
    }


def _users(tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids) -> list[str]:
    result = []
    for index in range(shape.users):
        user_id = ids.new()
        first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
        guest = rng.random() < 0.10
        slug = f"{_ascii_slug(first)}.{_ascii_slug(last)}{index}"
        upn = f"{slug}_fabrikam.com#EXT#@{tenant.domain}" if guest else f"{slug}@{tenant.domain}"
        created = BASE_TIME - dt.timedelta(days=rng.randint(1, 2000), seconds=rng.randint(0, 86399))
        user = {
            "id": user_id,
            "userPrincipalName": upn,
            "displayName": f"{first} {last}",
            "givenName": _maybe(rng, 0.05, first),
            "surname": _maybe(rng, 0.05, last),
            "mail": f"{slug}@fabrikam.com" if guest else _maybe(rng, 0.10, f"{slug}@{tenant.domain}"),
            "mobilePhone": _maybe(rng, 0.40, f"+1 425 555 {rng.randint(1000, 9999)}"),
            "businessPhones": [] if rng.random() < 0.3 else [f"+1 425 555 {rng.randint(1000, 9999)}"],
            "jobTitle": _maybe(rng, 0.20, rng.choice(catalog.JOB_TITLES)),
            "officeLocation": _maybe(rng, 0.30, f"{rng.randint(1, 40)}/{rng.randint(1000, 3999)}"),
            "preferredLanguage": _maybe(rng, 0.50, "en-US"),
            "userType": "Guest" if guest else "Member",
            "createdDateTime": _iso(created),
            "department": _maybe(rng, 0.15, rng.choice(catalog.DEPARTMENTS)),
            "companyName": _maybe(rng, 0.30, "Contoso" if not guest else "Fabrikam"),
            "employeeId": None if guest else _maybe(rng, 0.20, f"E{100000 + index}"),
            "usageLocation": _maybe(rng, 0.20, "US"),
            "onPremisesSyncEnabled": True if rng.random() < 0.25 else None,
        }
        roll = rng.random()
        if roll < 0.08:
            user["accountEnabled"] = False
        elif roll > 0.995:
            user["accountEnabled"] = None  # some objects really carry null here
        else:
            user["accountEnabled"] = True
        if not guest or rng.random() < 0.5:
            user["lastPasswordChangeDateTime"] = _iso(created + dt.timedelta(days=rng.randint(0, 300)))
        if rng.random() < 0.7:
            city, state, country, postal, _ = rng.choice(catalog.CITIES)
            user.update(
                streetAddress=f"{rng.randint(1, 999)} {rng.choice(catalog.STREETS)}",
                city=city,
                state=state,
                country=country,
                postalCode=postal,
            )
        tenant.add_user_raw({k: v for k, v in user.items() if v is not _ABSENT})
        result.append(user_id)
    return result


def _new_group(tenant: Tenant, ids: _Ids, rng: random.Random, name: str, kind: str, index: int) -> dict:
    group_id = ids.new()
    unified = kind == "m365"
    mail_enabled = unified or kind == "mail-security"
    nickname = f"{_ascii_slug(name)}{index}"
    return {
        "id": group_id,
        "deletedDateTime": None,
        "classification": None,
        "createdDateTime": _iso(BASE_TIME - dt.timedelta(days=rng.randint(1, 1500))),
        "description": _maybe(rng, 0.3, f"{name} ({kind})"),
        "displayName": name,
        "expirationDateTime": None,
        "groupTypes": ["Unified"] if unified else [],
        "isAssignableToRole": True if kind == "role-assignable" else None,
        "mail": f"{nickname}@{tenant.domain}" if mail_enabled else None,
        "mailEnabled": mail_enabled,
        "mailNickname": nickname,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "onPremisesLastSyncDateTime": None,
        "onPremisesSecurityIdentifier": None,
        "onPremisesSyncEnabled": None,
        "preferredDataLocation": None,
        "preferredLanguage": None,
        "proxyAddresses": [f"SMTP:{nickname}@{tenant.domain}"] if mail_enabled else [],
        "renewedDateTime": None,
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": ["Team"] if unified and rng.random() < 0.5 else [],
        "securityEnabled": kind != "m365",
        "securityIdentifier": f"S-1-12-1-{uuid.UUID(group_id).int % 4294967295}",
        "theme": None,
        "visibility": (
            "Private"
            if kind == "role-assignable"
            else rng.choice(("Public", "Private", "HiddenMembership", None))
            if unified
            else None
        ),
        "onPremisesProvisioningErrors": [],
    }


def _groups(tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids, user_ids: list[str]) -> list[str]:
    count = shape.group_count
    role_assignable = max(2, min(20, count // 50))
    group_ids: list[str] = []
    for index in range(count):
        if index == 0:
            name, kind = "All Company", "m365"
        elif index <= role_assignable:
            name, kind = f"Privileged Admins {index}", "role-assignable"
        else:
            kind = rng.choices(("security", "m365", "mail-security"), (0.5, 0.4, 0.1))[0]
            name = f"{rng.choice(catalog.DEPARTMENTS)} {rng.choice(('Team', 'Project', 'Readers', 'Owners', 'Guild'))} {index}"
        group = _new_group(tenant, ids, rng, name, kind, index)
        if rng.random() < 0.15:
            group["uniqueName"] = f"grp-{_ascii_slug(name)}-{index}"
        tenant.add_group_raw(group)
        group_ids.append(group["id"])

    members_only = [u for u in user_ids if tenant.users[u]["userType"] == "Member"]
    for user_id in members_only:  # "All Company": tens of thousands of members at larger sizes
        tenant._link(group_ids[0], user_id)
    n_users = len(user_ids)
    large = {1 + role_assignable + i for i in range(3)} if count > role_assignable + 4 else set()
    for index in range(1, count):
        if index in large:
            size = min(n_users, max(50, n_users // 5), 50_000)
        elif index <= role_assignable:
            size = rng.randint(1, 5)
        else:
            size = min(n_users, 5000, int(rng.paretovariate(1.3) * 6))
        for user_index in rng.sample(range(n_users), size) if n_users else ():
            tenant._link(group_ids[index], user_ids[user_index])
        if index > role_assignable and rng.random() < 0.10 and index + 1 < count:  # nesting, acyclic
            for child in rng.sample(range(index + 1, count), min(rng.randint(1, 3), count - index - 1)):
                tenant._link(group_ids[index], group_ids[child])
    # Always at least one two-level chain (A contains B contains C), whatever the dice said.
    anchor = role_assignable + 4
    if anchor + 2 < count:
        tenant._link(group_ids[anchor], group_ids[anchor + 1])
        tenant._link(group_ids[anchor + 1], group_ids[anchor + 2])
    # A role-assignable group nested in an ordinary one, and an ordinary group in a role-assignable one.
    if anchor + 3 < count:
        tenant._link(group_ids[anchor + 3], group_ids[1])
        tenant._link(group_ids[1], group_ids[anchor + 3 if anchor + 4 >= count else anchor + 4])
    return group_ids


def _role_definitions(tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids) -> None:
    roles = list(catalog.BUILT_IN_ROLES)
    for area in catalog.SYNTHETIC_ROLE_AREAS:
        if len(roles) >= catalog.BUILT_IN_ROLE_COUNT:
            break
        template = str(uuid.uuid5(uuid.NAMESPACE_URL, f"entra-pipeline-sim/role/{area}"))
        roles.append((f"{area} Administrator", template))
    for name, template in roles:
        tenant.role_definitions[template] = {
            "id": template,
            "description": f"Built-in role {name}: can manage the tasks it names.",
            "displayName": name,
            "isBuiltIn": True,
            "isEnabled": True,
            "resourceScopes": ["/"],
            "rolePermissions": [
                {"allowedResourceActions": [f"microsoft.directory/{_ascii_slug(name)}/allTasks"], "condition": None}
            ],
            "templateId": template,
            "version": "1",
        }
    for index in range(shape.custom_roles):
        role_id = ids.new()
        tenant.role_definitions[role_id] = {
            "id": role_id,
            "description": _maybe(rng, 0.3, f"Custom role {index} for delegated tasks"),
            "displayName": f"Custom Helpdesk Role {index}",
            "isBuiltIn": False,
            "isEnabled": index != 0,  # one disabled custom role
            "resourceScopes": ["/"],
            "rolePermissions": [
                {"allowedResourceActions": ["microsoft.directory/users/standard/read"], "condition": None}
            ],
            "templateId": role_id,
            "version": None,
        }


ACTIVATED_ROLES = (
    "Global Administrator",
    "User Administrator",
    "Helpdesk Administrator",
    "Security Reader",
    "Global Reader",
    "Application Administrator",
    "Groups Administrator",
    "Exchange Administrator",
    "Directory Readers",
    "Privileged Role Administrator",
)


def _directory_roles(tenant: Tenant, rng: random.Random, user_ids: list[str], group_ids: list[str]) -> None:
    by_name = {r["displayName"]: r for r in tenant.role_definitions.values()}
    assignable = [g for g in group_ids if tenant.groups[g]["isAssignableToRole"]]
    per_role = max(1, min(50, len(user_ids) // 100))
    for name in ACTIVATED_ROLES:
        definition = by_name[name]
        for user_index in rng.sample(range(len(user_ids)), min(len(user_ids), rng.randint(1, per_role))):
            tenant.assign_role(user_ids[user_index], definition["id"])
        if assignable and rng.random() < 0.5:
            tenant.assign_role(rng.choice(assignable), definition["id"])
    custom = [r for r in tenant.role_definitions.values() if not r["isBuiltIn"]]
    if custom and user_ids:
        tenant.assign_role(user_ids[0], custom[-1]["id"])


def _administrative_units(
    tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids, user_ids: list[str], group_ids: list[str]
) -> None:
    by_name = {r["displayName"]: r for r in tenant.role_definitions.values()}
    for index in range(max(2, shape.users // 5000)):
        unit_id = ids.new()
        tenant.administrative_units[unit_id] = {
            "id": unit_id,
            "deletedDateTime": None,
            "description": _maybe(rng, 0.3, f"Region {index}"),
            "displayName": f"{rng.choice(catalog.CITIES)[0]} Administrative Unit {index}",
            "isMemberManagementRestricted": index == 0,
            "membershipRule": None,
            "membershipRuleProcessingState": None,
            "membershipType": None,
            "visibility": "HiddenMembership" if index == 1 else None,
        }
        for user_index in rng.sample(range(len(user_ids)), min(len(user_ids), rng.randint(5, 500))):
            tenant._link(unit_id, user_ids[user_index])
        for group_index in rng.sample(range(len(group_ids)), min(len(group_ids), 2)):
            tenant._link(unit_id, group_ids[group_index])
        if user_ids:
            tenant.assign_role(
                rng.choice(user_ids),
                by_name["Helpdesk Administrator"]["id"],
                directory_scope_id=f"/administrativeUnits/{unit_id}",
            )


def _eligibility(tenant: Tenant, rng: random.Random, ids: _Ids, user_ids: list[str]) -> None:
    roles = [r for r in tenant.role_definitions.values() if r["isBuiltIn"]][:20]
    for _ in range(min(len(user_ids), max(3, len(user_ids) // 50), 500)):
        schedule_id = ids.new()
        start = BASE_TIME - dt.timedelta(days=rng.randint(1, 200))
        tenant.role_eligibility_schedules[schedule_id] = {
            "id": schedule_id,
            "appScopeId": None,
            "createdDateTime": _iso(start),
            "createdUsing": schedule_id,
            "directoryScopeId": "/",
            "memberType": "Direct",
            "modifiedDateTime": None,
            "principalId": rng.choice(user_ids),
            "roleDefinitionId": rng.choice(roles)["id"],
            "scheduleInfo": {
                "startDateTime": _iso(start),
                "recurrence": None,
                "expiration": {"type": "noExpiration", "endDateTime": None, "duration": None},
            },
            "status": "Provisioned",
        }


def _app_roles(rng: random.Random, ids: _Ids, app_name: str) -> list[dict]:
    return [
        {
            "allowedMemberTypes": ["User"] if i else ["User", "Application"],
            "description": f"{app_name} {value}",
            "displayName": f"{app_name} {value}",
            "id": ids.new(),
            "isEnabled": True,
            "origin": "Application",
            "value": f"{_ascii_slug(app_name)}.{value.lower()}",
        }
        for i, value in enumerate(("Reader", "Writer", "Admin", "Auditor")[: rng.randint(1, 4)])
    ]


def _service_principal(sp_id: str, app: dict, owner_tenant: str, tags: list[str]) -> dict:
    return {
        "id": sp_id,
        "deletedDateTime": None,
        "accountEnabled": True,
        "appDisplayName": app["displayName"],
        "appId": app["appId"],
        "appOwnerOrganizationId": owner_tenant,
        "appRoleAssignmentRequired": False,
        "appRoles": app.get("appRoles") or [],
        "description": None,
        "displayName": app["displayName"],
        "homepage": None,
        "keyCredentials": [],
        "passwordCredentials": [],
        "replyUrls": [],
        "servicePrincipalNames": [app["appId"]],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "tags": tags,
    }


def _password_credential(rng: random.Random, ids: _Ids, end: dt.datetime, hint: str) -> dict:
    return {
        "customKeyIdentifier": None,
        "displayName": "client secret",
        "endDateTime": _iso(end),
        "hint": hint,
        "keyId": ids.new(),
        "secretText": None,
        "startDateTime": _iso(end - dt.timedelta(days=365)),
    }


def _applications(
    tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids, connector: ConnectorApp
) -> list[str]:
    sp_ids = []
    microsoft_tenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    for name, app_id in catalog.FIRST_PARTY_SERVICE_PRINCIPALS:
        sp_ids.append(_first_party(tenant, name, app_id, microsoft_tenant))

    apps = [
        (f"{rng.choice(catalog.APP_NAMES)} {i}", ids.new(), rng.random() < 0.5) for i in range(shape.application_count)
    ]
    apps.append(("entra-pipeline connector", connector.client_id, False))
    for name, app_id, defines_roles in apps:
        sp_ids.append(_registration(tenant, rng, ids, connector, name, app_id, defines_roles))
    return sp_ids


def _first_party(tenant: Tenant, name: str, app_id: str, owner: str) -> str:
    """A Microsoft application's service principal in the tenant (Graph's with its app roles)."""
    sp_id = str(uuid.uuid5(uuid.UUID(tenant.tenant_id), app_id))
    app_roles = (
        []
        if app_id != catalog.GRAPH_APP_ID
        else [
            {
                "allowedMemberTypes": ["Application"],
                "description": f"Allows the app to {perm}",
                "displayName": perm,
                "id": role_id,
                "isEnabled": True,
                "origin": "Application",
                "value": perm,
            }
            for perm, role_id in catalog.GRAPH_APP_ROLES.items()
        ]
    )
    tenant.service_principals[sp_id] = _service_principal(
        sp_id, {"displayName": name, "appId": app_id, "appRoles": app_roles}, owner, []
    )
    return sp_id


def _registration(
    tenant: Tenant, rng: random.Random, ids: _Ids, connector: ConnectorApp, name: str, app_id: str, defines_roles: bool
) -> str:
    """An app registered in the tenant and its service principal (whose id is returned)."""
    object_id = ids.new()
    is_connector = app_id == connector.client_id
    end = connector.secret_expires if is_connector else BASE_TIME + dt.timedelta(days=rng.randint(-60, 700))
    app = {
        "id": object_id,
        "deletedDateTime": None,
        "appId": app_id,
        "appRoles": _app_roles(rng, ids, name) if defines_roles else [],
        "createdDateTime": _iso(BASE_TIME - dt.timedelta(days=rng.randint(1, 900))),
        "description": None if rng.random() < 0.5 else f"{name} line-of-business app",
        "displayName": name,
        "identifierUris": [f"api://{app_id}"] if defines_roles else [],
        "keyCredentials": [],
        "passwordCredentials": [_password_credential(rng, ids, end, "sim")]
        if is_connector or rng.random() < 0.7
        else [],
        "publisherDomain": tenant.domain,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "uniqueName": f"app-{_ascii_slug(name)}" if rng.random() < 0.2 else None,
    }
    tenant.applications[object_id] = app
    sp_id = ids.new()
    tenant.service_principals[sp_id] = _service_principal(
        sp_id, app, tenant.tenant_id, ["WindowsAzureActiveDirectoryIntegratedApp"]
    )
    return sp_id


def _connector_sp_id(tenant: Tenant, connector: ConnectorApp) -> str:
    return next(sp["id"] for sp in tenant.service_principals.values() if sp["appId"] == connector.client_id)


def _app_role_assignments(
    tenant: Tenant, rng: random.Random, user_ids: list[str], group_ids: list[str], sp_ids: list[str]
) -> None:
    graph_sp = tenant.service_principals[sp_ids[0]]

    def assign(principal_id: str, resource: dict, app_role_id: str, principal_type: str) -> None:
        principal = tenant.get(principal_id)
        assignment_id = assignment_id_for(principal_id, resource["id"], app_role_id)
        if assignment_id in tenant.app_role_assignments:
            return
        tenant.add_assignment_raw(
            {
                "id": assignment_id,
                "deletedDateTime": None,
                "appRoleId": app_role_id,
                "createdDateTime": _iso(BASE_TIME - dt.timedelta(days=rng.randint(1, 500))),
                "principalDisplayName": principal.get("displayName"),
                "principalId": principal_id,
                "principalType": principal_type,
                "resourceDisplayName": resource["displayName"],
                "resourceId": resource["id"],
            }
        )

    resources = [tenant.service_principals[s] for s in sp_ids[1:]]
    for user_id in user_ids:
        if rng.random() < 0.4:
            resource = rng.choice(resources)
            roles = resource["appRoles"]
            assign(user_id, resource, rng.choice(roles)["id"] if roles else catalog.DEFAULT_ACCESS_ROLE_ID, "User")
    for group_id in group_ids:
        if rng.random() < 0.05:
            resource = rng.choice(resources)
            roles = resource["appRoles"]
            assign(group_id, resource, rng.choice(roles)["id"] if roles else catalog.DEFAULT_ACCESS_ROLE_ID, "Group")
    # Application permissions: app service principals hold app roles of Microsoft Graph.
    graph_roles = {r["value"]: r["id"] for r in graph_sp["appRoles"]}
    app_sps = [tenant.service_principals[s] for s in sp_ids[len(catalog.FIRST_PARTY_SERVICE_PRINCIPALS) :]]
    for sp in app_sps[:-1]:
        if rng.random() < 0.3:
            assign(sp["id"], graph_sp, graph_roles[rng.choice(sorted(graph_roles))], "ServicePrincipal")
    # Service principals granted default access on other apps that define no app roles.
    no_roles = [r for r in resources if not r["appRoles"]]
    for sp in app_sps[: max(1, len(app_sps) // 4)]:
        if no_roles:
            target = rng.choice(no_roles)
            if target["id"] != sp["id"]:
                assign(sp["id"], target, catalog.DEFAULT_ACCESS_ROLE_ID, "ServicePrincipal")


def grant_connector_permissions(tenant: Tenant, connector: ConnectorApp) -> None:
    """Record the connector's granted Graph permissions as app role assignments on Graph's SP."""
    graph_sp = next(sp for sp in tenant.service_principals.values() if sp["appId"] == catalog.GRAPH_APP_ID)
    connector_sp = _connector_sp_id(tenant, connector)
    for assignment_id in list(tenant.assignments_by_principal.get(connector_sp, ())):
        if tenant.app_role_assignments[assignment_id]["resourceId"] == graph_sp["id"]:
            tenant.remove_app_role_assignment(assignment_id)
    for permission in connector.granted_permissions:
        role_id = catalog.GRAPH_APP_ROLES.get(permission)
        if role_id:
            tenant.assign_app_role(connector_sp, graph_sp["id"], role_id)


# ---------------------------------------------------------------------------- realistic profile
# Numbers marked (judgement) are ours, not published: docs/simulator.md says which are which.

ALL_COMPANY_GROUPS = ("All Company", "All Users", "All Employees (dynamic)")
SMALL_GROUP_PARETO_ALPHA = 1.4  # (judgement) P(size >= s) ~ (s / 3) ** -1.4: ~94% under 20 members
HEAVY_APP_USER_SHARES = (0.10, 0.05, 0.03, 0.02, 0.01)  # (judgement) direct user assignments
GALLERY_APPS = (
    "Salesforce",
    "ServiceNow",
    "Workday",
    "Zoom",
    "Slack",
    "Atlassian Cloud",
    "DocuSign",
    "Box",
    "Dropbox Business",
    "AWS IAM Identity Center",
    "Google Cloud / G Suite Connector by Microsoft",
    "Adobe Identity Management",
    "Cisco Webex",
    "Tableau Cloud",
    "SAP Cloud Identity Services",
    "Zscaler",
    "GitHub Enterprise Cloud - Enterprise Account",
    "Miro",
    "Figma",
    "LinkedIn Learning",
    "Coupa",
    "Concur",
    "Cornerstone OnDemand",
    "SuccessFactors",
    "Smartsheet",
    "Asana",
    "Confluence SAML SSO",
    "Jira SAML SSO",
    "Okta",
    "Splunk Enterprise and Splunk Cloud",
)


def _realistic_groups(
    tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids, user_ids: list[str]
) -> list[str]:
    """users/4 groups: three all-company groups, department and location groups (hundreds to
    thousands of members), a percent of mid-sized ones, and a Zipf-like tail of small ones."""
    count = shape.group_count
    n_users = len(user_ids)
    role_assignable = max(2, min(20, count // 50))
    by_department: dict[str, list[str]] = {}
    by_city: dict[str, list[str]] = {}
    members_only = []
    for user_id in user_ids:
        user = tenant.users[user_id]
        if user["userType"] == "Member":
            members_only.append(user_id)
        if user.get("department"):
            by_department.setdefault(user["department"], []).append(user_id)
        if user.get("city"):
            by_city.setdefault(user["city"], []).append(user_id)
    # (name, kind, member ids or None for a random size drawn below)
    plan: list[tuple[str, str, list[str] | None]] = [
        (ALL_COMPANY_GROUPS[0], "m365", members_only),
        (ALL_COMPANY_GROUPS[1], "security", user_ids),
        (ALL_COMPANY_GROUPS[2], "security", [u for u in members_only if tenant.users[u].get("accountEnabled")]),
    ]
    plan += [(f"Privileged Admins {i}", "role-assignable", None) for i in range(1, role_assignable + 1)]
    plan += [(f"Dept - {name}", "security", by_department[name]) for name in sorted(by_department)]
    plan += [(f"Location - {name}", "mail-security", by_city[name]) for name in sorted(by_city)]
    plan = plan[:count]
    fixed = len(plan)
    mid = max(0, min(count - fixed, count // 100))  # (judgement) 1% of groups: 100 to 5,000 members
    mid_top = max(100, min(5000, n_users // 5))
    group_ids: list[str] = []
    for index in range(count):
        if index < fixed:
            name, kind, chosen = plan[index]
        else:
            kind = rng.choices(("security", "m365", "mail-security"), (0.5, 0.4, 0.1))[0]
            name = f"{rng.choice(catalog.DEPARTMENTS)} {rng.choice(('Team', 'Project', 'Readers', 'Owners', 'Guild'))} {index}"
            chosen = None
        group = _new_group(tenant, ids, rng, name, kind, index)
        if name == ALL_COMPANY_GROUPS[2]:
            group.update(
                groupTypes=["DynamicMembership"],
                membershipRuleProcessingState="On",
                membershipRule='(user.userType -eq "Member") and (user.accountEnabled -eq true)',
            )
        if rng.random() < 0.15:
            group["uniqueName"] = f"grp-{_ascii_slug(name)}-{index}"
        tenant.add_group_raw(group)
        group_ids.append(group["id"])
        if chosen is None:
            if kind == "role-assignable":
                size = rng.randint(1, 5)
            elif index < fixed + mid:
                size = int(math.exp(rng.uniform(math.log(100), math.log(mid_top))))
            elif rng.random() < 0.03:
                size = 0  # empty groups exist in every tenant
            else:
                size = int(rng.paretovariate(SMALL_GROUP_PARETO_ALPHA) * 3) - 2
            size = min(n_users, size, 5000)
            chosen = [user_ids[i] for i in rng.sample(range(n_users), size)] if n_users else []
        link = tenant._link
        for user_id in chosen:
            link(group["id"], user_id)
    # Nesting (acyclic: a group only contains later ones), as in the classic profile.
    small_start = fixed + mid
    for index in range(small_start, count - 1):
        if rng.random() < 0.05:
            for child in rng.sample(range(index + 1, count), min(rng.randint(1, 3), count - index - 1)):
                tenant._link(group_ids[index], group_ids[child])
    # Location groups nested in "All Company"-style regional groups do not exist here; but a
    # two-level chain and a role-assignable group nested both ways always do.
    anchor = small_start
    if anchor + 4 < count:
        tenant._link(group_ids[anchor], group_ids[anchor + 1])
        tenant._link(group_ids[anchor + 1], group_ids[anchor + 2])
        tenant._link(group_ids[anchor + 3], group_ids[3])
        tenant._link(group_ids[3], group_ids[anchor + 4])
    return group_ids


@dataclass
class _RealisticSps:
    first_party: list[str]
    apps: list[str]  # one per app registration, the connector's last
    gallery: list[str]


def _realistic_service_principals(
    tenant: Tenant, shape: TenantShape, rng: random.Random, ids: _Ids, connector: ConnectorApp
) -> _RealisticSps:
    first_party = []
    for name, app_id, owner in first_party_service_principals():
        first_party.append(_first_party(tenant, name, app_id, owner))

    apps = []
    registrations = [
        (f"{rng.choice(catalog.APP_NAMES)} {i}", ids.new(), rng.random() < 0.5) for i in range(shape.application_count)
    ]
    registrations.append(("entra-pipeline connector", connector.client_id, False))
    for name, app_id, defines_roles in registrations:
        apps.append(_registration(tenant, rng, ids, connector, name, app_id, defines_roles))

    gallery = []
    for index in range(shape.gallery_count):
        vendor = GALLERY_APPS[index % len(GALLERY_APPS)]
        name = vendor if index < len(GALLERY_APPS) else f"{vendor} {index // len(GALLERY_APPS) + 1}"
        sp_id, app_id = ids.new(), ids.new()
        roles = [
            {
                "allowedMemberTypes": ["User"],
                "description": "User",
                "displayName": "User",
                "id": ids.new(),
                "isEnabled": True,
                "origin": "Application",
                "value": None,
            },
            {
                "allowedMemberTypes": ["User"],
                "description": "msiam_access",
                "displayName": "msiam_access",
                "id": ids.new(),
                "isEnabled": True,
                "origin": "Application",
                "value": None,
            },
        ]
        sp = _service_principal(
            sp_id,
            {"displayName": name, "appId": app_id, "appRoles": roles},
            str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{_ascii_slug(vendor)}.example")),
            ["WindowsAzureActiveDirectoryIntegratedApp", "WindowsAzureActiveDirectoryCustomSingleSignOnApplication"],
        )
        sp.update(
            appRoleAssignmentRequired=rng.random() < 0.7,
            signInAudience="AzureADMultipleOrgs",
            homepage=f"https://{_ascii_slug(vendor)}.example/sso",
        )
        tenant.service_principals[sp_id] = sp
        gallery.append(sp_id)
    return _RealisticSps(first_party, apps, gallery)


def _realistic_assignments(
    tenant: Tenant, rng: random.Random, user_ids: list[str], group_ids: list[str], sps: _RealisticSps
) -> None:
    """Most service principals have no app role assigned to anyone; the first five gallery apps
    are assigned to all-company groups and to thousands of users directly; Microsoft Graph holds
    the apps' application permissions; a few hundred apps have a handful of assignments."""
    types = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}

    def assign(principal_id: str, resource: dict, app_role_id: str) -> None:
        assignment_id = assignment_id_for(principal_id, resource["id"], app_role_id)
        if assignment_id in tenant.app_role_assignments:
            return
        kind = tenant.kind_of(principal_id)
        tenant.add_assignment_raw(
            {
                "id": assignment_id,
                "deletedDateTime": None,
                "appRoleId": app_role_id,
                "createdDateTime": _iso(BASE_TIME - dt.timedelta(days=rng.randint(1, 500))),
                "principalDisplayName": tenant.table(kind)[principal_id].get("displayName"),
                "principalId": principal_id,
                "principalType": types[kind],
                "resourceDisplayName": resource["displayName"],
                "resourceId": resource["id"],
            }
        )

    def role_of(resource: dict) -> str:
        roles = resource["appRoles"]
        return rng.choice(roles)["id"] if roles else catalog.DEFAULT_ACCESS_ROLE_ID

    n_users = len(user_ids)
    table = tenant.service_principals
    for rank, share in enumerate(HEAVY_APP_USER_SHARES[: len(sps.gallery)]):
        resource = table[sps.gallery[rank]]
        for group_id in group_ids[: 1 + rank % 2]:  # All Company, and All Users for every other one
            assign(group_id, resource, resource["appRoles"][0]["id"])
        for index in rng.sample(range(n_users), min(n_users, max(25, int(n_users * share)))):
            assign(user_ids[index], resource, role_of(resource))
    # Application permissions: ~30% of app registrations hold 1-3 Microsoft Graph app roles.
    graph_sp = table[sps.first_party[0]]
    graph_roles = sorted(r["id"] for r in graph_sp["appRoles"])
    for sp_id in sps.apps[:-1]:
        if rng.random() < 0.3:
            for role_id in rng.sample(graph_roles, rng.randint(1, 3)):
                assign(sp_id, graph_sp, role_id)
    # A few hundred apps with a handful each (users, small groups, now and then another app).
    candidates = sps.apps[:-1] + sps.gallery[len(HEAVY_APP_USER_SHARES) :]
    small_groups = group_ids[len(ALL_COMPANY_GROUPS) :]
    for sp_id in rng.sample(candidates, min(len(candidates), max(20, n_users // 300))):
        resource = table[sp_id]
        for _ in range(rng.randint(1, 8)):
            roll = rng.random()
            if roll < 0.7 and n_users:
                principal = user_ids[rng.randrange(n_users)]
            elif roll < 0.95 and small_groups:
                principal = rng.choice(small_groups)
            else:
                principal = rng.choice(sps.apps)
                if principal == sp_id:
                    continue
            assign(principal, resource, role_of(resource))
    # Service principals as group members: one app in ~1% of the small groups.
    for group_id in rng.sample(small_groups, min(len(small_groups), max(3, len(group_ids) // 100))):
        tenant._link(group_id, rng.choice(sps.apps[:-1] or sps.apps))
