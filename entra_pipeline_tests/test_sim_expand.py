"""$expand on the /groups and /servicePrincipals listings, with Graph's limits for directory
objects (learn.microsoft.com/graph/query-parameters and known-issues: at most 20 expanded
objects, no nextLink inside, one level; known issue 13635: at most 100 objects per page)."""

from __future__ import annotations

import pytest

from entra_pipeline.simulator.graph_api import EXPAND_MAX_ITEMS, EXPAND_MAX_PAGE

from .wire import Wire

MEMBER_SELECT = "id,userPrincipalName,displayName"
ASSIGNMENT_SELECT = "id,appRoleId,principalId,principalType,principalDisplayName,resourceId,resourceDisplayName"


@pytest.fixture(scope="module")
def tenant():
    """A realistic tenant: 600 users, 150 groups (all-company ones of ~600), heavy apps."""
    from entra_pipeline.simulator import running_simulator

    with running_simulator(users=600, seed=13, profile="realistic") as sim, Wire(sim.info) as client:
        yield sim, client


def test_expanded_members_stop_at_20_in_listing_order_without_a_next_link(tenant):
    sim, client = tenant
    page = client.ok(f"/groups?$select=id,displayName&$expand=members($select={MEMBER_SELECT})&$top=999")
    assert len(page["value"]) == EXPAND_MAX_PAGE and "@odata.nextLink" in page  # $top=999 still gives 100
    assert page["@odata.context"].endswith(f"#groups(id,displayName,members({MEMBER_SELECT}))")
    for group in page["value"]:
        live = sim.tenant.live_members(group["id"])
        assert [m["id"] for m in group["members"]] == live[:EXPAND_MAX_ITEMS]  # the order of /members
        assert "members@odata.nextLink" not in group and set(group) == {"id", "displayName", "members"}
    big = page["value"][0]
    assert big["displayName"] == "All Company" and len(sim.tenant.live_members(big["id"])) > 500
    assert len(big["members"]) == 20
    # Nested $select: @odata.type and id always, then the selected properties the item's type has.
    user = big["members"][0]
    assert set(user) == {"@odata.type", "id", "userPrincipalName", "displayName"}
    assert user["@odata.type"] == "#microsoft.graph.user"
    assert user["userPrincipalName"] == sim.tenant.users[user["id"]]["userPrincipalName"]


def test_expand_pages_hold_at_most_100_and_follow_next_links_to_every_group(tenant):
    sim, client = tenant
    pages = client.pages("/groups?$expand=members&$top=500")
    assert all(len(p["value"]) <= 100 for p in pages) and len(pages) == 2
    assert sorted(g["id"] for p in pages for g in p["value"]) == sorted(sim.tenant.groups)
    assert client.ok("/groups?$expand=members&$top=5")["value"].__len__() == 5


def test_expanded_members_without_nested_select_are_typed_with_their_default_properties(tenant):
    sim, client = tenant
    groups = client.all("/groups?$select=id&$expand=members")
    nested = [m for g in groups for m in g["members"] if m["@odata.type"] == "#microsoft.graph.group"]
    users = [m for g in groups for m in g["members"] if m["@odata.type"] == "#microsoft.graph.user"]
    assert nested and users
    assert "securityEnabled" in nested[0] and "userPrincipalName" not in nested[0]
    assert "userPrincipalName" in users[0] and "accountEnabled" not in users[0]  # the user default set


def test_expanded_app_role_assigned_to_is_capped_at_20_and_honours_nested_select(tenant):
    sim, client = tenant
    items = client.all(
        f"/servicePrincipals?$select=id,displayName&$expand=appRoleAssignedTo($select={ASSIGNMENT_SELECT})"
    )
    assert len(items) == len(sim.tenant.service_principals)
    by_id = {sp["id"]: sp for sp in items}
    heavy = max(sim.tenant.service_principals, key=lambda s: len(sim.tenant.assignments_by_resource.get(s, ())))
    assert len(sim.tenant.assignments_by_resource[heavy]) > EXPAND_MAX_ITEMS
    expanded = by_id[heavy]["appRoleAssignedTo"]
    assert len(expanded) == EXPAND_MAX_ITEMS and "appRoleAssignedTo@odata.nextLink" not in by_id[heavy]
    assert all(set(a) == set(ASSIGNMENT_SELECT.split(",")) and a["resourceId"] == heavy for a in expanded)
    listed = client.ok(f"/servicePrincipals/{heavy}/appRoleAssignedTo?$select=id&$top=20")["value"]
    assert [a["id"] for a in expanded] == [a["id"] for a in listed]  # the same order as the listing
    assert sum(1 for sp in items if not sp["appRoleAssignedTo"]) > len(items) / 2  # most have none


def test_expand_costs_one_more_and_select_one_less(tenant):
    _, client = tenant

    def ru(path: str) -> int:
        response = client.get(path)
        assert response.status_code == 200, response.text
        return int(response.headers["x-ms-resource-unit"])

    assert ru("/groups") == 1 and ru("/groups?$expand=members") == 2
    assert ru("/groups?$select=id&$expand=members($select=id)") == 1
    assert ru("/servicePrincipals?$expand=appRoleAssignedTo") == 2
    assert ru("/servicePrincipals?$select=id&$expand=appRoleAssignedTo") == 1


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("/groups?$expand=bogus", 400, "BadRequest"),
        ("/groups?$expand=owners", 501, "NotImplemented"),  # a real navigation the simulator does not model
        ("/groups?$expand=members,owners", 400, "Request_UnsupportedQuery"),
        ("/groups?$expand=members($expand=memberOf)", 400, "Request_UnsupportedQuery"),
        ("/groups?$expand=members($select=nope)", 400, "BadRequest"),
        ("/servicePrincipals?$expand=members", 400, "BadRequest"),
    ],
)
def test_unsupported_expands_answer_like_graph(tenant, query, status, code):
    _, client = tenant
    response = client.get(query)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_unknown_navigation_names_the_type(tenant):
    _, client = tenant
    message = client.get("/groups?$expand=bogus").json()["error"]["message"]
    assert message == (
        "Parsing OData Select and Expand failed: Could not find a property named 'bogus' on type "
        "'microsoft.graph.group'."
    )
