"""Throttling in resource units (throttling-limits, "Identity and access service limits") and
JSON batching (json-batching, throttling#throttling-and-batching)."""

from __future__ import annotations

import pytest

from entra_pipeline.simulator.throttle import LIMITS, request_cost, size_for_users

from .wire import Wire


def ru(client: Wire, path: str) -> int:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return int(response.headers["x-ms-resource-unit"])


def test_documented_costs_and_modifiers_reach_the_wire(wire, sim):
    group = next(g for g in sim.tenant.groups if sim.tenant.live_members(g))
    user = next(iter(sim.tenant.users))
    sp = next(iter(sim.tenant.service_principals))
    assert ru(wire, "/users") == 2  # GET users: 2
    assert ru(wire, "/users?$select=id") == 1  # $select: -1
    assert ru(wire, f"/groups/{group}/members") == 3  # GET groups/{id}/members: 3
    assert ru(wire, f"/groups/{group}/members?$select=id") == 2
    assert ru(wire, f"/users/{user}/memberOf") == 2  # me/memberOf applies to users/{id}/memberOf
    assert ru(wire, "/applications") == 2
    assert ru(wire, f"/servicePrincipals/{sp}/appRoleAssignments") == 2
    assert ru(wire, "/groups") == 1  # unlisted: 1
    assert ru(wire, "/groups?$select=id") == 1  # never below 1
    assert ru(wire, "/users?$top=10") == 1  # $top < 20: -1
    assert ru(wire, "/users?$top=10&$select=id") == 1


def test_cost_function_expand_adds_one():
    assert request_cost(1, {"$expand": "members"}) == 2
    assert request_cost(2, {"$expand": "x", "$select": "id"}) == 2


def test_tenant_size_classes_follow_the_user_count():
    assert (size_for_users(49), size_for_users(50), size_for_users(500), size_for_users(501)) == ("S", "M", "M", "L")
    assert LIMITS == {"S": 3500, "M": 5000, "L": 8000}


def test_exhausting_the_bucket_answers_429_with_graphs_headers_and_body(make_sim):
    sim = make_sim(users=20, tenant_size="S")  # 3,500 RU per 10 s
    sim.throttle.clock = lambda: 1000.0  # no refill: the arithmetic below is exact
    with Wire(sim.info) as client:
        responses = [client.get("/users?$top=999") for _ in range(1751)]  # GET users costs 2
    statuses = [r.status_code for r in responses]
    assert statuses[:1750] == [200] * 1750 and statuses[1750] == 429
    reported = [i for i, r in enumerate(responses[:1750]) if "x-ms-throttle-limit-percentage" in r.headers]
    assert reported[0] == 1400  # the 1,401st request takes usage past 80% (2,802 of 3,500 RU)
    assert all(float(responses[i].headers["x-ms-throttle-limit-percentage"]) > 0.8 for i in reported)
    throttled = responses[1750]
    assert throttled.headers["Retry-After"].isdigit() and int(throttled.headers["Retry-After"]) >= 1
    assert (
        throttled.headers["x-ms-throttle-scope"]
        == f"Tenant_Application/ReadWrite/{sim.info.client_id}/{sim.info.tenant_id}"
    )
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert sim.stats()["throttled"] == 1 and sim.stats()["resource_units"] == 3500


def test_the_bucket_refills_at_a_tenth_of_the_limit_per_second(make_sim):
    sim = make_sim(users=20, tenant_size="S")
    now = [1000.0]
    sim.throttle.clock = lambda: now[0]
    with Wire(sim.info) as client:
        while client.get("/users?$top=999").status_code == 200:
            pass
        now[0] += 1.0  # 350 RU come back: 175 more GET users
        statuses = [client.get("/users?$top=999").status_code for _ in range(176)]
    assert statuses == [200] * 175 + [429]


def test_throttling_can_be_counted_without_being_enforced(make_sim):
    sim = make_sim(users=20, tenant_size="S", throttling=False)
    with Wire(sim.info) as client:
        statuses = {client.get("/users?$top=999").status_code for _ in range(1800)}
    assert statuses == {200} and sim.stats()["resource_units"] == 3600


