"""Delta for directory roles and administrative units (api-reference/v1.0/api/directoryrole-delta.md,
administrativeunit-delta.md): members@delta with @removed like groups, nextLink/deltaLink paging,
7-day tokens and 410 resets as for users and groups (delta-query-overview)."""

from __future__ import annotations

import pytest

from .wire import Wire

ROLES = "/directoryRoles/delta"
UNITS = "/directory/administrativeUnits/delta"


@pytest.fixture
def tenant(make_sim):
    sim = make_sim(users=200, seed=9, delta_page_size=3, delta_members_per_page=10)
    with Wire(sim.info) as client:
        yield sim, client


def round_of(client: Wire, url: str) -> tuple[list[dict], list[dict]]:
    pages = []
    while True:
        page = client.ok(url)
        pages.append(page)
        assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page)
        if "@odata.deltaLink" in page:
            return pages, [item for p in pages for item in p["value"]]
        url = page["@odata.nextLink"]


def members_of(items: list[dict], object_id: str) -> dict[str, dict | None]:
    return {m["id"]: m.get("@removed") for i in items if i["id"] == object_id for m in i.get("members@delta", [])}


@pytest.mark.parametrize(
    "path",
    [
        ROLES,
        "/directoryRoles/microsoft.graph.delta()",
        UNITS,
        "/administrativeUnits/delta",
        "/directory/administrativeUnits/microsoft.graph.delta",
    ],
)
def test_initial_round_returns_every_object_with_its_members(tenant, path):
    sim, client = tenant
    pages, items = round_of(client, path)
    table = sim.tenant.directory_roles if "Roles" in path else sim.tenant.administrative_units
    assert {i["id"] for i in items} == set(table)
    assert "$skiptoken=" in pages[0]["@odata.nextLink"] and "$deltatoken=" in pages[-1]["@odata.deltaLink"]
    target = ROLES if "Roles" in path else UNITS
    assert pages[-1]["@odata.deltaLink"].split("?")[0].endswith(target)
    for object_id in table:  # no $select: members@delta comes anyway, as in the docs' examples
        assert set(members_of(items, object_id)) == set(sim.tenant.live_members(object_id))


def test_role_members_added_and_removed_come_back_as_members_delta(tenant):
    sim, client = tenant
    link = round_of(client, f"{ROLES}?$select=id,displayName,members")[0][-1]["@odata.deltaLink"]
    role = next(r for r in sim.tenant.directory_roles if sim.tenant.live_members(r))
    leaving = sim.tenant.live_members(role)[0]
    joining = next(u for u in sim.tenant.users if u not in sim.tenant.members.get(role, {}))
    sim.tenant.remove_member(role, leaving)
    sim.tenant.add_member(role, joining)
    _, items = round_of(client, link)
    assert [i["id"] for i in items] == [role]
    assert members_of(items, role) == {leaving: {"reason": "deleted"}, joining: None}
    assert set(items[0]) == {"id", "displayName", "members@delta"}


def test_unit_property_changes_members_creation_and_deletion(tenant):
    sim, client = tenant
    link = round_of(client, f"{UNITS}?$select=id,displayName,members")[0][-1]["@odata.deltaLink"]
    unit, doomed = list(sim.tenant.administrative_units)[:2]
    joining = next(u for u in sim.tenant.users if u not in sim.tenant.members.get(unit, {}))
    leaving = sim.tenant.live_members(unit)[0]
    client.admin("PATCH", f"/administrativeUnits/{unit}", {"displayName": "EMEA"})
    client.admin("POST", f"/administrativeUnits/{unit}/members", {"id": joining})
    client.admin("DELETE", f"/administrativeUnits/{unit}/members/{leaving}")
    client.admin("DELETE", f"/administrativeUnits/{doomed}")
    created = client.admin("POST", "/administrativeUnits", {"displayName": "New unit"})
    pages, items = round_of(client, link)
    by_id = {i["id"]: i for i in items}
    assert by_id[unit]["displayName"] == "EMEA"
    assert members_of(items, unit) == {joining: None, leaving: {"reason": "deleted"}}
    assert by_id[doomed] == {"id": doomed, "@removed": {"reason": "deleted"}}
    assert by_id[created["id"]]["displayName"] == "New unit"
    # A change to an unselected property is not reported; the next round is empty.
    sim.tenant.update_administrative_unit(unit, description="not selected")
    assert round_of(client, pages[-1]["@odata.deltaLink"])[1] == []


