"""The /_sim admin API: what tests and scripts use to read the truth and counters, move the
clock, and change the tenant while it serves."""

from __future__ import annotations

import datetime as dt
import json

from .wire import Wire


def test_info_truth_and_stats(make_sim):
    sim = make_sim(users=25)
    with Wire(sim.info) as client:
        assert client.admin("GET", "/info")["tenant_id"] == sim.info.tenant_id
        truth = client.admin("GET", "/truth")
        assert len(truth["users"]) == 25 and truth["organization"][0]["id"] == sim.info.tenant_id
        client.get("/users")
        stats = client.admin("GET", "/stats")
        assert stats["endpoints"]["GET /users"] == {
            "requests": 1,
            "resource_units": 2,
            "throttled": 0,
            "statuses": {"200": 1},
        }
        assert stats["bytes_served"] > 0 and stats["tokens_issued"] == 1
        assert stats["cpu_seconds"] > 0 and 0 < stats["cpu_share"] < 1  # the server thread's own CPU
        client.admin("POST", "/stats/reset")
        after = client.admin("GET", "/stats")
        assert after["graph_requests"] == 0
        assert after["http_requests"] == 1  # the reset request itself finishes after the reset


def test_user_and_group_lifecycle_over_http(make_sim):
    sim = make_sim(users=25)
    with Wire(sim.info) as client:
        user = client.admin("POST", "/users", {"displayName": "Ada Lovelace", "department": "Math"})
        group = client.admin("POST", "/groups", {"displayName": "Analysts"})
        client.admin("POST", f"/groups/{group['id']}/members", {"id": user["id"]})
        assert [m["id"] for m in client.all(f"/groups/{group['id']}/members")] == [user["id"]]
        client.admin("PATCH", f"/users/{user['id']}", {"department": "Engines"})
        assert client.ok(f"/users/{user['id']}?$select=department")["department"] == "Engines"
        client.admin("DELETE", f"/users/{user['id']}")
        assert client.get(f"/users/{user['id']}").status_code == 404
        client.admin("POST", f"/users/{user['id']}/restore")
        assert client.get(f"/users/{user['id']}").status_code == 200
        client.admin("DELETE", f"/groups/{group['id']}/members/{user['id']}")
        client.admin("DELETE", f"/users/{user['id']}?hard=true")
        assert user["id"] not in {u["id"] for u in client.admin("GET", "/truth")["deletedUsers"]}
        response = client.http.post(f"/_sim/users/{user['id']}/restore")
        assert response.status_code == 400 and "no deleted user" in response.json()["error"]


def test_clock_delta_reset_and_app_settings(make_sim):
    sim = make_sim(users=25)
    with Wire(sim.info) as client:
        link = client.pages("/users/delta")[-1]["@odata.deltaLink"]
        client.admin("POST", "/delta/reset", {"entity": "users"})
        assert client.get(link).status_code == 410
        settings = client.admin("POST", "/app", {"granted_permissions": ["User.Read.All"], "token_lifetime": 120})
        assert settings["granted_permissions"] == ["User.Read.All"] and settings["token_lifetime"] == 120
        moved = client.admin("POST", "/clock", {"advance_seconds": 86400})
        ahead = dt.datetime.fromisoformat(moved["now"]) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(hours=23) < ahead < dt.timedelta(hours=25)
        client.admin("POST", "/tokens/expire")
        assert client.http.get("/v1.0/users", headers={"Authorization": f"Bearer {client.token()}"}).status_code == 401


def test_deleting_service_principals_directory_roles_and_units(make_sim):
    sim = make_sim(users=60)
    with Wire(sim.info) as client:
        truth = client.admin("GET", "/truth")
        counts: dict[str, int] = {}
        for assignment in truth["appRoleAssignments"]:
            counts[assignment["resourceId"]] = counts.get(assignment["resourceId"], 0) + 1
        sp_id = max(counts, key=counts.get)
        role_id = next(r for r, members in truth["directoryRoleMembers"].items() if members)
        unit_id = next(u for u, members in truth["administrativeUnitMembers"].items() if members)
        client.admin("DELETE", f"/servicePrincipals/{sp_id}")
        client.admin("DELETE", f"/directoryRoles/{role_id}")
        client.admin("DELETE", f"/administrativeUnits/{unit_id}")
        after = client.admin("GET", "/truth")
        assert sp_id not in {sp["id"] for sp in after["servicePrincipals"]}
        assert not [a for a in after["appRoleAssignments"] if sp_id in (a["resourceId"], a["principalId"])]
        assert not [a for a in after["roleAssignments"] if a["principalId"] == sp_id]
        assert role_id not in after["directoryRoleMembers"] and unit_id not in after["administrativeUnitMembers"]
        assert not [a for a in after["roleAssignments"] if a["directoryScopeId"] == f"/administrativeUnits/{unit_id}"]
        for path in (
            f"/servicePrincipals/{sp_id}/appRoleAssignedTo",
            f"/directoryRoles/{role_id}/members",
            f"/directory/administrativeUnits/{unit_id}/members",
        ):
            assert client.get(path).json()["error"]["code"] == "Request_ResourceNotFound"
        response = client.http.delete(f"/_sim/servicePrincipals/{sp_id}")
        assert response.status_code == 400 and "no service principal" in response.json()["error"]