def test_batch_answers_every_item_by_id_in_shuffled_order(wire, sim):
    users = list(sim.tenant.users)[:20]
    requests = [{"id": str(i), "method": "GET", "url": f"/users/{u}/memberOf?$select=id"} for i, u in enumerate(users)]
    response = wire.post("/$batch", {"requests": requests})
    assert response.status_code == 200
    responses = response.json()["responses"]
    assert sorted(int(r["id"]) for r in responses) == list(range(20))
    assert [r["id"] for r in responses] != [str(i) for i in range(20)]  # Graph does not keep the order
    assert all(r["status"] == 200 and r["headers"]["x-ms-resource-unit"] == "1" for r in responses)


def test_batch_items_are_charged_one_by_one(make_sim):
    sim = make_sim(users=30)
    with Wire(sim.info) as client:
        before = sim.stats()["resource_units"]
        client.post(
            "/$batch",
            {
                "requests": [
                    {"id": "a", "method": "GET", "url": "/users"},
                    {"id": "b", "method": "GET", "url": "users?$select=id"},
                ]
            },
        )
    stats = sim.stats()
    assert stats["resource_units"] - before == 3 and stats["batch_items"] == 2


def test_batch_over_twenty_items_is_400(wire):
    requests = [{"id": str(i), "method": "GET", "url": "/organization"} for i in range(21)]
    assert wire.post("/$batch", {"requests": requests}).status_code == 400


def test_batch_with_duplicate_ids_is_400(wire):
    requests = [{"id": "A", "method": "GET", "url": "/organization"}, {"id": "a", "method": "GET", "url": "/users"}]
    assert wire.post("/$batch", {"requests": requests}).status_code == 400


def test_batch_depends_on_a_failed_item_is_424(wire):
    requests = [
        {"id": "1", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"},
        {"id": "2", "method": "GET", "url": "/organization", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/organization"},
    ]
    statuses = {r["id"]: r["status"] for r in wire.post("/$batch", {"requests": requests}).json()["responses"]}
    assert statuses == {"1": 404, "2": 424, "3": 200}


def test_batch_items_are_throttled_one_by_one_with_their_own_retry_after(make_sim):
    sim = make_sim(users=20, tenant_size="S")
    sim.throttle.clock = lambda: 1000.0  # 3,500 RU, no refill: 1,750 items of 2 RU pass, then 429s
    with Wire(sim.info) as client:
        requests = [{"id": str(i), "method": "GET", "url": "/users?$top=999"} for i in range(20)]
        batches = [client.post("/$batch", {"requests": requests}) for _ in range(88)]
    assert all(b.status_code == 200 for b in batches)
    assert all(r["status"] == 200 for b in batches[:87] for r in b.json()["responses"])
    last = batches[87].json()["responses"]
    throttled = [r for r in last if r["status"] == 429]
    assert len(throttled) == 10  # 87 x 20 + 10 = 1,750 items admitted
    assert all(int(r["headers"]["retry-after"]) >= 1 for r in throttled)
    assert all(r["body"]["error"]["code"] == "TooManyRequests" for r in throttled)


@pytest.mark.parametrize("url", ["https://graph.microsoft.com/v1.0/users"])
def test_batch_item_urls_must_be_relative(wire, url):
    [item] = wire.post("/$batch", {"requests": [{"id": "1", "method": "GET", "url": url}]}).json()["responses"]
    assert item["status"] == 400


def test_the_peak_ru_per_10_seconds_is_the_busiest_window_of_ten_whole_seconds():
    from collections import Counter

    from entra_pipeline.simulator.app import _peak_window

    assert _peak_window(Counter(), 10) == 0
    assert _peak_window(Counter({0: 5, 9: 5, 10: 7, 25: 1}), 10) == 12  # seconds 1..10
    assert _peak_window(Counter({3: 8000}), 10) == 8000
