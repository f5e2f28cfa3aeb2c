"""What `entra-pipeline sync` prints, word for word where it matters: a part Graph refuses (403),
an endpoint that cannot be reached, and the exit codes automation reads (docs/operator.md).
Each problem is said once, in our own words: no library exception class, no object address,
no module path reaches the operator."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from entra_pipeline.simulator import Simulator, SimulatorConfig
from entra_pipeline.sync.outcome import derive_state

from .conftest import connector_for

# What must never reach an operator: exception class names (ConnectError, ClientConnectorError,
# ServiceRequestError ...), Python object addresses, module paths, tracebacks.
LEAKS = re.compile(
    r"\b\w*(Error|Exception)\b|0x[0-9a-f]{4,}|\b(aiohttp|httpx|httpcore|azure|kiota|dagster)\.\w|"
    r"\.py\b|Traceback"
)


def sync(home: Path, connector: str = "sim") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--connector", connector, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def normalised(text: str, port: int) -> str:
    """Run ids, cycles, ports and durations replaced: the rest is compared exactly."""
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "RUN", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "CYCLE", text)
    text = re.sub(r"\b\d+\.\d s\b", "N s", text)
    return text.replace(str(port), "PORT")


def assert_no_leaks(text: str) -> None:
    assert not LEAKS.search(text), LEAKS.search(text)


def test_a_refused_part_is_one_line_naming_the_permission_and_exits_3(make_sim, home):
    sim = make_sim(users=50, faults=("forbidden=applications",))
    connector_for(sim, home)
    done = sync(home)
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    said = [line for line in lines if "403" in line or "applications" in line.lower() and "not" in line]
    assert said == [
        "  ! applications not fetched: 403 Authorization_RequestDenied: Insufficient privileges to complete the "
        f"operation. ({sim.origin}/v1.0/applications). Previously ingested data kept. Typically caused by missing "
        "or unconsented API permissions for a specific object type: grant Directory.Read.All (application "
        "permission) and have an administrator give admin consent."
    ], done.stdout
    assert re.fullmatch(r"Run \S+ \(baseline \(full\) pull, cycle \S+\) ended Partially Processed\.", lines[-1])
    assert not [line for line in lines if "warning:" in line], done.stdout  # the 403 is not repeated as a warning
    # The Graph figures add up: requests shared by assets of one listing are shown once.
    rows = [line for line in lines if line.startswith("  raw/")]
    assert "  raw/role_assignments" in "\n".join(rows) and any("(requests with roles)" in r for r in rows)
    shown = sum(int(m.group(1)) for r in rows if (m := re.search(r"objects\s+(\d+) requests", r)))
    total = re.search(r"Graph in all: (\d+) requests.* \((\d+) not in the rows above: ", done.stdout)
    # the two the rows cannot show: the refused applications listing, the refused read of the secret's expiry
    assert total and int(total.group(1)) == shown + int(total.group(2)) == shown + 2, done.stdout
    assert_no_leaks(done.stdout + done.stderr)
    assert "entity types delivered" in done.stdout and "entities delivered" not in done.stdout


def test_an_unreachable_endpoint_is_said_once_and_the_run_fails_with_exit_1(home, tmp_path):
    # A connector whose simulator has stopped: its port is closed, its CA bundle still on disk.
    with Simulator(SimulatorConfig(users=20, state_dir=tmp_path / "gone")) as sim:
        connector_for(sim, home)
        port = sim.port
    done = sync(home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert normalised(done.stdout, port) == (
        "Syncing sim from https://127.0.0.1:PORT ...\n"
        "  Graph in all: 0 requests, 0 RU, 0 x 429, 0 retried, in N s\n"
        "  ! users, groups, roles and 9 more not fetched: cannot reach the identity platform at https://127.0.0.1:PORT "
        "(connection refused): is the simulator (or the local proxy) running? Previously ingested data kept.\n"
        "Run RUN (baseline (full) pull, cycle CYCLE) FAILED.\n"
        "  reason: nothing could be fetched for connector 'sim' (the cause is above)\n"
    ), done.stdout
    assert_no_leaks(done.stdout + done.stderr)
    status = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "status", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        "  ! nothing could be fetched for connector 'sim': cannot reach the identity platform at "
        f"https://127.0.0.1:{port} (connection refused)" in status.stdout
    ), status.stdout
    assert_no_leaks(status.stdout + status.stderr)


def test_exit_codes_tell_processed_from_usage_errors(make_sim, home):
    sim = make_sim(users=20)
    connector_for(sim, home)
    done = sync(home)
    assert done.returncode == 0 and done.stdout.splitlines()[-1].endswith("succeeded: Processed."), done.stdout
    sim.reset_delta("users")  # Graph refuses the users' delta link: said once, live, not again as a warning
    again = sync(home)  # the cycle's baseline is done: a delta run, said as such
    assert again.returncode == 0 and re.search(r"\(delta run in baseline cycle \S+\) succeeded", again.stdout)
    assert again.stdout.count("resyncRequired") == 1 and "warning:" not in again.stdout, again.stdout
    missing = sync(home, "nope")
    assert missing.returncode == 2 and "no connector named 'nope'" in missing.stderr and missing.stdout == ""
    usage = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert usage.returncode == 2
    helped = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--help"], capture_output=True, text=True, timeout=300
    )
    assert "0 Processed, 3 Partially Processed" in " ".join(helped.stdout.split()) and "130 cancelled" in helped.stdout


def test_a_cancelled_sync_exits_130_and_commits_nothing(make_sim, home):
    import signal

    sim = make_sim(users=20, latency_ms=1500)  # every request takes 1.5 s: the run is mid-pull when stopped
    connector_for(sim, home)
    running = subprocess.Popen(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--connector", "sim", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert running.stdout.readline().startswith("Syncing sim from ")
    deadline = time.monotonic() + 120
    while sim.stats()["graph_requests"] == 0:  # the run holds the connector and is pulling
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.05)
    running.send_signal(signal.SIGTERM)  # as a service manager stops it; Ctrl-C is the same path
    out, err = running.communicate(timeout=120)
    assert running.returncode == 130, out + err
    assert "stopped by SIGINT/SIGTERM: nothing committed, the next run resumes" in out, (out, err[-3000:])
    assert_no_leaks(out + err)
    # It released the connector and committed nothing: the next run starts at once, in full.
    again = sync(home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"\(baseline \(full\) pull, cycle \S+\) succeeded: Processed", again.stdout), again.stdout


def test_only_graphs_refusal_gets_the_permissions_advice_not_any_403_in_the_text():
    unreachable = derive_state({"applications": "could not reach 127.0.0.1:33403 (connection refused)"}, {}, {})
    assert "grant" not in unreachable.reasons[0], unreachable.reasons
    refused = derive_state(
        {
            "applications": "403 Authorization_RequestDenied: Insufficient privileges "
            "(https://graph.microsoft.com/v1.0/applications)"
        },
        {},
        {},
    )
    assert "grant Directory.Read.All" in refused.reasons[0], refused.reasons