def _post_raw(client: Wire, method: str, path: str, payload: dict):
    """JSON written with ASCII escapes: httpx's json= would fail to encode a lone surrogate."""
    response = client.http.request(
        method, f"/_sim{path}", content=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response


def _strict(response) -> object:
    """The body must be valid UTF-8 and valid JSON, the lone surrogate as the escape \\ud800."""
    assert b"\\ud800" in response.content
    return json.loads(response.content.decode("utf-8"))


def test_lone_surrogates_are_kept_and_served_as_json_escapes_everywhere(make_sim):
    sim = make_sim(users=25)
    name, department = "Zo\u00eb \ud800", "Eng \udfff"
    with Wire(sim.info) as client:
        link = client.pages("/users/delta?$select=displayName,department")[-1]["@odata.deltaLink"]
        group_link = client.pages("/groups/delta?$select=displayName")[-1]["@odata.deltaLink"]
        created = _strict(_post_raw(client, "POST", "/users", {"displayName": name, "department": "x"}))
        assert created["displayName"] == name
        user_id = created["id"]
        assert (
            _strict(_post_raw(client, "PATCH", f"/users/{user_id}", {"department": department}))["department"]
            == department
        )
        group = _strict(_post_raw(client, "POST", "/groups", {"displayName": name}))
        served = [
            _strict(client.get(f"/users/{user_id}?$select=displayName,department")),
            next(u for u in _strict(client.get("/users?$top=999"))["value"] if u["id"] == user_id),
            next(u for u in _strict(client.get(link))["value"] if u["id"] == user_id),
        ]
        assert all(u["displayName"] == name for u in served) and served[0]["department"] == department
        assert "\u00eb".encode() in client.get(f"/users/{user_id}").content  # other text stays UTF-8
        assert (
            next(g for g in _strict(client.get(group_link))["value"] if g["id"] == group["id"])["displayName"] == name
        )
        assert _strict(client.get(f"/groups/{group['id']}"))["displayName"] == name
        batch = _strict(
            client.post(
                "/$batch",
                {
                    "requests": [
                        {"id": "1", "method": "GET", "url": f"/users/{user_id}"},
                        {"id": "2", "method": "GET", "url": f"/groups/{group['id']}"},
                    ]
                },
            )
        )
        assert {r["body"]["displayName"] for r in batch["responses"]} == {name}
        truth = _strict(client.http.get("/_sim/truth"))
        assert next(u for u in truth["users"] if u["id"] == user_id)["department"] == department
        assert next(g for g in truth["groups"] if g["id"] == group["id"])["displayName"] == name
        initial = _strict(client.get("/users/delta?$select=displayName"))  # a fresh round: one page of 27
        assert name in {u.get("displayName") for u in initial["value"]} and "@odata.deltaLink" in initial


def test_a_one_megabyte_display_name(make_sim):
    sim = make_sim(users=25)
    name = "N" * 2**20
    with Wire(sim.info) as client:
        user = client.admin("POST", "/users", {"displayName": name, "_unchecked": True})
        group = client.admin("POST", "/groups", {"displayName": name})
        assert "_unchecked" not in user
        assert client.ok(f"/users/{user['id']}")["displayName"] == name
        assert client.ok(f"/groups/{group['id']}?$select=displayName")["displayName"] == name
        page = client.ok("/users?$top=999&$select=id,displayName")
        assert next(u for u in page["value"] if u["id"] == user["id"])["displayName"] == name
        assert next(u for u in client.admin("GET", "/truth")["users"] if u["id"] == user["id"])["displayName"] == name
