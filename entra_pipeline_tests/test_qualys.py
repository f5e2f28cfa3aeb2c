"""The Qualys destination against a local fake gateway that checks the same contract: auth,
headers, batch limits, rate-limit answers, re-authentication, and kill-and-resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from entra_pipeline.config import save_connector
from entra_pipeline.destinations.qualys import envelope
from entra_pipeline.destinations.qualys.csam import HeldIdentities, Progress, QualysError, QualysGateway, deliver_entity
from entra_pipeline.store import open_store

from .conftest import connector_for
from .fake_qualys import CONNECTOR_UUID, FakeQualys, qualys_destination, removals_sent

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out


@pytest.fixture
def gateway(tmp_path):
    fake = FakeQualys(tmp_path / "qualys").start()
    yield fake
    fake.stop()


def records(n: int, entity: str = "users") -> list[tuple[str, dict]]:
    return [
        (f"id-{i:05d}", {"asset": {"assetHeader": {"vendorAssetId": f"id-{i:05d}", "externalAssetId": f"u{i}@x"}}})
        for i in range(n)
    ]


def deliver(fake, dest, items, tmp_path, secret=None, **gateway_options):
    client = QualysGateway(dest, SecretStr(secret or fake.password), **gateway_options)
    try:
        return deliver_entity(client, Progress.load(open_store(tmp_path), "c"), "users", items), client
    finally:
        client.close()


def test_password_auth_batches_and_envelope_follow_the_contract(gateway, tmp_path):
    report, _ = deliver(gateway, qualys_destination(gateway), records(250), tmp_path)
    assert gateway.violations == []
    assert gateway.auth_calls == [{"kind": "password", "username": "api-user", "token": "true"}]
    assert sorted(len(b["assetData"]) for b in gateway.accepted) == [50, 100, 100]  # two in flight: any order
    assert len(gateway.request_ids) == 3 and set(gateway.request_ids.values()) == {1}
    assert {b["connectorMetaData"]["source"] for b in gateway.accepted} == {"Microsoft"}
    assert (report.sent, report.assets) == (3, 250)


def test_oauth_client_credentials_go_in_headers(gateway, tmp_path):
    dest = qualys_destination(
        gateway,
        auth="oauth",
        username=None,
        password_env=None,
        client_id=gateway.client_id,
        client_secret_env="QUALYS_CLIENT_SECRET",
    )
    deliver(gateway, dest, records(5), tmp_path, secret=gateway.client_secret)
    assert gateway.auth_calls == [{"kind": "oauth", "clientId": "client-1"}] and len(gateway.accepted) == 1


def test_wrong_password_is_a_clear_error(gateway, tmp_path):

    with pytest.raises(QualysError, match="authentication .* failed with HTTP 401"):
        deliver(gateway, qualys_destination(gateway), records(5), tmp_path, secret="nope")


def test_401_reauthenticates_once_and_carries_on(gateway, tmp_path):
    client = QualysGateway(qualys_destination(gateway), SecretStr(gateway.password))
    client.token()
    gateway.expire_tokens()
    deliver_entity(client, Progress.load(open_store(tmp_path), "c"), "users", records(30))
    client.close()
    assert len(gateway.auth_calls) == 2 and len(gateway.accepted) == 1


def test_token_is_refreshed_before_its_four_hour_lifetime(gateway, tmp_path):
    now = [1_000_000.0]
    client = QualysGateway(qualys_destination(gateway), SecretStr(gateway.password), clock=lambda: now[0])
    first = client.token()
    now[0] += 3 * 3600
    assert client.token() == first
    now[0] += 0.6 * 3600  # 3.6 h: refreshed before the gateway's 4 h
    assert client.token() != first and len(gateway.auth_calls) == 2
    client.close()


@pytest.mark.parametrize(
    "status,headers,expected_wait",
    [
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"X-RateLimit-ToWait-Sec": "12"}, 12.0),
        (409, {"X-RateLimit-ToWait-Sec": "3"}, 3.0),
    ],
)
def test_rate_limits_are_waited_out_as_told(gateway, tmp_path, status, headers, expected_wait):
    gateway.script = [(status, headers), (status, headers)]
    waited = []
    deliver(gateway, qualys_destination(gateway), records(10), tmp_path, sleep=waited.append)
    assert waited == [expected_wait, expected_wait] and len(gateway.accepted) == 1


def test_server_errors_are_retried(gateway, tmp_path):
    gateway.script = [(500, {}), (503, {})]
    waited = []
    deliver(gateway, qualys_destination(gateway), records(10), tmp_path, sleep=waited.append)
    assert len(waited) == 2 and len(gateway.accepted) == 1


def test_server_errors_that_do_not_end_are_a_clear_error(gateway, tmp_path):
    gateway.script = [(500, {})] * 6
    waited = []
    with pytest.raises(QualysError, match="HTTP 500"):
        deliver(gateway, qualys_destination(gateway), records(10), tmp_path, sleep=waited.append)
    assert len(waited) == 5 and gateway.accepted == []  # six attempts, then given up


def test_at_most_two_requests_in_flight(tmp_path):
    fake = FakeQualys(tmp_path / "slow", delay=0.2).start()
    try:
        deliver(fake, qualys_destination(fake, batch_size=10), records(100), tmp_path)
        assert fake.max_in_flight == 2 and len(fake.accepted) == 10
    finally:
        fake.stop()


def test_batches_stay_under_the_byte_limit_and_are_deterministic():
    big = [(f"id-{i}", {"asset": {"blob": "x" * 1000}}) for i in range(50)]
    digest, batches = envelope.batches(big, batch_size=100, max_bytes=10_000)
    assert all(len(json.dumps(envelope.body(b, CONNECTOR_UUID, "r", "Microsoft"))) < 10_000 for b in batches)
    assert sum(len(b) for b in batches) == 50 and len(batches) > 1
    assert envelope.batches(list(reversed(big)), 100, 10_000) == (digest, batches)
    with pytest.raises(ValueError, match="alone is"):
        envelope.batches([("huge", {"x": "y" * 20_000})], 100, 10_000)


def test_an_accepted_batch_set_is_not_sent_again(gateway, tmp_path):
    deliver(gateway, qualys_destination(gateway), records(250), tmp_path)
    report, _ = deliver(gateway, qualys_destination(gateway), records(250), tmp_path)
    assert report.sent == 0 and report.skipped_already_accepted == 3 and len(gateway.accepted) == 3


def test_a_sync_killed_mid_upload_resumes_without_resending_accepted_batches(make_sim, home, tmp_path, monkeypatch):
    fake = FakeQualys(tmp_path / "gw", delay=0.05).start()
    try:
        sim = make_sim(users=450, seed=2)
        connector = connector_for(
            sim,
            home,
            asset_types="identities_only",
            destination=qualys_destination(fake, batch_size=50).model_dump(mode="json"),
        )
        save_connector(home, connector, replace=True)
        env = {**os.environ, "QUALYS_PASSWORD": fake.password}
        command = [
            sys.executable,
            "-m",
            "entra_pipeline.cli",
            "sync",
            "--home",
            str(home),
            "--connector",
            connector.name,
        ]
        killed = subprocess.run(
            command,
            env={**env, "ENTRA_PIPELINE_KILL_AT": "qualys:users:batch-3:recorded"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert killed.returncode == -9
        progress = open_store(home).qualys_progress(connector.name)
        accepted_before = {
            envelope.request_id(progress["users"]["digest"], "users", i) for i in progress["users"]["accepted"]
        }
        sent_before = dict(fake.request_ids)
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        resent = {
            rid for rid, count in fake.request_ids.items() if count > sent_before.get(rid, 0) and rid in sent_before
        }
        assert not resent & accepted_before  # no batch recorded as accepted was sent again
        users = {
            a["asset"]["assetHeader"]["vendorAssetId"]
            for b in fake.accepted
            if "-users-" in b["connectorMetaData"]["requestId"]
            for a in b["assetData"]
        }
        assert users == set(sim.tenant.users)  # every record delivered
        assert all(count <= 2 for count in fake.request_ids.values())  # at most the batch in flight at the kill
        assert fake.violations == []
    finally:
        fake.stop()


@pytest.mark.parametrize("retain", [False, True])
def test_identities_gone_from_the_tenant_are_sent_as_deleted_unless_retained(
    make_sim, home, tmp_path, monkeypatch, retain
):
    fake = FakeQualys(tmp_path / "gw").start()
    try:
        monkeypatch.setenv("QUALYS_PASSWORD", fake.password)
        sim = make_sim(users=80, seed=6)
        connector = connector_for(
            sim, home, retain_previous_delta=retain, destination=qualys_destination(fake).model_dump(mode="json")
        )
        from entra_pipeline.defs.runner import sync

        assert sync(connector, home).state == "Processed"
        assert removals_sent(fake) == []
        gone_user, soft_user = list(sim.tenant.users)[:2]
        upn = sim.tenant.users[gone_user]["userPrincipalName"]
        sim.tenant.hard_delete(gone_user)
        sim.tenant.soft_delete(soft_user)
        outcome = sync(connector, home)
        assert outcome.state == "Processed"
        if retain:
            assert removals_sent(fake) == []
            assert outcome.materialized["upload"]["users_retained"] == 2
            return
        removed = removals_sent(fake)
        assert {
            "asset": {"assetHeader": {"externalAssetId": upn, "vendorAssetId": gone_user, "status": "DELETED"}}
        } in removed
        assert {r["asset"]["assetHeader"]["vendorAssetId"] for r in removed} == {gone_user, soft_user}
        assert outcome.materialized["upload"]["users_removed"] == 2
        assert sync(connector, home).state == "Processed"
        assert len(removals_sent(fake)) == 2  # a removal is sent once
        assert fake.violations == []
    finally:
        fake.stop()


def test_an_ispm_object_gone_is_sent_with_graphs_removal_marker(gateway, tmp_path):
    client = QualysGateway(qualys_destination(gateway), SecretStr(gateway.password))
    ledger = HeldIdentities(open_store(tmp_path), "c")
    apps = [
        (f"app-{i}", {"thirdPartyObject": {"content": {"id": f"app-{i}", "displayName": f"App {i}"}}}) for i in range(3)
    ]
    try:
        deliver_entity(client, Progress.load(open_store(tmp_path), "c"), "applications", apps, ledger)
        report = deliver_entity(client, Progress.load(open_store(tmp_path), "c"), "applications", apps[1:], ledger)
    finally:
        client.close()
    assert report.removed == 1
    assert removals_sent(gateway) == [
        {"thirdPartyObject": {"content": {"id": "app-0", "@removed": {"reason": "deleted"}}}}
    ]
    assert set(HeldIdentities(open_store(tmp_path), "c").state["applications"]) == {"app-1", "app-2"}
