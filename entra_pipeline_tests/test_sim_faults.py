"""Fault injection: each kind, fired on a chosen request or at a rate, by flag or by API."""

from __future__ import annotations

import json

import httpx
import pytest

from entra_pipeline.simulator.faults import FaultRule, FaultSpecError

from .wire import Wire


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
