"""The generated tenant: deterministic, shaped like real tenants, and its truth agrees with
what Graph serves."""

from __future__ import annotations

import datetime as dt

import pytest

from entra_pipeline.simulator import SimulatorError, catalog
from entra_pipeline.simulator.generate import ConnectorApp, TenantShape, build_tenant

CONNECTOR = ConnectorApp(
    "8a0c4f0e-1111-4222-8333-944455556666", "s", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), catalog.SPEC_PERMISSIONS
)


def test_same_seed_same_tenant_other_seed_other_tenant():
    first = build_tenant(TenantShape(users=200, seed=4), CONNECTOR).truth()
    again = build_tenant(TenantShape(users=200, seed=4), CONNECTOR).truth()
    other = build_tenant(TenantShape(users=200, seed=5), CONNECTOR).truth()
    assert first == again
    assert first["users"] != other["users"]


def test_users_are_shaped_like_a_real_directory(sim):
    users = list(sim.tenant.users.values())
    guests = [u for u in users if u["userType"] == "Guest"]
    assert 0.03 < len(guests) / len(users) < 0.2 and all("#EXT#@" in u["userPrincipalName"] for u in guests)
    assert any(u["accountEnabled"] is False for u in users)
    assert any("lastPasswordChangeDateTime" not in u for u in users)  # never set
    assert any(u.get("department") is None for u in users) and any(u.get("department") for u in users)
    assert any("streetAddress" not in u for u in users) and any(u.get("streetAddress") for u in users)
    assert any(not u["displayName"].isascii() for u in users)


def test_groups_cover_security_m365_role_assignable_nested_and_large(sim):
    tenant = sim.tenant
    groups = list(tenant.groups.values())
    assert any(g["groupTypes"] == ["Unified"] for g in groups)
    assert any(g["securityEnabled"] and not g["mailEnabled"] for g in groups)
    assert any(g["isAssignableToRole"] for g in groups)
    assert any(g.get("uniqueName") for g in groups) and any(not g.get("uniqueName") for g in groups)
    nested = [(g, m) for g in tenant.groups for m in tenant.live_members(g) if tenant.kind_of(m) == "group"]
    assert nested
    chain = any(tenant.kind_of(m2) == "group" for _, m in nested for m2 in tenant.live_members(m))
    assert chain  # at least two levels deep
    sizes = sorted(len(tenant.live_members(g)) for g in tenant.groups)
    assert sizes[-1] >= len(tenant.users) * 0.8  # "All Company"


def test_large_tenants_have_groups_of_tens_of_thousands_of_members():
    tenant = build_tenant(TenantShape(users=60_000, seed=1, groups=50), CONNECTOR)
    sizes = sorted((len(tenant.members.get(g, ())) for g in tenant.groups), reverse=True)
    assert sizes[0] >= 50_000 and sizes[1] >= 10_000


def test_directory_roles_units_eligibility_and_custom_roles(sim):
    tenant = sim.tenant
    assert len(tenant.directory_roles) >= 10
    member_kinds = {tenant.kind_of(m) for r in tenant.directory_roles for m in tenant.live_members(r)}
    assert {"user", "group", "servicePrincipal"} <= member_kinds
    assert tenant.administrative_units and all(tenant.live_members(a) for a in tenant.administrative_units)
    assert any(not r["isBuiltIn"] for r in tenant.role_definitions.values())
    assert len(tenant.role_eligibility_schedules) >= 3
    assert tenant.organization["id"] == tenant.tenant_id


def test_apps_and_service_principals_with_and_without_app_roles(sim):
    tenant = sim.tenant
    sps = list(tenant.service_principals.values())
    assert any(sp["appRoles"] for sp in sps) and any(not sp["appRoles"] for sp in sps)
    kinds = {a["principalType"] for a in tenant.app_role_assignments.values()}
    assert kinds == {"User", "Group", "ServicePrincipal"}
    default_on_roleless_sp = [
        a
        for a in tenant.app_role_assignments.values()
        if a["appRoleId"] == catalog.DEFAULT_ACCESS_ROLE_ID
        and a["principalType"] == "ServicePrincipal"
        and not tenant.service_principals[a["resourceId"]]["appRoles"]
    ]
    assert default_on_roleless_sp


