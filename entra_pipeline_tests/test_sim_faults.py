"""Fault injection: each kind, fired on a chosen request or at a rate, by flag or by API."""

from __future__ import annotations

import json

import httpx
import pytest

from entra_pipeline.simulator.faults import FaultRule, FaultSpecError

from .wire import Wire, trust


@pytest.fixture
def faulty(make_sim):
    sim = make_sim(users=120, seed=3)
    with Wire(sim.info, timeout=2) as client:
        client.token()  # the token fetch is not a Graph request: faults below count Graph requests only
        yield sim, client


def test_spec_text_parses_kind_argument_timing_and_path():
    rule = FaultRule.parse("expired-page-token@#3#5~/users")
    assert (rule.kind, rule.on_requests, rule.path) == ("expired-page-token", frozenset({3, 5}), "/users")
    rule = FaultRule.parse("slow=12@0.25")
    assert (rule.kind, rule.arg, rule.rate) == ("slow", "12", 0.25)
    assert FaultRule.parse("forbidden=applications").arg == "applications"
    for bad in ("explode@0.1", "503@2", "503@x", "forbidden"):
        with pytest.raises(FaultSpecError):
            FaultRule.parse(bad)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_a_chosen_request(faulty, status):
    sim, client = faulty
    sim.faults.add(f"{status}@#2")
    assert client.get("/organization").status_code == 200
    failed = client.get("/organization")
    assert failed.status_code == status and failed.json()["error"]["code"]
    assert client.get("/organization").status_code == 200
    assert sim.stats()["faults_injected"] == {str(status): 1}


def test_rate_faults_fire_about_as_often_as_asked(faulty):
    sim, client = faulty
    sim.faults.add("503@0.2")
    statuses = [client.get("/organization").status_code for _ in range(300)]
    assert 30 <= statuses.count(503) <= 90  # seeded: deterministic, and near 20%


def test_connection_reset(faulty):
    sim, client = faulty
    sim.faults.add("reset@#1")
    with pytest.raises(httpx.TransportError):
        client.get("/organization")
    assert client.get("/organization").status_code == 200


def test_slow_response_outlives_the_client_timeout(faulty):
    sim, client = faulty
    sim.faults.add("slow=4@#1")
    with pytest.raises(httpx.ReadTimeout):
        client.get("/organization")  # the client waits 2 s


def test_429_without_retry_after(faulty):
    sim, client = faulty
    sim.faults.add("429-no-retry-after@#1")
    response = client.get("/users")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_expired_page_token_only_on_requests_that_carry_one(faulty):
    sim, client = faulty
    sim.faults.add("expired-page-token")
    first = client.get("/users?$top=10")
    assert first.status_code == 200
    response = client.get(first.json()["@odata.nextLink"])
    assert response.status_code == 400 and response.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_next_link_that_loops_back_to_itself(faulty):
    sim, client = faulty
    sim.faults.add("loop@#2")
    first = client.ok("/users?$top=10")
    url = first["@odata.nextLink"]
    second = client.ok(url)
    assert second["@odata.nextLink"] == url


def test_forbidden_on_one_entity_only(faulty):
    sim, client = faulty
    sim.faults.add("forbidden=applications")
    assert client.get("/applications").status_code == 403
    assert client.get("/applications").json()["error"]["code"] == "Authorization_RequestDenied"
    assert client.get("/servicePrincipals").status_code == 200


def test_truncated_body(faulty):
    sim, client = faulty
    sim.faults.add("truncated@#1")
    with pytest.raises(httpx.TransportError):
        client.get("/users")


def test_malformed_json_body(faulty):
    sim, client = faulty
    sim.faults.add("malformed@#1")
    response = client.get("/users")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_faults_from_the_command_line_config_and_the_admin_api(make_sim):
    sim = make_sim(users=20, faults=("503@#1",))
    with Wire(sim.info) as client:
        client.token()
        assert client.get("/organization").status_code == 503
        client.admin("POST", "/faults", {"spec": "502@#1~/groups"})
        assert client.get("/groups").status_code == 502
        assert [r["kind"] for r in client.admin("GET", "/faults")] == ["503", "502"]
        client.admin("DELETE", "/faults")
        assert client.get("/groups").status_code == 200