def test_a_deleted_principal_leaves_roles_and_units_in_delta(tenant):
    sim, client = tenant
    role_link = round_of(client, ROLES)[0][-1]["@odata.deltaLink"]
    unit_link = round_of(client, UNITS)[0][-1]["@odata.deltaLink"]
    unit = next(iter(sim.tenant.administrative_units))
    user = next(m for m in sim.tenant.live_members(unit) if sim.tenant.kind_of(m) == "user")
    roles = [r for r in sim.tenant.directory_roles if user in sim.tenant.members.get(r, {})]
    sim.tenant.hard_delete(user)
    _, unit_items = round_of(client, unit_link)
    assert members_of(unit_items, unit) == {user: {"reason": "deleted"}}
    _, role_items = round_of(client, role_link)
    assert {i["id"] for i in role_items} == set(roles)


def test_role_activation_by_assignment_and_unassignment_are_tracked(tenant):
    sim, client = tenant
    link = round_of(client, ROLES)[0][-1]["@odata.deltaLink"]
    active = {r["roleTemplateId"] for r in sim.tenant.directory_roles.values()}
    definition = next(
        d for d in sim.tenant.role_definitions.values() if d["isBuiltIn"] and d["templateId"] not in active
    )
    user = next(iter(sim.tenant.users))
    assignment = sim.tenant.assign_role(user, definition["id"])
    pages, items = round_of(client, link)
    [role] = items
    assert role["roleTemplateId"] == definition["templateId"] and members_of(items, role["id"]) == {user: None}
    sim.tenant.remove_role_assignment(assignment["id"])
    _, items = round_of(client, pages[-1]["@odata.deltaLink"])
    assert members_of(items, role["id"]) == {user: {"reason": "deleted"}}


def test_deltatoken_latest_then_only_later_changes(tenant):
    sim, client = tenant
    page = client.ok(f"{UNITS}?$deltatoken=latest")
    assert page["value"] == [] and "@odata.deltaLink" in page
    created = sim.tenant.create_administrative_unit(displayName="After latest")
    _, items = round_of(client, page["@odata.deltaLink"])
    assert [i["id"] for i in items] == [created["id"]]


@pytest.mark.parametrize("path, entity", [(ROLES, "directoryRoles"), (UNITS, "administrativeUnits")])
def test_tokens_expire_after_seven_days_and_a_reset_is_410(tenant, path, entity):
    sim, client = tenant
    link = round_of(client, f"{path}?$select=id,members")[0][-1]["@odata.deltaLink"]
    sim.reset_delta(entity)
    gone = client.get(link)
    assert gone.status_code == 410
    location = gone.headers["Location"]
    assert location.split("?")[0].endswith(path) and location.endswith("$deltatoken=")
    link = round_of(client, location)[0][-1]["@odata.deltaLink"]
    sim.advance_clock(7 * 86400 + 60)
    expired = client.get(link)
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "syncStateNotFound"


def test_permissions_follow_the_delta_pages(make_sim):
    sim = make_sim(users=30, granted_permissions=("AdministrativeUnit.Read.All",))
    with Wire(sim.info) as client:
        assert client.get(UNITS).status_code == 200
        assert client.get(ROLES).status_code == 403
    sim = make_sim(users=30, granted_permissions=("RoleManagement.Read.Directory",))
    with Wire(sim.info) as client:
        assert client.get(ROLES).status_code == 200
        assert client.get(UNITS).status_code == 403
