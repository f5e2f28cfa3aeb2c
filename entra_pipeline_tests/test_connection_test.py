"""Test Connection: the five checks pass on a healthy simulator, and each failure fails the
right check with the right message and the spec's resolution."""

from __future__ import annotations

import socket
import subprocess
import sys

from entra_pipeline.graph.connection_test import CHECKS, run_checks

from .conftest import connector_for


def outcome(results) -> dict[str, bool]:
    return {r.name: r.passed for r in results}


def first_failure(results):
    return next(r for r in results if not r.passed)


def test_healthy_simulator_passes_all_five_in_order(sim, home):
    results = run_checks(connector_for(sim, home), home)
    assert [r.name for r in results] == list(CHECKS)
    assert all(r.passed for r in results), [r.line() for r in results]


def test_port_closed_fails_network_reachability(home, sim):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connections are refused
        connector = connector_for(
            sim, home, authority_host=f"https://127.0.0.1:{closed}", graph_endpoint=f"https://127.0.0.1:{closed}"
        )
        results = run_checks(connector, home)
    failure = first_failure(results)
    assert failure.name == "Network Reachability" and f"HTTPS ({closed})" in failure.detail
    assert "login.microsoftonline.com and graph.microsoft.com" in failure.remedy
    assert [r.detail for r in results[1:]] == ["not run: an earlier check failed"] * 4


def test_untrusted_certificate_fails_tls_handshake(make_sim, sim, home):
    other = make_sim(users=20)  # a different CA
    results = run_checks(connector_for(sim, home, ca_bundle=other.info.ca_bundle), home)
    failure = first_failure(results)
    assert outcome(results)["Network Reachability"] and failure.name == "TLS Handshake"
    assert "certificate not trusted" in failure.detail and "ca_bundle" in failure.remedy


def test_wrong_secret_fails_authentication_with_aadsts7000215(sim, home):
    failure = first_failure(run_checks(connector_for(sim, home, secret="wrong"), home))
    assert failure.name == "Authentication Credential Check"
    assert failure.detail.startswith("AADSTS7000215") and "Client Secret has not expired" in failure.remedy


def test_expired_secret_fails_authentication_with_the_key_rotation_remedy(make_sim, home):
    sim = make_sim(users=20, secret_expires_in_days=1)
    sim.advance_clock(2 * 86400)
    failure = first_failure(run_checks(connector_for(sim, home), home))
    assert failure.name == "Authentication Credential Check" and failure.detail.startswith("AADSTS7000222")
    assert "Certificates & secrets" in failure.remedy


def test_unknown_tenant_fails_authentication_with_aadsts90002(sim, home):
    failure = first_failure(run_checks(connector_for(sim, home, tenant_id="nowhere.onmicrosoft.com"), home))
    assert failure.name == "Authentication Credential Check" and "AADSTS90002" in failure.detail


def test_missing_permission_fails_the_scope_check_naming_it(make_sim, home):
    sim = make_sim(users=20, granted_permissions=("User.Read.All", "GroupMember.Read.All"))
    failure = first_failure(run_checks(connector_for(sim, home), home))
    assert failure.name == "Authorization Scope Check"
    assert "RoleManagement.Read.Directory" in failure.detail and "Directory.Read.All" in failure.detail
    assert "User.Read.All" not in failure.detail.split("(")[0]
    assert "admin consent" in failure.remedy


def test_a_token_without_roles_is_probed_endpoint_by_endpoint(make_sim, home):
    sim = make_sim(users=20, granted_permissions=())
    failure = first_failure(run_checks(connector_for(sim, home), home))
    assert failure.name == "Authorization Scope Check" and "User.Read.All" in failure.detail
    assert sim.stats()["endpoints"]["GET /users"]["statuses"] == {"403": 1}


def test_cli_exit_status_and_output(sim, home):
    connector_for(sim, home)
    ok = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "test-connection", "--home", str(home), "--connector", "sim"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0 and ok.stdout.count("PASS") == 5
    connector_for(sim, home, secret="Wrong-Secret-7Q2x")
    bad = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "test-connection", "--home", str(home), "--connector", "sim"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "FAIL  Authentication Credential Check" in bad.stdout
    assert "Resolution:" in bad.stdout
    assert "Wrong-Secret-7Q2x" not in bad.stdout + bad.stderr
