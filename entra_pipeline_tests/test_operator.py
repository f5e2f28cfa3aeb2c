"""The operator's side: `connector create` (the spec's three steps, Test Connection gating the
first), show / edit / rotate-secret / delete, `status` and `logs`, and the client secret's
expiry warning — all against the simulator over HTTPS."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import pty
import re
import select
import sys
import time

import dagster as dg
import pytest
import yaml

from entra_pipeline.cli.progress import LiveLine
from entra_pipeline.cli.wizard import create
from entra_pipeline.config import find_connector, load_connectors
from entra_pipeline.defs import build_definitions
from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store

from .conftest import connector_for
from .helpers import Script, cli, flags

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out

UTC = dt.UTC


def endpoints(sim) -> dict:
    info = sim.info
    return {
        "authority_host": info.authority_host,
        "graph_endpoint": info.graph_endpoint,
        "ca_bundle": str(info.ca_bundle),
    }


def test_create_walks_the_three_steps_and_every_bad_answer_gets_a_second_try(sim, home):
    info = sim.info
    console = Script(
        [
            "bad name!",
            "contoso",
            "x" * 181,
            "",
            "not-a-tenant",
            info.tenant_id,
            info.client_id,
            "wrong-secret",
            "",
            # Test Connection failed: tenant and client id kept, secret typed again, cloud and the
            # advanced settings (yes by default: they are set) kept
            "",
            "",
            info.client_secret,
            "",
            "",
            "",
            "",
            "",
            "everything",
            "identities_with_security_posture",
            "maybe",
            "n",
            "",
            "Mars/Olympus",
            "Asia/Calcutta",
            "2026-12-01 02:00",
            "6h",
            "2026-11-01 00:00",
            "",
            "2027-12-01 00:00",  # End before Start: Start kept
            "monthly",
            "",
            "y",
        ]
    )
    connector = create(console, home, endpoints(sim), set(endpoints(sim)))
    shown = console.text()
    assert "Connector name: use 1-63 letters" in shown
    assert "at most 180 characters (got 181)" in shown
    assert "'not-a-tenant' is neither a directory (tenant) id GUID nor a verified domain" in shown
    assert "FAIL  Authentication Credential Check: AADSTS7000215" in shown
    assert shown.count("All five checks passed.") == 1 and shown.index("AADSTS7000215") < shown.index("Step 2 of 3")
    assert "choose one of: identities_only, identities_with_security_posture" in shown
    assert "Require Manual Sync (no schedule)?: answer y or n" in shown
    assert "unknown timezone 'Mars/Olympus'" in shown
    assert "end 2026-11-01 00:00 is not after start 2026-12-01 02:00" in shown
    assert "Change Start or End (Enter keeps an answer):" in shown
    assert (
        "The sync is scheduled for Dec 01, 2026 02:00 AM in Asia/Calcutta timezone, then every 6h until "
        "Dec 01, 2027 12:00 AM (monthly baseline)."
    ) in shown
    assert "Client Secret        ********" in shown and info.client_secret not in shown
    saved = find_connector(home, "contoso")
    assert saved == connector and saved.secret(home).get_secret_value() == info.client_secret
    assert (saved.asset_types, saved.baseline, saved.schedule.every, saved.schedule.timezone) == (
        "identities_with_security_posture",
        "monthly",
        "6h",
        "Asia/Calcutta",
    )
    assert info.client_secret not in (home / "connectors.yaml").read_text()


def test_create_from_flags_runs_test_connection_and_saves_nothing_when_it_fails(sim, home):
    base = [
        "connector",
        "create",
        "--no-input",
        "--yes",
        "--name",
        "auto",
        *flags(sim),
        "--client-secret-stdin",
        "--occurs",
        "recurring",
        "--start",
        "2026-12-01 02:00",
        "--end",
        "2027-06-01 00:00",
        "--every",
        "1d",
    ]
    wrong = cli(home, *base, stdin="not-the-secret\n")
    assert wrong.returncode == 2 and "AADSTS7000215" in wrong.stdout
    assert "Test Connection failed; the connector was not saved" in wrong.stderr
    assert load_connectors(home) == []
    missing = cli(
        home, *[a for a in base if a != "--client-secret-stdin"], "--client-secret-env", "X", "--baseline", "yearly"
    )
    assert missing.returncode == 2
    right = cli(home, *base, stdin=sim.info.client_secret + "\n")
    assert right.returncode == 0, right.stderr
    assert "All five checks passed." in right.stdout and "Connector 'auto' created: Registered." in right.stdout
    assert find_connector(home, "auto").schedule.every == "1d"
    again = cli(home, *base, stdin=sim.info.client_secret + "\n")
    assert again.returncode == 2 and "a connector named 'auto' exists already" in again.stderr


def test_a_bad_flag_value_is_refused_by_name_without_a_terminal(sim, home):
    result = cli(
        home,
        "connector",
        "create",
        "--no-input",
        "--yes",
        "--name",
        "x",
        *flags(sim),
        "--client-secret-stdin",
        "--asset-types",
        "everything",
        stdin=sim.info.client_secret + "\n",
    )
    assert result.returncode == 2
    assert "--asset-types: choose one of: identities_only, identities_with_security_posture" in result.stderr
    missing = cli(home, "connector", "create", "--no-input", "--name", "x")
    assert missing.returncode == 2 and "--tenant-id: required" in missing.stderr


def _read_until(fd: int, marker: str, seen: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while marker not in "".join(seen):
        assert time.monotonic() < deadline, f"no {marker!r} in {''.join(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            seen.append(os.read(fd, 4096).decode(errors="replace"))


def test_create_on_a_real_terminal_does_not_echo_the_secret(sim, home):
    info = sim.info
    argv = [
        sys.executable,
        "-m",
        "entra_pipeline.cli",
        "connector",
        "create",
        "--home",
        str(home),
        "--authority-host",
        info.authority_host,
        "--graph-endpoint",
        info.graph_endpoint,
        "--ca-bundle",
        str(info.ca_bundle),
    ]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session with the pty as its controlling terminal, like a shell's
        os.execv(sys.executable, argv)
    seen: list[str] = []
    try:
        for marker, answer in (
            ("Connector name", "tty-made"),
            ("Description", ""),
            ("Tenant ID", info.tenant_id),
            ("Client ID", info.client_id),
            ("Client Secret", info.client_secret),
            ("Cloud", ""),
            ("Data to sync", ""),
            ("Require Manual Sync", "y"),
            ("Baseline Schedule", ""),
            ("Retain Previously", ""),
            ("Create this connector?", "y"),
        ):
            _read_until(fd, marker, seen)
            seen.append(f"<{marker}>")  # later markers are looked for after this point
            os.write(fd, (answer + "\n").encode())
        _read_until(fd, "created: Registered", seen)
    finally:
        _, status = os.waitpid(pid, 0)
    transcript = "".join(seen)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert info.client_secret not in transcript and "All five checks passed." in transcript
    assert find_connector(home, "tty-made").require_manual_sync is True


def test_show_edit_rotate_and_delete(make_sim, home):
    sim = make_sim(users=40, seed=5)
    connector = connector_for(sim, home, name="ops")
    shown = cli(home, "connector", "show", "ops")
    assert shown.returncode == 0 and "Client Secret        ********" in shown.stdout
    assert sim.info.client_secret not in shown.stdout and "enc:" not in shown.stdout

    edited = cli(home, "connector", "edit", "ops", "--no-input", "--yes", "--baseline", "triweekly")
    assert edited.returncode == 0, edited.stderr
    after = find_connector(home, "ops")
    assert after.baseline == "triweekly" and after.client_secret == connector.client_secret
    assert "Test Connection" not in edited.stdout  # the profile did not change
    bad = cli(home, "connector", "edit", "ops", "--no-input", "--yes", "--baseline", "hourly")
    assert bad.returncode == 2 and "--baseline: choose one of: weekly, fortnightly, triweekly, monthly" in bad.stderr
    assert find_connector(home, "ops").baseline == "triweekly"

    before = (home / "connectors.yaml").read_text()
    refused = cli(home, "connector", "rotate-secret", "ops", "--client-secret-stdin", stdin="stale-secret\n")
    assert refused.returncode == 2 and "AADSTS7000215" in refused.stdout
    assert "the old secret is kept" in refused.stderr
    assert (home / "connectors.yaml").read_text() == before  # the old secret is kept
    rotated = cli(
        home, "connector", "rotate-secret", "ops", "--client-secret-stdin", stdin=sim.info.client_secret + "\n"
    )
    assert rotated.returncode == 0 and "passed Test Connection and is saved encrypted" in rotated.stdout
    assert find_connector(home, "ops").client_secret != connector.client_secret  # a new encryption

    assert sync(find_connector(home, "ops"), home).state == "Processed"
    assert LocalInventory(open_store(home)).count("ops", "users") == 40
    unasked = cli(home, "connector", "delete", "ops")
    assert unasked.returncode == 2 and "pass --yes" in unasked.stderr
    kept = cli(home, "connector", "delete", "ops", "--yes")
    assert kept.returncode == 0 and load_connectors(home) == []
    assert LocalInventory(open_store(home)).count("ops", "users") == 40 and "ops" in open_store(home).connectors()
    connector_for(sim, home, name="ops")
    purged = cli(home, "connector", "delete", "ops", "--yes", "--purge")
    assert purged.returncode == 0 and "local inventory record(s)" in purged.stdout
    assert LocalInventory(open_store(home)).count("ops", "users") == 0
    assert "ops" not in open_store(home).connectors() and not (home / "data" / "ops").exists()


def test_status_logs_and_the_secret_expiry_warning(make_sim, home):
    sim = make_sim(users=60, seed=8)
    sim.configure_app(secret_expires_in_seconds=10 * 86400)
    connector = connector_for(sim, home, name="soon")
    outcome = sync(connector, home)
    assert outcome.state == "Processed"

    facts = json.loads(cli(home, "status", "--json").stdout)
    ends = dt.datetime.fromisoformat(facts["client_secret_expires"])
    assert dt.timedelta(days=9.9) < ends - dt.datetime.now(UTC) <= dt.timedelta(days=10)
    (warning,) = facts["reasons"]
    assert "expires on" in warning and "entra-pipeline connector rotate-secret soon" in warning
    assert facts["last_run"]["run_id"] == outcome.run_id and facts["last_run"]["pull"] == "baseline"
    assert facts["counts"]["users"]["inserted"] == 60 and facts["counts"]["groups"]["inserted"] > 0
    text = cli(home, "status").stdout
    assert "soon: Processed since" in text and "! the client secret expires on" in text
    assert f"last run: baseline in cycle {outcome.cycle} (run {outcome.run_id})" in text and "inserted 60" in text
    # the figures in the destination's order, as docs/operator.md shows them
    assert re.search(r"\n    users +inserted 60, updated 0, unchanged 0, deleted 0, retained 0\n", text), text

    logs = cli(home, "logs", "soon")
    assert logs.returncode == 0 and f"Run {outcome.run_id}" in logs.stdout
    assert "fetched 60 users" in logs.stdout and "materialized soon/raw/users count=60" in logs.stdout
    assert "the client secret expires on" in logs.stdout and "soon: Processed" in logs.stdout
    listed = cli(home, "logs", "soon", "--runs", "5")
    assert outcome.run_id in listed.stdout and "processed" in listed.stdout
    assert cli(home, "logs", "soon", "--run", "no-such-run").returncode == 2

    checked = cli(home, "test-connection", "--connector", "soon")
    assert checked.returncode == 0 and "Warning: the client secret expires on" in checked.stdout

    defs = build_definitions(home)
    sensor = defs.resolve_sensor_def("soon__secret_expiry")
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    assert "WARNING: the client secret expires on" in result.skip_message

    sim.configure_app(secret_expires_in_seconds=400 * 86400)
    later = cli(home, "test-connection", "--connector", "soon")
    assert "Client secret valid until" in later.stdout
    assert json.loads(cli(home, "status", "--json").stdout)["reasons"] == []
    assert yaml.safe_load((home / "connectors.yaml").read_text())["connectors"][0]["name"] == "soon"


def test_progress_is_one_live_line_on_a_terminal_and_plain_lines_otherwise():
    def run(live: bool) -> str:
        stream = io.StringIO()
        logger = logging.getLogger("entra_pipeline.cli.progress-test")
        handler = LiveLine(stream, live=live)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            for _ in range(3):
                logger.debug("page", extra={"progress": ("pull", "/users/delta", 999)})
                time.sleep(0.11)  # past the redraw interval
            logger.info("fetched 2997 users")
            logger.debug("batch", extra={"progress": ("upload", "users", 100)})
            time.sleep(0.11)
            logger.debug("batch", extra={"progress": ("upload", "users", 100)})
            handler.finish()
        finally:
            logger.removeHandler(handler)
        return stream.getvalue()

    live = run(True)
    assert "\r  >> 3 pages, 2,997 items (most from /users/delta: 2,997)" in live
    assert "  .. fetched 2997 users\n" in live and "uploaded 2 batches, 200 records" in live
    assert live.endswith("\r")  # cleared before whatever is printed next
    assert run(False) == "  .. fetched 2997 users\n"