def test_connector_permissions_are_app_role_assignments_on_microsoft_graph(sim):
    tenant = sim.tenant
    graph = next(sp for sp in tenant.service_principals.values() if sp["appId"] == catalog.GRAPH_APP_ID)
    granted = {
        a["appRoleId"]
        for a in tenant.assignments_on_resource(graph["id"])
        if a["principalId"] == sim.app_registration.object_id
    }
    assert granted == {catalog.GRAPH_APP_ROLES[p] for p in sim.app_registration.granted_permissions}


def test_truth_matches_what_graph_serves(wire, sim):
    truth = sim.truth()
    assert sorted(u["id"] for u in wire.all("/users?$top=999&$select=id")) == sorted(u["id"] for u in truth["users"])
    for group_id, members in list(truth["groupMembers"].items())[:15]:
        served = wire.all(f"/groups/{group_id}/members?$select=id&$top=999")
        assert sorted(m["id"] for m in served) == sorted(m["id"] for m in members)
    assert len(wire.all("/servicePrincipals?$top=999")) == len(truth["servicePrincipals"])
    assert len(wire.ok("/roleManagement/directory/roleDefinitions")["value"]) == len(truth["roleDefinitions"])


def test_truth_hides_soft_deleted_users_from_memberships(make_sim):
    sim = make_sim(users=50)
    group = next(g for g in sim.tenant.groups if sim.tenant.live_members(g))
    user = next(m for m in sim.tenant.live_members(group) if sim.tenant.kind_of(m) == "user")
    sim.tenant.soft_delete(user)
    truth = sim.truth()
    assert user not in {m["id"] for m in truth["groupMembers"][group]}
    assert user in {u["id"] for u in truth["deletedUsers"]}
    sim.tenant.restore(user)
    assert user in {m["id"] for m in sim.truth()["groupMembers"][group]}


def test_mutations_refuse_what_the_directory_refuses(make_sim):
    sim = make_sim(users=20)
    user = next(iter(sim.tenant.users))
    with pytest.raises(SimulatorError):
        sim.tenant.update_user(user, notAProperty=1)
    with pytest.raises(SimulatorError):
        sim.tenant.add_member(user, user)
    with pytest.raises(SimulatorError):
        sim.tenant.restore(user)


def test_role_and_app_role_mutations_reach_graph(make_sim):
    from .wire import Wire

    sim = make_sim(users=30)
    with Wire(sim.info) as client:
        role = client.admin("POST", "/roleDefinitions", {"displayName": "Tier 0 Reader"})
        assert any(r["id"] == role["id"] for r in client.ok("/roleManagement/directory/roleDefinitions")["value"])
        client.admin("PATCH", f"/roleDefinitions/{role['id']}", {"description": "now described"})
        user = next(iter(sim.tenant.users))
        assignment = client.admin("POST", "/roleAssignments", {"principalId": user, "roleDefinitionId": role["id"]})
        types = {m["@odata.type"] for m in client.all(f"/users/{user}/memberOf")}
        assert "#microsoft.graph.directoryRole" in types
        client.admin("DELETE", f"/roleAssignments/{assignment['id']}")
        sp = next(s for s in sim.tenant.service_principals.values() if s["appRoles"])
        granted = client.admin("POST", "/appRoleAssignments", {"principalId": user, "resourceId": sp["id"]})
        assert granted["id"] in {a["id"] for a in client.all(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo")}
        client.admin("DELETE", f"/appRoleAssignments/{granted['id']}")
        assert granted["id"] not in {a["id"] for a in client.all(f"/users/{user}/appRoleAssignments")}
        client.admin("DELETE", f"/roleDefinitions/{role['id']}")
        assert client.get(f"/roleManagement/directory/roleDefinitions/{role['id']}").status_code == 404
