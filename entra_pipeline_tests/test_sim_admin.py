"""The /_sim admin API: what tests and scripts use to read the truth and counters, move the
clock, and change the tenant while it serves."""

from __future__ import annotations

import datetime as dt

from .wire import Wire


def test_info_truth_and_stats(make_sim):
    sim = make_sim(users=25)
    with Wire(sim.info) as client:
        assert client.admin("GET", "/info")["tenant_id"] == sim.info.tenant_id
        truth = client.admin("GET", "/truth")
        assert len(truth["users"]) == 25 and truth["organization"][0]["id"] == sim.info.tenant_id
        client.get("/users")
        stats = client.admin("GET", "/stats")
        assert stats["endpoints"]["GET /users"] == {"requests": 1, "resource_units": 2, "throttled": 0,
                                                     "statuses": {"200": 1}}
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
        ahead = dt.datetime.fromisoformat(moved["now"]) - dt.datetime.now(dt.timezone.utc)
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
        for path in (f"/servicePrincipals/{sp_id}/appRoleAssignedTo", f"/directoryRoles/{role_id}/members",
                     f"/directory/administrativeUnits/{unit_id}/members"):
            assert client.get(path).json()["error"]["code"] == "Request_ResourceNotFound"
        response = client.http.delete(f"/_sim/servicePrincipals/{sp_id}")
        assert response.status_code == 400 and "no service principal" in response.json()["error"]
