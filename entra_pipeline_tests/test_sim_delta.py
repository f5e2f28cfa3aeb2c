"""Delta query for users and groups, rule by rule (docs: delta-query-overview, user-delta,
group-delta, delta-query-groups; the 7-day token devblog)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .wire import Wire

USER_FIELDS = "id,displayName,accountEnabled,department"


@pytest.fixture
def tenant(make_sim):
    sim = make_sim(users=150, seed=5, delta_page_size=40, delta_members_per_page=25)
    with Wire(sim.info) as client:
        yield sim, client


def round_of(client: Wire, url: str) -> tuple[list[dict], list[dict]]:
    """Follow one delta round: (pages, items). Asserts nextLink XOR deltaLink on each page."""
    pages = []
    while True:
        page = client.ok(url)
        pages.append(page)
        assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page)
        if "@odata.deltaLink" in page:
            return pages, [item for p in pages for item in p["value"]]
        url = page["@odata.nextLink"]


def test_initial_round_pages_with_next_links_and_ends_with_a_delta_link(tenant):
    sim, client = tenant
    pages, items = round_of(client, f"/users/delta?$select={USER_FIELDS}")
    assert len(pages) > 1 and "$skiptoken=" in pages[0]["@odata.nextLink"]
    assert "$deltatoken=" in pages[-1]["@odata.deltaLink"]
    assert sorted(u["id"] for u in items) == sorted(sim.tenant.users)
    assert pages[0]["@odata.context"].endswith(f"#users({USER_FIELDS})")


def test_sdk_style_paths_are_accepted(tenant):
    sim, client = tenant
    for path in ("/users/delta()", "/users/microsoft.graph.delta", "/users/microsoft.graph.delta()", "/groups/delta()"):
        assert client.get(path).status_code == 200, path


def test_tokens_encode_the_query_so_links_carry_no_select(tenant):
    _, client = tenant
    pages, _ = round_of(client, f"/users/delta?$select={USER_FIELDS}")
    for link in (pages[0]["@odata.nextLink"], pages[-1]["@odata.deltaLink"]):
        assert set(parse_qs(urlsplit(link).query)) <= {"$skiptoken", "$deltatoken"}
    assert all(set(u) <= set(USER_FIELDS.split(",")) for p in pages for u in p["value"])


def test_default_delta_properties_are_the_user_defaults_and_never_set_ones_are_omitted(tenant):
    sim, client = tenant
    _, items = round_of(client, "/users/delta")
    assert all("accountEnabled" not in u for u in items)
    without_phone = [u for u in items if sim.tenant.users[u["id"]].get("mobilePhone") is None]
    assert without_phone and all("mobilePhone" not in u for u in without_phone)


def test_no_change_round_is_an_empty_page_with_a_new_delta_link(tenant):
    _, client = tenant
    first, _ = round_of(client, f"/users/delta?$select={USER_FIELDS}")
    link = first[-1]["@odata.deltaLink"]
    pages, items = round_of(client, link)
    assert items == [] and len(pages) == 1 and pages[0]["@odata.deltaLink"] != link


def test_creates_updates_and_restores_come_back_without_annotation(tenant):
    sim, client = tenant
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    created = sim.tenant.create_user(displayName="Zoë Nuñez", department="Legal")
    updated = next(iter(sim.tenant.users))
    sim.tenant.update_user(updated, department="Finance")
    pages, items = round_of(client, link)
    by_id = {u["id"]: u for u in items}
    assert by_id[created["id"]]["displayName"] == "Zoë Nuñez"
    assert by_id[updated]["department"] == "Finance" and "@removed" not in by_id[updated]
    assert len(items) == 2


def test_soft_delete_is_removed_changed_and_hard_delete_is_removed_deleted(tenant):
    sim, client = tenant
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    soft, hard = list(sim.tenant.users)[:2]
    sim.tenant.soft_delete(soft)
    sim.tenant.hard_delete(hard)
    pages, items = round_of(client, link)
    assert {u["id"]: u["@removed"]["reason"] for u in items} == {soft: "changed", hard: "deleted"}
    assert all(set(u) == {"id", "@removed"} for u in items)
    sim.tenant.restore(soft)
    _, items = round_of(client, pages[-1]["@odata.deltaLink"])
    assert [u["id"] for u in items] == [soft] and "@removed" not in items[0]


def test_a_change_to_an_unselected_property_is_not_reported(tenant):
    sim, client = tenant
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    sim.tenant.update_user(next(iter(sim.tenant.users)), jobTitle="Chief Tester")
    assert round_of(client, link)[1] == []


def test_a_property_changed_to_null_is_sent_as_null(tenant):
    sim, client = tenant
    user = next(u for u, v in sim.tenant.users.items() if v.get("department"))
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    sim.tenant.update_user(user, department=None)
    _, items = round_of(client, link)
    assert items == [
        {
            "id": user,
            "displayName": sim.tenant.users[user]["displayName"],
            "accountEnabled": sim.tenant.users[user]["accountEnabled"],
            "department": None,
        }
    ]


def test_group_members_come_as_members_delta_with_adds_and_removes(tenant):
    sim, client = tenant
    url = "/groups/delta?$select=id,displayName,members"
    pages, items = round_of(client, url)
    group = next(g for g in sim.tenant.groups if 3 <= len(sim.tenant.live_members(g)) <= 20)
    seen = {m["id"] for g in items if g["id"] == group for m in g.get("members@delta", [])}
    assert seen == set(sim.tenant.live_members(group))
    leaving = sim.tenant.live_members(group)[0]
    joining = next(u for u in sim.tenant.users if u not in sim.tenant.members[group])
    sim.tenant.remove_member(group, leaving)
    sim.tenant.add_member(group, joining)
    _, items = round_of(client, pages[-1]["@odata.deltaLink"])
    [changed] = [g for g in items if g["id"] == group]
    assert {m["id"]: m.get("@removed") for m in changed["members@delta"]} == {
        leaving: {"reason": "deleted"},
        joining: None,
    }
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in changed["members@delta"])


def test_legacy_expand_members_is_accepted_like_select_members(tenant):
    _, client = tenant
    _, items = round_of(client, "/groups/delta?$expand=members")
    assert any("members@delta" in g for g in items)


def test_a_large_groups_members_are_split_across_pages_repeating_the_group(tenant):
    sim, client = tenant
    big = max(sim.tenant.groups, key=lambda g: len(sim.tenant.live_members(g)))
    assert len(sim.tenant.live_members(big)) > 25
    pages, _ = round_of(client, "/groups/delta?$select=id,displayName,members")
    appearances = [g for p in pages for g in p["value"] if g["id"] == big]
    assert len(appearances) > 1
    assert len({id(p) for p in pages for g in p["value"] if g["id"] == big}) == len(appearances)  # one per page
    merged = [m["id"] for g in appearances for m in g["members@delta"]]
    assert sorted(merged) == sorted(sim.tenant.live_members(big))


def test_hard_deleting_a_user_reports_its_membership_removals(tenant):
    sim, client = tenant
    group = next(g for g in sim.tenant.groups if sim.tenant.live_members(g))
    user = next(m for m in sim.tenant.live_members(group) if sim.tenant.kind_of(m) == "user")
    link = round_of(client, "/groups/delta?$select=id,members")[0][-1]["@odata.deltaLink"]
    sim.tenant.hard_delete(user)
    _, items = round_of(client, link)
    removals = [m for g in items if g["id"] == group for m in g["members@delta"]]
    assert removals == [{"@odata.type": "#microsoft.graph.user", "id": user, "@removed": {"reason": "deleted"}}]


def test_deltatoken_latest_gives_only_a_delta_link(tenant):
    sim, client = tenant
    page = client.ok("/users/delta?$deltatoken=latest&$select=id,displayName")
    assert page["value"] == [] and "@odata.deltaLink" in page and "@odata.nextLink" not in page
    created = sim.tenant.create_user(displayName="After latest")
    _, items = round_of(client, page["@odata.deltaLink"])
    assert [u["id"] for u in items] == [created["id"]]


def test_a_token_older_than_seven_days_is_400_sync_state_not_found(tenant):
    sim, client = tenant
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    sim.advance_clock(6 * 86400)
    assert client.get(link).status_code == 200
    sim.advance_clock(1 * 86400 + 60)
    response = client.get(link)
    assert response.status_code == 400 and response.json()["error"]["code"] == "syncStateNotFound"


def test_a_forced_reset_is_410_with_a_location_that_starts_a_full_round(tenant):
    sim, client = tenant
    link = round_of(client, f"/users/delta?$select={USER_FIELDS}")[0][-1]["@odata.deltaLink"]
    sim.reset_delta("users")
    response = client.get(link)
    assert response.status_code == 410
    location = response.headers["Location"]
    assert location.endswith("$deltatoken=") and "$select=" in location
    _, items = round_of(client, location)
    assert sorted(u["id"] for u in items) == sorted(sim.tenant.users)


def test_top_and_orderby_are_refused_on_delta(tenant):
    _, client = tenant
    for query in ("$top=10", "$orderby=displayName"):
        response = client.get(f"/users/delta?{query}")
        assert response.status_code == 400, query


def test_prefer_maxpagesize_sets_the_page_size(tenant):
    _, client = tenant
    page = client.ok("/users/delta?$select=id", headers={"Prefer": "odata.maxpagesize=7"})
    assert len(page["value"]) == 7


def test_injected_empty_pages_still_carry_a_next_link(make_sim):
    sim = make_sim(users=60, faults=("empty-page@#1~/users/delta",), delta_page_size=1000)
    with Wire(sim.info) as client:
        pages, items = round_of(client, "/users/delta?$select=id")
    assert pages[0]["value"] == [] and "@odata.nextLink" in pages[0]
    assert sorted(u["id"] for u in items) == sorted(sim.tenant.users)


def test_injected_replay_serves_the_previous_rounds_changes_again(make_sim):
    sim = make_sim(users=40)
    with Wire(sim.info) as client:
        link = round_of(client, "/users/delta?$select=id,department")[0][-1]["@odata.deltaLink"]
        user = next(iter(sim.tenant.users))
        sim.tenant.update_user(user, department="Replayed")
        pages, items = round_of(client, link)
        assert [u["id"] for u in items] == [user]
        sim.faults.add("replay@#1")
        _, replayed = round_of(client, pages[-1]["@odata.deltaLink"])
    assert [u["id"] for u in replayed] == [user] and replayed[0]["department"] == "Replayed"


def test_groups_soft_and_hard_deletes_and_restores_in_group_delta(tenant):
    sim, client = tenant
    link = round_of(client, "/groups/delta?$select=id,displayName")[0][-1]["@odata.deltaLink"]
    soft, hard = list(sim.tenant.groups)[5:7]
    sim.tenant.soft_delete(soft)
    sim.tenant.hard_delete(hard)
    pages, items = round_of(client, link)
    assert {g["id"]: g["@removed"]["reason"] for g in items} == {soft: "changed", hard: "deleted"}
    sim.tenant.restore(soft)
    _, items = round_of(client, pages[-1]["@odata.deltaLink"])
    assert [g["id"] for g in items] == [soft] and items[0]["displayName"] == sim.tenant.groups[soft]["displayName"]
