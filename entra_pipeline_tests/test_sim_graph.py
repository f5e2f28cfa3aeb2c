"""Graph v1.0 read endpoints: property sets, $select, paging, mixed collections, permissions
and the error envelope, each checked against Graph's documented behaviour."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

from entra_pipeline.simulator import catalog

from .wire import Wire

USER_SELECT = (
    "id,userPrincipalName,accountEnabled,department,lastPasswordChangeDateTime,streetAddress,city,"
    "state,country,postalCode,displayName"
)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def test_users_return_exactly_the_eleven_default_properties(wire):
    users = wire.ok("/users")["value"]
    assert users and all(set(u) == set(catalog.USER_DEFAULT_PROPERTIES) for u in users)
    assert not any("accountEnabled" in u or "department" in u for u in users)


def test_default_properties_come_back_as_null_when_unset(wire, sim):
    users = wire.all("/users?$top=999")
    assert any(u["mobilePhone"] is None for u in users)  # explicit null, not absent


def test_select_projects_and_names_the_projection_in_the_context(wire):
    page = wire.ok(f"/users?$select={USER_SELECT}")
    assert page["@odata.context"].endswith(f"#users({USER_SELECT})")
    assert all(set(u) == set(USER_SELECT.split(",")) for u in page["value"])


def test_select_of_an_unknown_property_is_a_400_naming_it(wire):
    response = wire.get("/users?$select=id,notAProperty")
    assert response.status_code == 400
    assert "notAProperty" in response.json()["error"]["message"]


def test_groups_default_set_has_security_identifier_but_not_unique_name(wire):
    groups = wire.ok("/groups")["value"]
    assert all("securityIdentifier" in g and "uniqueName" not in g for g in groups)
    selected = wire.all("/groups?$select=id,uniqueName&$top=999")
    with_name = [g for g in selected if g["uniqueName"]]
    assert with_name and len(with_name) < len(selected)  # some groups carry uniqueName, most do not


def test_top_defaults_to_100_and_caps_at_999(wire, sim):
    assert len(wire.ok("/users")["value"]) == 100
    assert len(wire.ok("/users?$top=999")["value"]) == min(999, len(sim.tenant.users))
    response = wire.get("/users?$top=1000")
    assert response.status_code == 400 and response.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_next_links_are_absolute_opaque_and_keep_the_query(wire, sim):
    pages = wire.pages("/users?$select=id&$top=50")
    first_next = pages[0]["@odata.nextLink"]
    assert first_next.startswith(f"{sim.info.graph_endpoint}/v1.0/users?")
    query = parse_qs(urlsplit(first_next).query)
    assert query["$select"] == ["id"] and query["$top"] == ["50"] and "$skiptoken" in query
    ids = [u["id"] for p in pages for u in p["value"]]
    assert len(ids) == len(set(ids)) == len(sim.tenant.users)
    assert "@odata.nextLink" not in pages[-1]


def test_tampered_page_token_is_refused(wire):
    page = wire.ok("/users?$top=10")
    broken = page["@odata.nextLink"].replace("$skiptoken=", "$skiptoken=AAAA")
    assert wire.get(broken).status_code == 400


def test_member_of_mixes_groups_roles_and_units_each_with_its_odata_type(wire, sim):
    in_role = next(
        m for r in sim.tenant.directory_roles for m in sim.tenant.live_members(r) if sim.tenant.kind_of(m) == "user"
    )
    types = {item["@odata.type"] for item in wire.all(f"/users/{in_role}/memberOf")}
    assert "#microsoft.graph.directoryRole" in types
    unit = next(iter(sim.tenant.administrative_units))
    unit_member = next(m for m in sim.tenant.live_members(unit) if sim.tenant.kind_of(m) == "user")
    types = {item["@odata.type"] for item in wire.all(f"/users/{unit_member}/memberOf")}
    assert "#microsoft.graph.administrativeUnit" in types


def test_unique_name_is_never_served_for_roles_or_units_even_when_selected(wire, sim):
    user = next(
        m for r in sim.tenant.directory_roles for m in sim.tenant.live_members(r) if sim.tenant.kind_of(m) == "user"
    )
    items = wire.all(f"/users/{user}/memberOf?$select=id,displayName,uniqueName")
    for item in items:
        if item["@odata.type"] != "#microsoft.graph.group":
            assert "uniqueName" not in item
        else:
            assert "uniqueName" in item


def test_group_members_are_typed_and_include_nested_groups(wire, sim):
    parent = next(
        g for g in sim.tenant.groups if any(sim.tenant.kind_of(m) == "group" for m in sim.tenant.live_members(g))
    )
    members = wire.all(f"/groups/{parent}/members?$select=id,displayName")
    assert {m["@odata.type"] for m in members} >= {"#microsoft.graph.group"}
    assert sorted(m["id"] for m in members) == sorted(sim.tenant.live_members(parent))


def test_paths_are_case_insensitive_as_the_spec_writes_memberof(wire, sim):
    group = next(g for g in sim.tenant.groups if sim.tenant.containers_of(g))
    lower = wire.ok(f"/groups/{group}/memberof")
    assert lower["value"] == wire.ok(f"/groups/{group}/memberOf")["value"]


def test_user_by_id_or_user_principal_name(wire, sim):
    user = next(iter(sim.tenant.users.values()))
    assert wire.ok(f"/users/{user['userPrincipalName']}")["id"] == user["id"]
    assert wire.ok(f"/users/{user['id']}?$select=id,accountEnabled")["accountEnabled"] == user["accountEnabled"]


def test_missing_object_is_404_in_the_graph_error_envelope(wire):
    response = wire.get("/users/00000000-0000-0000-0000-00000000abcd")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])


def test_every_response_carries_graph_headers(wire):
    response = wire.get("/organization", headers={"client-request-id": "abc-123"})
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"] and response.headers["x-ms-ags-diagnostic"]
    assert response.headers["content-type"].startswith("application/json;odata.metadata=minimal")


def test_user_app_role_assignments_include_those_of_direct_groups(wire, sim):
    tenant = sim.tenant
    group = next(
        a["principalId"]
        for a in tenant.app_role_assignments.values()
        if a["principalType"] == "Group" and tenant.live_members(a["principalId"])
    )
    user = next(m for m in tenant.live_members(group) if tenant.kind_of(m) == "user")
    served = {a["id"] for a in wire.all(f"/users/{user}/appRoleAssignments")}
    assert {a["id"] for a in tenant.assignments_to_principal(group)} <= served


def test_app_role_assigned_to_lists_default_access_assignments_on_apps_without_roles(wire, sim):
    tenant = sim.tenant
    sp = next(
        s for s in tenant.service_principals.values() if not s["appRoles"] and tenant.assignments_on_resource(s["id"])
    )
    assignments = wire.all(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo")
    assert assignments and {a["appRoleId"] for a in assignments} == {catalog.DEFAULT_ACCESS_ROLE_ID}
    for assignment in assignments:  # base64url strings like Graph's "41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE"
        assert len(assignment["id"]) == 43 and not _is_guid(assignment["id"])


def test_role_definitions_come_in_one_page_with_builtins_and_custom_roles(wire):
    page = wire.ok("/roleManagement/directory/roleDefinitions")
    assert "@odata.nextLink" not in page
    roles = page["value"]
    assert len([r for r in roles if r["isBuiltIn"]]) >= 100 and any(not r["isBuiltIn"] for r in roles)
    assert all(r["resourceScopes"] == ["/"] for r in roles)


def test_directory_roles_and_their_members_do_not_page(wire, sim):
    roles = wire.ok("/directoryRoles")
    assert "@odata.nextLink" not in roles and len(roles["value"]) == len(sim.tenant.directory_roles)
    role = max(sim.tenant.directory_roles, key=lambda r: len(sim.tenant.live_members(r)))
    members = wire.ok(f"/directoryRoles/{role}/members")
    assert "@odata.nextLink" not in members and len(members["value"]) == len(sim.tenant.live_members(role))


def test_role_assignments_and_eligibility_schedules_are_listed(wire, sim):
    assignments = wire.all("/roleManagement/directory/roleAssignments")
    assert len(assignments) == len(sim.tenant.role_assignments)
    assert any(a["directoryScopeId"].startswith("/administrativeUnits/") for a in assignments)
    schedules = wire.all("/roleManagement/directory/roleEligibilitySchedules")
    assert len(schedules) == len(sim.tenant.role_eligibility_schedules) > 0


def test_filter_eq_finds_the_connector_application_by_app_id(wire, sim):
    apps = wire.ok(f"/applications?$filter=appId eq '{sim.info.client_id}'&$select=id,appId,passwordCredentials")
    assert len(apps["value"]) == 1
    assert apps["value"][0]["passwordCredentials"][0]["endDateTime"]
    assert wire.get("/applications?$filter=startswith(displayName,'a')").status_code == 400


def test_organization_is_the_tenant(wire, sim):
    organization = wire.ok("/organization")["value"]
    assert len(organization) == 1 and organization[0]["id"] == sim.info.tenant_id


def test_missing_permission_is_403_authorization_request_denied(make_sim):
    sim = make_sim(users=30, granted_permissions=("User.Read.All",))
    with Wire(sim.info) as client:
        assert client.get("/users").status_code == 200
        for path in (
            "/groups",
            "/applications",
            "/servicePrincipals",
            "/roleManagement/directory/roleDefinitions",
            "/organization",
            "/roleManagement/directory/roleEligibilitySchedules",
        ):
            response = client.get(path)
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "Authorization_RequestDenied"


def test_least_privileged_permissions_each_open_their_endpoint(make_sim):
    sim = make_sim(
        users=30,
        granted_permissions=(
            "GroupMember.Read.All",
            "RoleManagement.Read.Directory",
            "RoleEligibilitySchedule.Read.Directory",
            "Application.Read.All",
        ),
    )
    with Wire(sim.info) as client:
        for path in (
            "/groups",
            "/roleManagement/directory/roleDefinitions",
            "/applications",
            "/roleManagement/directory/roleEligibilitySchedules",
            "/servicePrincipals",
        ):
            assert client.get(path).status_code == 200, path
        assert client.get("/users").status_code == 403
        assert client.get("/organization").status_code == 403


def test_every_endpoint_of_the_spec_and_the_request_plan_answers(wire, sim):
    tenant = sim.tenant
    user, group = next(iter(tenant.users)), next(iter(tenant.groups))
    sp, app = next(iter(tenant.service_principals)), next(iter(tenant.applications))
    role, unit = next(iter(tenant.directory_roles)), next(iter(tenant.administrative_units))
    paths = [
        "/users",
        f"/users/{user}",
        f"/users/{user}/appRoleAssignments",
        f"/users/{user}/memberOf",
        "/users/delta",
        "/groups",
        f"/groups/{group}",
        f"/groups/{group}/appRoleAssignments",
        f"/groups/{group}/memberof",
        f"/groups/{group}/members",
        "/groups/delta?$select=id,members",
        "/roleManagement/directory/roleDefinitions",
        "/roleManagement/directory/roleAssignments",
        "/roleManagement/directory/roleEligibilitySchedules",
        "/directoryRoles",
        f"/directoryRoles/{role}",
        f"/directoryRoles/{role}/members",
        "/directory/administrativeUnits",
        f"/directory/administrativeUnits/{unit}/members",
        "/applications",
        f"/applications/{app}",
        "/servicePrincipals/",
        f"/servicePrincipals/{sp}",
        f"/servicePrincipals/{sp}/appRoleAssignedTo",
        f"/servicePrincipals/{sp}/appRoleAssignments",
        "/organization",
    ]
    for path in paths:
        response = wire.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["@odata.context"].startswith(f"{sim.info.graph_endpoint}/v1.0/$metadata#"), path


def test_latency_is_added_to_every_answer(make_sim):
    from entra_pipeline.simulator.http import Request

    sim = make_sim(users=20, latency_ms=80)
    graph = sim.app.handle(Request("GET", "/v1.0/organization", {}))
    identity = sim.app.handle(Request("GET", f"/{sim.info.tenant_id}/v2.0/.well-known/openid-configuration", {}))
    assert graph.delay == identity.delay == 0.08