def test_path_filter_limits_a_fault_to_matching_requests(faulty):
    sim, client = faulty
    sim.faults.add("503~/groups")
    assert client.get("/users").status_code == 200
    assert client.get("/groups").status_code == 503


# ---------------------------------------------------------------- edge cases of issue #15

NOT_FOUND = "does not exist or one of its queried reference-property objects are not present."


def test_spec_text_of_the_edge_case_kinds():
    assert FaultRule.parse("odd-error=502:html@#2").arg == "502:html"
    rule = FaultRule.parse("foreign-next-link=delta:https://127.0.0.2:9@#1~/users/delta")
    assert (rule.kind, rule.arg, rule.path) == ("foreign-delta-link", "https://127.0.0.2:9", "/users/delta")
    assert FaultRule.parse("foreign-next-link=delta:localhost").kind == "foreign-delta-link"
    assert FaultRule.parse("token-hang=5~/oauth2/v2.0/token").arg == "5"
    for good in (
        "vanish@#1~/appRoleAssignedTo",
        "odd-error",
        "odd-error=empty",
        "odd-error=418",
        "foreign-redirect",
        "foreign-redirect=https://127.0.0.2:9",
        "token-500",
        "token-no-access-token",
        "token-echo",
        "token-html",
        "invalid-utf8@#1",
    ):
        FaultRule.parse(good)
    for bad in (
        "odd-error=404:xml",
        "odd-error=700",
        "foreign-next-link=127.0.0.2",
        "foreign-redirect=https://",
        "token-hang=forever",
    ):
        with pytest.raises(FaultSpecError):
            FaultRule.parse(bad)


def _resource_with_assignments(sim) -> str:
    truth = sim.truth()
    counts: dict[str, int] = {}
    for assignment in truth["appRoleAssignments"]:
        counts[assignment["resourceId"]] = counts.get(assignment["resourceId"], 0) + 1
    return max(counts, key=counts.get)


def _assert_not_found(response: httpx.Response, object_id: str) -> None:
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == f"Resource '{object_id}' {NOT_FOUND}"


def test_vanish_deletes_the_service_principal_and_its_assignments_then_answers_404(faulty):
    sim, client = faulty
    sp_id = _resource_with_assignments(sim)
    held = {a["id"] for a in sim.truth()["appRoleAssignments"] if a["principalId"] == sp_id}
    sim.faults.add("vanish@#1~/appRoleAssignedTo")
    _assert_not_found(client.get(f"/servicePrincipals/{sp_id}/appRoleAssignedTo?$top=999"), sp_id)
    truth = sim.truth()
    assert sp_id not in {sp["id"] for sp in truth["servicePrincipals"]}
    assert not [a for a in truth["appRoleAssignments"] if sp_id in (a["resourceId"], a["principalId"])]
    assert not held & {a["id"] for a in truth["appRoleAssignments"]}
    assert all(sp_id not in {m["id"] for m in members} for members in truth["groupMembers"].values())
    assert sim.stats()["faults_injected"] == {"vanish": 1}
    _assert_not_found(client.get(f"/servicePrincipals/{sp_id}"), sp_id)  # gone for good, not only once


def test_vanish_soft_deletes_a_user_as_the_admin_api_does_and_delta_reports_it(faulty):
    sim, client = faulty
    link = client.pages("/users/delta?$select=displayName")[-1]["@odata.deltaLink"]
    user_id = sim.truth()["users"][5]["id"]
    sim.faults.add("vanish@#1")
    _assert_not_found(client.get(f"/users/{user_id}/memberOf"), user_id)
    truth = sim.truth()
    assert user_id in {u["id"] for u in truth["deletedUsers"]}
    assert user_id not in {u["id"] for u in truth["users"]}
    changes = client.all(link)
    assert {"id": user_id, "@removed": {"reason": "changed"}} in changes


