"""Reliability at the edges (issue #15): one deleted object, one odd answer, one foreign link,
one broken string or one misbehaving token endpoint never takes a run down, and no secret ends
up in what the run writes. Each test runs real syncs against the simulator over HTTPS and
asserts the run's outcome, and the inventory against the truth for everything not affected."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.graph.decode import MAX_STRING
from entra_pipeline.store import open_store

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, cli, differences, expected_records, record_id, scan

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def records(home, connector, entity: str) -> dict[str, dict]:
    return {record_id(entity, r): r for r in LocalInventory(open_store(home)).export(connector.name, entity)}


def repaired(value):
    """The truth as the pipeline must store it (docs/reliability.md, "Text Graph sends"): lone
    surrogates replaced with U+FFFD, strings cut to MAX_STRING characters, the last one an ellipsis."""
    if isinstance(value, str):
        value = LONE_SURROGATE.sub("\ufffd", value)
        return value if len(value) <= MAX_STRING else value[: MAX_STRING - 1] + "\u2026"
    if isinstance(value, dict):
        return {key: repaired(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [repaired(inner) for inner in value]
    return value


def assert_inventory_is_the_repaired_truth(sim, home, connector) -> None:
    for entity, expected in expected_records(repaired(sim.truth())).items():
        stored = records(home, connector, entity)
        assert stored.keys() == expected.keys(), entity
        wrong = [k for k in expected if stored[k] != json.loads(json.dumps(expected[k]))]
        assert wrong == [], (
            entity,
            wrong[0],
            differences(stored[wrong[0]], json.loads(json.dumps(expected[wrong[0]]))),
        )


def baseline(make_sim, home, **settings):
    sim = make_sim(**{"users": 80, "seed": 150, **settings})
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    return sim, connector


# ------------------------------------------------------------------ objects deleted mid-run
# Where the plan lists an object's children apart: the fallbacks of a tenant that refuses the
# expanded service-principal listing, or role and unit delta (the first answers refused).
FALLBACK = {
    "/appRoleAssignedTo": "odd-error=400:oauth@#1~/servicePrincipals",
    "/directoryRoles/": "odd-error=404:null@#1#2~/directoryRoles/delta",
    "/administrativeUnits/": "odd-error=404:null@#1#2~/administrativeUnits/delta",
}


@pytest.mark.parametrize("child", ["/appRoleAssignedTo", "/directoryRoles/", "/administrativeUnits/"])
def test_an_object_deleted_between_listing_and_its_children_is_left_out_not_fatal(make_sim, home, child):
    sim, connector = baseline(make_sim, home)
    sim.faults.add(FALLBACK[child])
    sim.faults.add(f"vanish@#1~{child}")  # listed, then gone when its children are asked for
    outcome = sync(connector, home)
    sim.faults.clear()
    assert outcome.state == "Processed", outcome.warnings
    gone = [w for w in outcome.warnings if "was deleted during the run" in w]
    assert len(gone) == 1, outcome.warnings
    assert_inventory_is_the_truth(sim, home, connector)  # the deletion is in the truth: and in the inventory
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)


def test_any_other_child_error_fails_that_part_naming_the_object(make_sim, home):
    sim, connector = baseline(make_sim, home)
    kept = records(home, connector, "servicePrincipals")
    sim.faults.add(FALLBACK["/appRoleAssignedTo"])  # one appRoleAssignedTo listing per principal
    sim.faults.add("odd-error=400:oauth@#1~/appRoleAssignedTo")
    outcome = sync(connector, home)
    sim.faults.clear()
    assert outcome.state == "Partially Processed", outcome.warnings
    failed = [w for w in outcome.warnings if w.startswith("app_role_assignments not fetched")]
    assert failed and re.search(r"400 bad_request: servicePrincipal [0-9a-f-]{36}: ", failed[0]), failed
    assert records(home, connector, "servicePrincipals") == kept  # nothing unread was removed
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)


# ------------------------------------------------------------------ answers not in Graph's shape
@pytest.mark.parametrize("shape", ["oauth", "html", "string", "list", "null", "empty"])
def test_an_error_body_of_any_shape_fails_that_part_with_a_clear_reason(make_sim, home, shape):
    sim, connector = baseline(make_sim, home)
    kept = records(home, connector, "applications")
    sim.faults.add(f"odd-error=404:{shape}~/applications")
    outcome = sync(connector, home)
    sim.faults.clear()
    assert outcome.state == "Partially Processed", (outcome.state, outcome.failure)
    [failed] = [w for w in outcome.warnings if w.startswith("applications not fetched")]
    assert ": 404 " in failed, failed
    assert not [w for w in outcome.warnings if "AttributeError" in w or "Traceback" in w], outcome.warnings
    said = {
        "oauth": "404 not_found",
        "html": "404 Not Found (https",
        "string": "upstream failure",
        "list": "[]",
        "null": "null",
        "empty": "(empty body)",
    }[shape]
    assert said in failed, failed  # what the answer said, as text
    assert records(home, connector, "applications") == kept
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)


# ------------------------------------------------------------------ links and redirects elsewhere
@pytest.mark.parametrize(
    "fault, part", [("foreign-next-link@#1~/groups", "groups"), ("foreign-redirect@#1~/users/delta", "users")]
)
def test_a_link_or_redirect_to_another_origin_is_refused_for_that_part(make_sim, home, fault, part):
    # groups: the first groups answer with a nextLink is the listing's first page: 150 groups, at
    # most 100 per page with members expanded
    sim, connector = baseline(make_sim, home, groups=150)
    kept = records(home, connector, "users")
    sim.tenant.create_user(displayName="Arrives later")
    sim.faults.add(fault)
    outcome = sync(connector, home, full=True)
    sim.faults.clear()
    assert outcome.state == "Partially Processed", (outcome.state, outcome.failure, outcome.warnings)
    [failed] = [w for w in outcome.warnings if w.startswith(f"{part} not fetched")]
    assert "not the configured Graph endpoint" in failed and "localhost" in failed, failed
    assert not [w for w in outcome.warnings if "transport has already been closed" in w]
    if part == "users":
        assert records(home, connector, "users") == kept  # the newcomer waits for a run that can read users
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)


def test_tokens_revoked_while_requests_are_in_flight(make_sim, home):
    sim = make_sim(users=400, seed=151, delta_members_per_page=10, latency_ms=40)
    connector = connector_for(sim, home)
    stop = threading.Event()

    def revoke() -> None:  # once the pull is under way: every outstanding token, and those of the next second
        while sim.stats()["graph_requests"] < 5:
            if stop.wait(0.02):
                return
        sim.expire_tokens()

    revoker = threading.Thread(target=revoke)
    revoker.start()
    try:
        outcome = sync(connector, home)
    finally:
        stop.set()
        revoker.join()
    assert outcome.state == "Processed", (outcome.failure, outcome.warnings)
    assert sim.stats()["tokens_issued"] >= 2, sim.stats()  # renewed while requests were in flight
    assert_inventory_is_the_truth(sim, home, connector)


# ------------------------------------------------------------------ text Graph sends
def test_lone_surrogates_and_invalid_utf8_are_repaired_and_named(make_sim, home):
    sim, connector = baseline(make_sim, home)
    broken = sim.tenant.create_user(displayName="half an emoji \ud83d", jobTitle="\udc00 trailing half")
    outcome = sync(connector, home)
    assert outcome.state == "Processed", (outcome.failure, outcome.warnings)
    named = [w for w in outcome.warnings if w.startswith("text repaired") and broken["id"] in w]
    assert {"displayName", "jobTitle"} <= {f for w in named for f in ("displayName", "jobTitle") if f in w}, named
    assert_inventory_is_the_repaired_truth(sim, home, connector)
    [record] = [r for i, r in records(home, connector, "users").items() if i == broken["id"]]
    assert "half an emoji \ufffd" in json.dumps(record, ensure_ascii=False)

    sim.faults.add("invalid-utf8@#1~/users/delta")  # a broken proxy's bytes, in a baseline pull
    outcome = sync(connector, home, full=True)
    sim.faults.clear()
    assert outcome.state == "Processed", (outcome.failure, outcome.warnings)
    assert any("was not valid UTF-8" in w for w in outcome.warnings), outcome.warnings
    # What a proxy broke on the wire stays until the object changes or the next baseline brings it.
    assert sync(connector, home, full=True).state == "Processed"
    assert_inventory_is_the_repaired_truth(sim, home, connector)


def test_an_oversized_value_is_cut_to_the_documented_bound(make_sim, home):
    sim, connector = baseline(make_sim, home)
    huge = sim.tenant.create_user(displayName="M" * 1_000_000 + "Q", department="normal")
    outcome = sync(connector, home)
    assert outcome.state == "Processed", (outcome.failure, outcome.warnings)
    assert any(huge["id"] in w and f"longer than {MAX_STRING}" in w for w in outcome.warnings), outcome.warnings
    record = records(home, connector, "users")[huge["id"]]
    assert len(json.dumps(record)) < 8 * MAX_STRING  # not megabytes in every record
    assert_inventory_is_the_repaired_truth(sim, home, connector)


# ------------------------------------------------------------------ the token endpoint, by the CLI


@pytest.mark.parametrize(
    "fault, says",
    [
        ("token-500", "failed (500)"),
        ("token-html", "gave an answer that is not a token (Unexpected response from Microsoft Entra ID: 502 Bad"),
        ("token-no-access-token", "gave an answer that is not a token"),
        ("token-hang=120", "did not issue a token in 3 s: check the proxy and the authority host"),
    ],
)
def test_token_endpoint_trouble_is_named_as_such_without_a_traceback(make_sim, home, fault, says):
    sim = make_sim(users=20, seed=152)
    connector_for(sim, home)
    sim.faults.add(f"{fault}~/oauth2/")
    result = cli(home, "sync", "--connector", "sim", env={"ENTRA_PIPELINE_TOKEN_TIMEOUT": "3"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and "KeyError" not in output, output
    assert says in output and "identity platform at https://127.0.0.1" in output, output
    status = json.loads(cli(home, "status", "--json").stdout.splitlines()[0])
    assert says in json.dumps(status), status
    sim.faults.clear()
    assert cli(home, "sync", "--connector", "sim").returncode == 0


def test_a_secret_echoed_by_the_token_endpoint_is_masked_everywhere(make_sim, home):
    sim = make_sim(users=20, seed=153)
    connector_for(sim, home)
    secret = sim.info.client_secret
    sim.faults.add("token-echo~/oauth2/")  # 400 invalid_client whose description holds the request form
    result = cli(home, "sync", "--connector", "sim")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "refused the credentials" in output, output
    assert "client_secret=********" in output, output  # the echo is shown, its secret masked
    shown = output + cli(home, "status").stdout + cli(home, "logs", "sim", "--debug").stdout
    assert secret not in shown
    files, _, found = scan(home, [secret.encode(), secret.replace("~", "%7E").encode()])
    assert files > 5 and found == [], found  # not in the store, the run storage, the compute logs
    loose = [str(p) for p in home.rglob("*") if p.is_file() and p.stat().st_mode & 0o077]
    assert loose == [], loose


# ------------------------------------------------------------------ interrupts
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_sync_says_so_and_the_next_run_resumes(make_sim, home, tmp_path, signal_number):
    sim, connector = baseline(make_sim, home)
    sim.tenant.create_user(displayName="Arrives during the interrupted run")
    pause = tmp_path / "pause"
    pause.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--connector", "sim", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ENTRA_PIPELINE_PAUSE_AT": f"graph:page={pause}"},
    )
    deadline = time.monotonic() + 120
    while not (pause / "graph_page.reached").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    said = "stopped by SIGINT/SIGTERM: nothing committed, the next run resumes"
    assert said in stdout + stderr and "Traceback" not in stdout + stderr, stdout + stderr
    assert said in cli(home, "status").stdout
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)
