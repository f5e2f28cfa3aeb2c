"""Microsoft Graph v1.0 read endpoints over the simulated tenant.

Each route names its throttling base cost (Microsoft's published table; 1 if unlisted) and
the application permissions that grant it (any one suffices; least-privileged first, per
each endpoint's documentation page).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from . import catalog
from .delta import DeltaEngine
from .odata import (
    GraphError,
    context_url,
    decode_token,
    encode_token,
    matches,
    parse_filter,
    parse_select,
    parse_top,
    project,
)
from .tenant import Tenant

READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_GROUPS = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
READ_DIRECTORY = ("Directory.Read.All", "Directory.ReadWrite.All")
READ_ROLES = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
READ_ELIGIBILITY = (
    "RoleEligibilitySchedule.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
)
READ_APPS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_UNITS = (
    "AdministrativeUnit.Read.All",
    "AdministrativeUnit.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
READ_ORGANIZATION = (
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)

MEMBER_KINDS = ("user", "group", "servicePrincipal")
MEMBER_OF_KINDS = ("group", "directoryRole", "administrativeUnit")

# $expand on directory objects (learn.microsoft.com/graph/known-issues and query-parameters,
# "$expand: For directory objects, returns a maximum of 20 objects. No support for
# @odata.nextLink. No support for more than one level of expand."; known issue 13635: with
# $expand a page holds at most 100 objects, even with $top=999).
EXPAND_MAX_ITEMS = 20
EXPAND_MAX_PAGE = 100


@dataclass(frozen=True)
class Expand:
    """One parsed `$expand=name` or `$expand=name($select=a,b)`."""

    name: str
    select: list[str] | None


def parse_expand(query: dict[str, str], navigations: dict[str, tuple[str, ...]], type_name: str) -> Expand | None:
    """The listing's one $expand, checked against the type's expandable navigation properties
    (name -> the properties a nested $select may name)."""
    raw = query.get("$expand")
    if raw is None:
        return None
    text = raw.strip()
    depth, top_level_comma = 0, False
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        top_level_comma |= ch == "," and depth == 0
    if top_level_comma or text == "*":
        raise GraphError(
            400, "Request_UnsupportedQuery", "Only one navigation property can be expanded on directory objects."
        )
    name, _, rest = text.partition("(")
    name = name.strip()
    canonical = next((n for n in navigations if n.lower() == name.lower()), None)
    if canonical is None and any(n.lower() == name.lower() for n in catalog.NAVIGATION_PROPERTIES.get(type_name, ())):
        raise GraphError(
            501,
            "NotImplemented",
            f"The simulator does not model $expand={name} on {type_name}; "
            "only $expand=members on groups and $expand=appRoleAssignedTo on service principals.",
        )
    if canonical is None:
        raise GraphError(
            400,
            "BadRequest",
            "Parsing OData Select and Expand failed: Could not find a property "
            f"named '{name}' on type 'microsoft.graph.{type_name}'.",
        )
    select = None
    if rest:
        if not rest.endswith(")"):
            raise GraphError(400, "BadRequest", "Parsing OData Select and Expand failed: ')' or ',' expected.")
        options = {}
        for option in rest[:-1].split(";"):
            key, _, value = option.strip().partition("=")
            if key:
                options[key.strip().lower()] = value
        if "$expand" in options:
            raise GraphError(
                400, "Request_UnsupportedQuery", "Only one level of $expand is supported on directory objects."
            )
        unsupported = sorted(set(options) - {"$select"})
        if unsupported:
            raise GraphError(
                400, "Request_UnsupportedQuery", f"The query option '{unsupported[0]}' is not supported inside $expand."
            )
        if "$select" in options:
            item_type = "directoryObject" if canonical == "members" else "appRoleAssignment"
            try:
                select = parse_select({"$select": options["$select"]}, navigations[canonical], item_type)
            except GraphError as error:
                raise GraphError(
                    400, "BadRequest", f"Parsing OData Select and Expand failed: {error.message}"
                ) from None
    return Expand(canonical, select)


def expand_context(select: list[str] | None, expand: Expand | None) -> list[str] | None:
    """The projection @odata.context names: `groups(id,displayName,members(id,displayName))`."""
    if expand is None or select is None:
        return select
    return [*select, f"{expand.name}({','.join(expand.select or ())})"]


_MEMBER_PROPERTIES = tuple(dict.fromkeys(p for k in MEMBER_KINDS for p in catalog.PROPERTIES_BY_KIND[k]))
GROUP_NAVIGATIONS = {"members": _MEMBER_PROPERTIES}
SERVICE_PRINCIPAL_NAVIGATIONS = {"appRoleAssignedTo": catalog.APP_ROLE_ASSIGNMENT_PROPERTIES}


@dataclass
class Call:
    """One Graph request as the handlers see it."""

    path: str  # path after /v1.0, as sent
    query: dict[str, str]
    headers: dict[str, str]
    base: str  # https://host:port/v1.0
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern
    entity: str
    base_cost: int
    permissions: tuple[str, ...]
    handler: Callable[[GraphApi, Call], dict]
    method: str = "GET"


def _route(name: str, entity: str, base_cost: int, permissions: tuple[str, ...], handler, method: str = "GET") -> Route:
    regex = "^" + re.escape(name).replace(r"\{id\}", "([^/]+)") + "$"
    return Route(name, re.compile(regex, re.IGNORECASE), entity, base_cost, permissions, handler, method)


def _delta_route(entity_set: str, permissions: tuple[str, ...], path: str | None = None) -> Route:
    # SDKs send /users/delta(), docs use /users/delta and /users/microsoft.graph.delta: accept all four.
    # Administrative units: v1.0 lists them under /directory/administrativeUnits; the delta page's
    # older text writes /administrativeUnits/delta: both are routed.
    path = path or entity_set
    prefixes = re.escape(path) + (f"|{re.escape(entity_set)}" if path != entity_set else "")
    pattern = re.compile(rf"^/(?:{prefixes})/(?:microsoft\.graph\.)?delta(?:\(\))?$", re.IGNORECASE)
    return Route(
        f"/{path}/delta",
        pattern,
        entity_set,
        1,
        permissions,
        lambda api, call: api.delta.handle(entity_set, call.query, call.headers, call.base, call.path),
    )


class GraphApi:
    def __init__(self, tenant: Tenant, delta: DeltaEngine) -> None:
        self.tenant = tenant
        self.delta = delta
        self.routes = [
            _route("/users", "users", 2, READ_USERS, GraphApi.list_users),
            _delta_route("users", READ_USERS),
            _route("/users/{id}", "users", 1, READ_USERS, GraphApi.get_user),
            _route("/users/{id}/memberOf", "users", 2, READ_DIRECTORY, GraphApi.user_member_of),
            _route("/users/{id}/appRoleAssignments", "users", 1, READ_DIRECTORY, GraphApi.user_app_role_assignments),
            _route("/groups", "groups", 1, READ_GROUPS, GraphApi.list_groups),
            _delta_route("groups", READ_GROUPS),
            _route("/groups/{id}", "groups", 1, READ_GROUPS, GraphApi.get_group),
            _route("/groups/{id}/members", "groups", 3, READ_GROUPS, GraphApi.group_members),
            _route("/groups/{id}/memberOf", "groups", 1, READ_GROUPS, GraphApi.group_member_of),
            _route("/groups/{id}/appRoleAssignments", "groups", 1, READ_DIRECTORY, GraphApi.group_app_role_assignments),
            _route("/directoryRoles", "directoryRoles", 1, READ_ROLES, GraphApi.list_directory_roles),
            _delta_route("directoryRoles", READ_ROLES),
            _route("/directoryRoles/{id}", "directoryRoles", 1, READ_ROLES, GraphApi.get_directory_role),
            _route("/directoryRoles/{id}/members", "directoryRoles", 1, READ_ROLES, GraphApi.directory_role_members),
            _route("/directory/administrativeUnits", "administrativeUnits", 1, READ_UNITS, GraphApi.list_units),
            _delta_route("administrativeUnits", READ_UNITS, "directory/administrativeUnits"),
            _route(
                "/directory/administrativeUnits/{id}/members",
                "administrativeUnits",
                1,
                READ_UNITS,
                GraphApi.unit_members,
            ),
            _route("/roleManagement/directory/roleDefinitions", "roles", 1, READ_ROLES, GraphApi.list_role_definitions),
            _route(
                "/roleManagement/directory/roleDefinitions/{id}", "roles", 1, READ_ROLES, GraphApi.get_role_definition
            ),
            _route(
                "/roleManagement/directory/roleAssignments",
                "roleAssignments",
                1,
                READ_ROLES,
                GraphApi.list_role_assignments,
            ),
            _route(
                "/roleManagement/directory/roleEligibilitySchedules",
                "roleEligibilitySchedules",
                1,
                READ_ELIGIBILITY,
                GraphApi.list_eligibility,
            ),
            _route("/applications", "applications", 2, READ_APPS, GraphApi.list_applications),
            _route("/applications/{id}", "applications", 1, READ_APPS, GraphApi.get_application),
            _route("/servicePrincipals", "servicePrincipals", 1, READ_APPS, GraphApi.list_service_principals),
            _route("/servicePrincipals/{id}", "servicePrincipals", 1, READ_APPS, GraphApi.get_service_principal),
            _route(
                "/servicePrincipals/{id}/appRoleAssignedTo",
                "servicePrincipals",
                1,
                READ_APPS,
                GraphApi.sp_app_role_assigned_to,
            ),
            _route(
                "/servicePrincipals/{id}/appRoleAssignments",
                "servicePrincipals",
                2,
                READ_APPS,
                GraphApi.sp_app_role_assignments,
            ),
            _route("/organization", "tenant", 1, READ_ORGANIZATION, GraphApi.list_organization),
        ]

    def match(self, method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
        clean = path.rstrip("/") or "/"
        for route in self.routes:
            found = route.pattern.match(clean)
            if found and route.method == method:
                return route, found.groups()
        return None

    def path_exists(self, path: str) -> bool:
        clean = path.rstrip("/") or "/"
        return any(route.pattern.match(clean) for route in self.routes)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _not_found(object_id: str) -> GraphError:
        return GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
        )

    def _page(
        self,
        call: Call,
        items: list,
        render: Callable[[object], dict],
        context: str,
        default_top: int | None = 100,
        max_top: int | None = None,
    ) -> dict:
        """A page of `items`, with an opaque $skiptoken nextLink that keeps the other query options."""
        top = parse_top(call.query) if default_top else len(items) or 1
        if max_top is not None:
            top = min(top, max_top)
        offset = decode_token(call.query["$skiptoken"], "skip")["o"] if call.query.get("$skiptoken") else 0
        window = items[offset : offset + top]
        body = {"@odata.context": context, "value": [render(item) for item in window]}
        if default_top and offset + top < len(items):
            body["@odata.nextLink"] = self._next_link(call, offset + top)
        return body

    @staticmethod
    def _next_link(call: Call, offset: int) -> str:
        query = {k: v for k, v in call.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_token({"o": offset})
        return f"{call.base}{call.path}?{urlencode(query, safe='$,()')}"

    def _mixed(
        self, call: Call, ids: list[str], kinds: tuple[str, ...], context: str, default_top: int | None = 100
    ) -> dict:
        """A directoryObject collection: each item typed by @odata.type, with its own type's properties."""
        allowed = set().union(*(catalog.PROPERTIES_BY_KIND[k] for k in kinds))
        select = parse_select(call.query, allowed, "directoryObject")

        def render(object_id: str) -> dict:
            kind = self.tenant.kind_of(object_id)
            obj = self.tenant.table(kind)[object_id]
            item = {"@odata.type": catalog.ODATA_TYPE[kind]}
            item.update(
                project(
                    obj,
                    select,
                    catalog.DEFAULT_PROPERTIES_BY_KIND.get(kind),
                    available=catalog.PROPERTIES_BY_KIND[kind],
                )
            )
            return item

        return self._page(call, ids, render, context, default_top)

    def _typed_list(
        self,
        call: Call,
        objects: list[dict],
        kind_properties: tuple[str, ...],
        type_name: str,
        entity_set: str,
        default: tuple[str, ...] | None = None,
        default_top: int | None = 100,
        navigations: dict[str, tuple[str, ...]] | None = None,
    ) -> dict:
        select = parse_select(call.query, kind_properties, type_name)
        expand = parse_expand(call.query, navigations, type_name) if navigations is not None else None
        clauses = parse_filter(call.query)
        if clauses:
            for prop, _ in clauses:
                if prop not in kind_properties:
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        f"Could not find a property named '{prop}' on type 'microsoft.graph.{type_name}'.",
                    )
            objects = [o for o in objects if matches(o, clauses)]

        def render(obj: dict) -> dict:
            item = project(obj, select, default)
            if expand is not None:
                item[expand.name] = self._expanded(obj["id"], expand)
            return item

        return self._page(
            call,
            objects,
            render,
            context_url(call.base, entity_set, expand_context(select, expand)),
            default_top,
            max_top=EXPAND_MAX_PAGE if expand is not None else None,
        )

    def _expanded(self, object_id: str, expand: Expand) -> list[dict]:
        """An expanded collection: its first 20 items in the order of the navigation's own
        listing, never a nextLink; O(20), whatever the collection's size."""
        tenant = self.tenant
        items: list[dict] = []
        if expand.name == "members":
            for member_id in tenant.members.get(object_id, ()):
                kind = tenant.kind_of(member_id)
                if kind is None:  # soft-deleted: hidden, as in /groups/{id}/members
                    continue
                item = {"@odata.type": catalog.ODATA_TYPE[kind]}
                item.update(
                    project(
                        tenant.table(kind)[member_id],
                        expand.select,
                        catalog.DEFAULT_PROPERTIES_BY_KIND.get(kind),
                        available=catalog.PROPERTIES_BY_KIND[kind],
                    )
                )
                items.append(item)
                if len(items) == EXPAND_MAX_ITEMS:
                    break
        else:  # appRoleAssignedTo
            for assignment_id in tenant.assignments_by_resource.get(object_id, ()):
                assignment = tenant.app_role_assignments[assignment_id]
                if tenant.kind_of(assignment["principalId"]) is None:
                    continue
                items.append(project(assignment, expand.select, None))
                if len(items) == EXPAND_MAX_ITEMS:
                    break
        return items

    def _ordered_live(
        self,
        call: Call,
        order: list[str],
        table: dict[str, dict],
        kind: str,
        entity_set: str,
        navigations: dict[str, tuple[str, ...]] | None = None,
    ) -> dict:
        """Users and groups: walk the listing order from the token's raw offset (O(page), not O(tenant))."""
        properties = catalog.PROPERTIES_BY_KIND[kind]
        select = parse_select(call.query, properties, kind)
        expand = parse_expand(call.query, navigations, kind) if navigations is not None else None
        clauses = parse_filter(call.query)
        top = parse_top(call.query)
        if expand is not None:
            top = min(top, EXPAND_MAX_PAGE)
        position = decode_token(call.query["$skiptoken"], "skip")["o"] if call.query.get("$skiptoken") else 0
        default = catalog.DEFAULT_PROPERTIES_BY_KIND.get(kind)
        values = []
        while position < len(order) and len(values) < top:
            obj = table.get(order[position])
            position += 1
            if obj is not None and matches(obj, clauses):
                item = project(obj, select, default)
                if expand is not None:
                    item[expand.name] = self._expanded(obj["id"], expand)
                values.append(item)
        body = {"@odata.context": context_url(call.base, entity_set, expand_context(select, expand)), "value": values}
        more = any(order[p] in table and matches(table[order[p]], clauses) for p in range(position, len(order)))
        if more:  # stops at the first live object left: O(gap), not O(tenant)
            body["@odata.nextLink"] = self._next_link(call, position)
        return body

    def _user(self, key: str) -> dict:
        user = self.tenant.users.get(key)
        if user is None:
            user = next(
                (u for u in self.tenant.users.values() if u.get("userPrincipalName", "").lower() == key.lower()), None
            )
        if user is None:
            raise self._not_found(key)
        return user

    def _in(self, table: dict[str, dict], object_id: str) -> dict:
        obj = table.get(object_id)
        if obj is None:
            raise self._not_found(object_id)
        return obj

    def _single(
        self,
        call: Call,
        obj: dict,
        kind_properties: tuple[str, ...],
        type_name: str,
        entity_set: str,
        default: tuple[str, ...] | None = None,
    ) -> dict:
        select = parse_select(call.query, kind_properties, type_name)
        return {"@odata.context": f"{call.base}/$metadata#{entity_set}/$entity", **project(obj, select, default)}

    def _assignments(self, call: Call, assignments: list[dict], context: str) -> dict:
        select = parse_select(call.query, catalog.APP_ROLE_ASSIGNMENT_PROPERTIES, "appRoleAssignment")
        return self._page(call, assignments, lambda a: project(a, select, None), context)

    # ---------------------------------------------------------------- users
    def list_users(self, call: Call) -> dict:
        return self._ordered_live(call, self.tenant.user_order, self.tenant.users, "user", "users")

    def get_user(self, call: Call) -> dict:
        return self._single(
            call, self._user(call.params[0]), catalog.USER_PROPERTIES, "user", "users", catalog.USER_DEFAULT_PROPERTIES
        )

    def user_member_of(self, call: Call) -> dict:
        user = self._user(call.params[0])
        ids = [container for _, container in self.tenant.containers_of(user["id"], MEMBER_OF_KINDS)]
        return self._mixed(call, ids, MEMBER_OF_KINDS, f"{call.base}/$metadata#directoryObjects")

    def user_app_role_assignments(self, call: Call) -> dict:
        user = self._user(call.params[0])
        # user-list-approleassignments.md: "also returns app roles assigned to groups that the user
        # is a direct member of."
        assignments = list(self.tenant.assignments_to_principal(user["id"]))
        for _, group_id in self.tenant.containers_of(user["id"], ("group",)):
            assignments.extend(self.tenant.assignments_to_principal(group_id))
        return self._assignments(call, assignments, f"{call.base}/$metadata#users('{user['id']}')/appRoleAssignments")

    # ---------------------------------------------------------------- groups
    def list_groups(self, call: Call) -> dict:
        return self._ordered_live(
            call, self.tenant.group_order, self.tenant.groups, "group", "groups", GROUP_NAVIGATIONS
        )

    def get_group(self, call: Call) -> dict:
        return self._single(
            call,
            self._in(self.tenant.groups, call.params[0]),
            catalog.GROUP_PROPERTIES,
            "group",
            "groups",
            catalog.GROUP_DEFAULT_PROPERTIES,
        )

    def group_members(self, call: Call) -> dict:
        group = self._in(self.tenant.groups, call.params[0])
        return self._mixed(
            call, self.tenant.live_members(group["id"]), MEMBER_KINDS, f"{call.base}/$metadata#directoryObjects"
        )

    def group_member_of(self, call: Call) -> dict:
        group = self._in(self.tenant.groups, call.params[0])
        ids = [container for _, container in self.tenant.containers_of(group["id"], MEMBER_OF_KINDS)]
        return self._mixed(call, ids, MEMBER_OF_KINDS, f"{call.base}/$metadata#directoryObjects")

    def group_app_role_assignments(self, call: Call) -> dict:
        group = self._in(self.tenant.groups, call.params[0])
        return self._assignments(
            call,
            self.tenant.assignments_to_principal(group["id"]),
            f"{call.base}/$metadata#groups('{group['id']}')/appRoleAssignments",
        )

    # ---------------------------------------------------------------- directory roles & units
    def list_directory_roles(self, call: Call) -> dict:
        # directoryRoles and their members do not page (concepts/paging.md).
        return self._typed_list(
            call,
            list(self.tenant.directory_roles.values()),
            catalog.DIRECTORY_ROLE_PROPERTIES,
            "directoryRole",
            "directoryRoles",
            default_top=None,
        )

    def get_directory_role(self, call: Call) -> dict:
        return self._single(
            call,
            self._in(self.tenant.directory_roles, call.params[0]),
            catalog.DIRECTORY_ROLE_PROPERTIES,
            "directoryRole",
            "directoryRoles",
        )

    def directory_role_members(self, call: Call) -> dict:
        role = self._in(self.tenant.directory_roles, call.params[0])
        return self._mixed(
            call,
            self.tenant.live_members(role["id"]),
            MEMBER_KINDS,
            f"{call.base}/$metadata#directoryObjects",
            default_top=None,
        )

    def list_units(self, call: Call) -> dict:
        return self._typed_list(
            call,
            list(self.tenant.administrative_units.values()),
            catalog.ADMINISTRATIVE_UNIT_PROPERTIES,
            "administrativeUnit",
            "directory/administrativeUnits",
        )

    def unit_members(self, call: Call) -> dict:
        unit = self._in(self.tenant.administrative_units, call.params[0])
        return self._mixed(
            call, self.tenant.live_members(unit["id"]), MEMBER_KINDS, f"{call.base}/$metadata#directoryObjects"
        )

    # ---------------------------------------------------------------- role management
    def list_role_definitions(self, call: Call) -> dict:
        # roleDefinitions documents no $top: all of them come in one page.
        return self._typed_list(
            call,
            list(self.tenant.role_definitions.values()),
            catalog.ROLE_DEFINITION_PROPERTIES,
            "unifiedRoleDefinition",
            "roleManagement/directory/roleDefinitions",
            default_top=None,
        )

    def get_role_definition(self, call: Call) -> dict:
        return self._single(
            call,
            self._in(self.tenant.role_definitions, call.params[0]),
            catalog.ROLE_DEFINITION_PROPERTIES,
            "unifiedRoleDefinition",
            "roleManagement/directory/roleDefinitions",
        )

    def list_role_assignments(self, call: Call) -> dict:
        return self._typed_list(
            call,
            list(self.tenant.role_assignments.values()),
            catalog.ROLE_ASSIGNMENT_PROPERTIES,
            "unifiedRoleAssignment",
            "roleManagement/directory/roleAssignments",
        )

    def list_eligibility(self, call: Call) -> dict:
        return self._typed_list(
            call,
            list(self.tenant.role_eligibility_schedules.values()),
            catalog.ROLE_ELIGIBILITY_SCHEDULE_PROPERTIES,
            "unifiedRoleEligibilitySchedule",
            "roleManagement/directory/roleEligibilitySchedules",
        )

    # ---------------------------------------------------------------- applications & service principals
    def list_applications(self, call: Call) -> dict:
        return self._typed_list(
            call, list(self.tenant.applications.values()), catalog.APPLICATION_PROPERTIES, "application", "applications"
        )

    def get_application(self, call: Call) -> dict:
        return self._single(
            call,
            self._in(self.tenant.applications, call.params[0]),
            catalog.APPLICATION_PROPERTIES,
            "application",
            "applications",
        )

    def list_service_principals(self, call: Call) -> dict:
        return self._typed_list(
            call,
            list(self.tenant.service_principals.values()),
            catalog.SERVICE_PRINCIPAL_PROPERTIES,
            "servicePrincipal",
            "servicePrincipals",
            navigations=SERVICE_PRINCIPAL_NAVIGATIONS,
        )

    def get_service_principal(self, call: Call) -> dict:
        return self._single(
            call,
            self._in(self.tenant.service_principals, call.params[0]),
            catalog.SERVICE_PRINCIPAL_PROPERTIES,
            "servicePrincipal",
            "servicePrincipals",
        )

    def sp_app_role_assigned_to(self, call: Call) -> dict:
        sp = self._in(self.tenant.service_principals, call.params[0])
        return self._assignments(
            call,
            self.tenant.assignments_on_resource(sp["id"]),
            f"{call.base}/$metadata#servicePrincipals('{sp['id']}')/appRoleAssignedTo",
        )

    def sp_app_role_assignments(self, call: Call) -> dict:
        sp = self._in(self.tenant.service_principals, call.params[0])
        return self._assignments(
            call,
            self.tenant.assignments_to_principal(sp["id"]),
            f"{call.base}/$metadata#servicePrincipals('{sp['id']}')/appRoleAssignments",
        )

    def list_organization(self, call: Call) -> dict:
        return self._typed_list(
            call,
            [self.tenant.organization],
            catalog.ORGANIZATION_PROPERTIES,
            "organization",
            "organization",
            default_top=None,
        )