@pytest.mark.parametrize(
    "path, key",
    [
        ("/groups/{id}/members", "groups"),
        ("/directoryRoles/{id}/members", "directoryRoles"),
        ("/directory/administrativeUnits/{id}/members", "administrativeUnits"),
    ],
)
def test_vanish_on_each_container_listing(faulty, path, key):
    sim, client = faulty
    truth = sim.truth()
    members_key = {
        "groups": "groupMembers",
        "directoryRoles": "directoryRoleMembers",
        "administrativeUnits": "administrativeUnitMembers",
    }[key]
    object_id = next(o["id"] for o in truth[key] if truth[members_key][o["id"]])
    sim.faults.add("vanish~/members")
    _assert_not_found(client.get(path.format(id=object_id)), object_id)
    after = sim.truth()
    assert object_id not in {o["id"] for o in after[key]}
    if key == "groups":  # soft-deleted: restorable, its memberships kept for the restore
        assert object_id in {g["id"] for g in after["deletedGroups"]}
    else:
        assert object_id not in after[members_key]
    if key == "administrativeUnits":
        assert not [a for a in after["roleAssignments"] if a["directoryScopeId"] == f"/administrativeUnits/{object_id}"]


def test_vanish_inside_batch(faulty):
    sim, client = faulty
    sp_id = _resource_with_assignments(sim)
    sim.faults.add("vanish~/appRoleAssignedTo")
    response = client.post(
        "/$batch",
        {
            "requests": [
                {"id": "1", "method": "GET", "url": f"/servicePrincipals/{sp_id}/appRoleAssignedTo"},
                {"id": "2", "method": "GET", "url": "/organization"},
            ]
        },
    )
    items = {r["id"]: r for r in response.json()["responses"]}
    assert items["2"]["status"] == 200 and items["1"]["status"] == 404
    assert items["1"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert sp_id not in {sp["id"] for sp in sim.truth()["servicePrincipals"]}


@pytest.mark.parametrize(
    "spec, status, content_type, body",
    [
        ("odd-error", 404, "application/json", None),
        ("odd-error=502:html", 502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        ("odd-error=404:string", 404, "application/json", b'"upstream failure"'),
        ("odd-error=500:list", 500, "application/json", b"[]"),
        ("odd-error=503:null", 503, "application/json", b"null"),
        ("odd-error=404:empty", 404, None, b""),
    ],
)
def test_odd_error_bodies_are_not_in_graphs_shape(faulty, spec, status, content_type, body):
    sim, client = faulty
    sim.faults.add(spec + "@#1")
    response = client.get("/users")
    assert response.status_code == status
    assert response.headers.get("content-type") == content_type
    assert "request-id" not in response.headers  # not Graph's answer
    if body is None:  # the OAuth shape
        payload = response.json()
        assert payload["error"] == "not_found" and isinstance(payload["error_description"], str)
    else:
        assert response.content == body
    assert client.get("/users").status_code == 200
    assert sim.stats()["faults_injected"] == {"odd-error": 1}


def test_foreign_next_link_names_localhost_on_the_same_port(faulty):
    sim, client = faulty
    sim.faults.add("foreign-next-link@#1")
    link = client.ok("/users?$top=10")["@odata.nextLink"]
    assert link.startswith(f"https://localhost:{sim.port}/v1.0/users?")
    # The same simulator answers there; without the bearer token (a client that drops it for
    # another host) it is Graph's 401 for a missing token.
    with httpx.Client(verify=trust(client.info)) as other:
        denied = other.get(link)
    assert denied.status_code == 401
    assert denied.json()["error"] == {
        **denied.json()["error"],
        "code": "InvalidAuthenticationToken",
        "message": "Access token is empty.",
    }
    assert client.get(link).status_code == 200  # with the token it is a real page
    assert client.ok("/users?$top=10")["@odata.nextLink"].startswith(sim.origin)  # once only


def test_foreign_next_link_to_an_explicit_origin_and_only_on_pages_that_have_one(faulty):
    sim, client = faulty
    sim.faults.add("foreign-next-link=https://127.0.0.2:9")
    assert "@odata.nextLink" not in client.ok("/organization")
    assert client.ok("/users?$top=10")["@odata.nextLink"].startswith("https://127.0.0.2:9/v1.0/users?")
    assert sim.stats()["faults_injected"] == {"foreign-next-link": 1}


def test_foreign_delta_link(faulty):
    sim, client = faulty
    sim.faults.add("foreign-next-link=delta:localhost")
    pages = client.pages("/users/delta")
    assert all(p["@odata.nextLink"].startswith(sim.origin) for p in pages[:-1])
    assert pages[-1]["@odata.deltaLink"].startswith(f"https://localhost:{sim.port}/v1.0/users/delta?$deltatoken=")


def test_foreign_redirect(faulty):
    sim, client = faulty
    sim.faults.add("foreign-redirect@#1")
    response = client.get("/users?$top=5&$select=id")
    assert response.status_code == 307 and response.content == b""
    assert response.headers["location"] == f"https://localhost:{sim.port}/v1.0/users?$top=5&$select=id"
    explicit = sim.faults.add("foreign-redirect=https://127.0.0.2:9@#1~/groups")
    assert client.get("/groups").headers["location"] == "https://127.0.0.2:9/v1.0/groups"
    assert explicit.fired == 1 and client.get("/users").status_code == 200


def _token_request(client, version: int = 2, http: httpx.Client | None = None) -> httpx.Response:
    info, http = client.info, http or client.http
    form = {"grant_type": "client_credentials", "client_id": info.client_id, "client_secret": info.client_secret}
    if version == 2:
        form["scope"] = "https://graph.microsoft.com/.default"
        return http.post(f"{info.authority_host}/{info.tenant_id}/oauth2/v2.0/token", data=form)
    form["resource"] = "https://graph.microsoft.com"
    return http.post(f"{info.authority_host}/{info.tenant_id}/oauth2/token", data=form)


def test_token_500_in_entras_error_shape(faulty):
    sim, client = faulty
    sim.faults.add("token-500@#1")
    response = _token_request(client)
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "server_error" and body["error_codes"] == [50000]
    assert body["error_description"].startswith("AADSTS50000: ")
    assert _token_request(client).status_code == 200
    assert sim.stats()["faults_injected"] == {"token-500": 1}


@pytest.mark.parametrize("version", [2, 1])
def test_token_without_access_token(faulty, version):
    sim, client = faulty
    sim.faults.add("token-no-access-token@#1")
    response = _token_request(client, version)
    assert response.status_code == 200
    body = response.json()
    assert "access_token" not in body and body["token_type"] == "Bearer"
    assert body["expires_in"] == (3599 if version == 2 else "3599")


def test_token_echo_reflects_the_form_body_secret_and_all(faulty):
    sim, client = faulty
    sim.faults.add("token-echo")
    response = _token_request(client)
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"
    assert f"client_secret={client.info.client_secret}" in response.json()["error_description"].replace("%7E", "~")


def test_token_html(faulty):
    sim, client = faulty
    sim.faults.add("token-html~/oauth2/token")  # v1 only
    assert _token_request(client).status_code == 200
    response = _token_request(client, version=1)
    assert response.status_code == 502 and response.headers["content-type"] == "text/html"
    assert response.content == b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def test_token_hang_delays_only_that_request(faulty):
    import threading
    import time

    sim, client = faulty
    sim.faults.add("token-hang=3@#1")
    outcome: dict = {}

    def fetch() -> None:
        started = time.monotonic()
        with httpx.Client(verify=trust(client.info), timeout=30) as patient:  # the fixture's client waits 2 s
            outcome["response"] = _token_request(client, http=patient)
        outcome["took"] = time.monotonic() - started

    hung = threading.Thread(target=fetch)
    hung.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert client.get("/organization").status_code == 200  # served meanwhile
    assert _token_request(client).status_code == 200  # the 2nd token request is not held
    assert time.monotonic() - started < 1.5 and hung.is_alive()
    hung.join(10)
    assert outcome["took"] >= 3 and "access_token" in outcome["response"].json()
    assert sim.stats()["faults_injected"] == {"token-hang": 1}


def test_invalid_utf8_in_the_first_display_name_of_a_page(faulty):
    sim, client = faulty
    sim.faults.add("invalid-utf8@#1~/users")
    response = client.get("/users?$top=3")
    assert response.status_code == 200
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    first_name = sim.truth()["users"][0]["displayName"].encode()
    assert b'"displayName":"' + first_name + b'\xff\xfe"' in response.content
    page = json.loads(response.content.decode("utf-8", "replace"))
    assert len(page["value"]) == 3 and page["value"][1]["displayName"] == sim.truth()["users"][1]["displayName"]
    assert client.get("/users?$top=3").content.decode("utf-8")  # once
