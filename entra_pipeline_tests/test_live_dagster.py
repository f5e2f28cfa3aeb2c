"""The connector deployed as docs/deploy.md says: `dagster dev` (webserver, daemon, code server)
on loopback with the production instance file `dagster.postgres.yaml` over a PostgreSQL server
of the test's own, and a home with one connector pointed at the simulator. Driven through
GraphQL (launch a run, backfill a baseline cycle, read schedule and sensor ticks), through the
UI in Debian's headless Chromium (asset graph, lineage, a materialization launched by a click),
and read back from PostgreSQL and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from entra_pipeline.defs import build_definitions
from entra_pipeline.simulator import running_simulator
from entra_pipeline.store import open_store
from entra_pipeline.sync.cycles import BaselineCycles
from entra_pipeline.sync.status import StatusStore

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth
from .live import LOCATION, REPO, REPOSITORY, LiveDagster, LocalPostgres, wait_for

pytestmark = pytest.mark.slow  # ./dev test --quick leaves it out

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ENTRA_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
REPO_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}


@pytest.fixture(scope="module")
def postgres():
    server = LocalPostgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory, postgres):
    home = tmp_path_factory.mktemp("live-home")
    instance_home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(REPO / "dagster.postgres.yaml", instance_home / "dagster.yaml")
    with running_simulator(users=80, seed=21) as sim:
        # Scheduled once, a minute or two ahead: after the daemon is up (a tick due before the
        # schedule is first seen is not run), and the daemon's schedule must launch it.
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).replace(second=0, microsecond=0)
        connector = connector_for(
            sim,
            home,
            name="live",
            schedule={
                "occurs": "single",
                "start": start.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes"),
                "timezone": "UTC",
            },
        )
        # the connector store in the same server, in its own schema, as docs/deploy.md says
        store = {"ENTRA_PIPELINE_STORE": postgres.store_url("entra_pipeline")}
        server = LiveDagster(
            home,
            instance_home,
            tmp_path_factory.mktemp("logs") / "dagster-dev.log",
            env={**postgres.environment(), **store},
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("ENTRA_PIPELINE_STORE", store["ENTRA_PIPELINE_STORE"])
            try:
                server.wait_ready()
                yield server, connector, home, sim
            finally:
                server.stop()


def run_status(server: LiveDagster, run_id: str) -> tuple[str, dict]:
    data = server.graphql(
        "query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }", {"id": run_id}
    )["runOrError"]
    return data["status"], {t["key"]: t["value"] for t in data["tags"]}


def runs(server: LiveDagster) -> list[dict]:
    results = server.graphql("{ runsOrError { ... on Runs { results { runId tags { key } } } } }")["runsOrError"]
    return [{"runId": r["runId"], "tags": [t["key"] for t in r["tags"]]} for r in results["results"]]


def finished(server: LiveDagster, run_id: str) -> tuple[str, dict]:
    return wait_for(
        f"run {run_id} to finish",
        lambda: (lambda s: s if s[0] in ("SUCCESS", "FAILURE", "CANCELED") else None)(run_status(server, run_id)),
        timeout=240,
    )


def launch_sync(server: LiveDagster, home: Path, connector) -> str:
    cycle = BaselineCycles(connector, open_store(home)).at(dt.datetime.now(dt.UTC)).key
    launched = server.graphql(
        "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
        "... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }",
        {
            "params": {
                "selector": {**REPO_SELECTOR, "jobName": "live__sync_job"},
                "runConfigData": {"ops": {"live__sync": {"config": {"mode": "auto"}}}},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": cycle}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


@contextmanager
def chromium_page(server: LiveDagster):
    """A page of Debian's headless Chromium on the live UI, Dagster's first-visit dialog dismissed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is needed (./dev test installs it as root: apt-get install chromium)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{server.url}/overview", wait_until="domcontentloaded")
            skip = page.get_by_role("button", name="Skip")  # Dagster's first-visit community dialog
            try:
                skip.wait_for(timeout=10_000)
                skip.click()
            except PlaywrightTimeout:
                pass  # not shown this time
            yield page
        finally:
            browser.close()


def test_the_daemon_runs_the_schedule_and_the_sensors(live):
    # First: the schedule fires a minute after start; later tests' runs then have the connector to themselves.
    server, _, _, _ = live

    def ticks(kind: str, name: str) -> list[dict]:
        field, selector = (
            ("scheduleOrError", "scheduleSelector") if kind == "schedule" else ("sensorOrError", "sensorSelector")
        )
        key = "scheduleName" if kind == "schedule" else "sensorName"
        typename = "Schedule" if kind == "schedule" else "Sensor"
        data = server.graphql(
            f"query($sel: {typename}Selector!) {{ {field}({selector}: $sel) {{ ... on {typename} {{ "
            f"{'scheduleState' if kind == 'schedule' else 'sensorState'} {{ status ticks(limit: 20) {{ status "
            "runIds skipReason timestamp } } } } }",
            {"sel": {**REPO_SELECTOR, key: name}},
        )[field]
        return data["scheduleState" if kind == "schedule" else "sensorState"]["ticks"]

    launched = wait_for(
        "the schedule's tick with a run",
        lambda: [t for t in ticks("schedule", "live__schedule") if t["status"] == "SUCCESS" and t["runIds"]],
    )
    status, tags = finished(server, launched[0]["runIds"][0])
    assert status == "SUCCESS" and tags["entra/kind"] == "sync"
    assert wait_for("a lifecycle sensor tick", lambda: ticks("sensor", "live__lifecycle"))
    (expiry,) = wait_for("the secret-expiry sensor's tick", lambda: ticks("sensor", "live__secret_expiry"))[:1]
    assert expiry["status"] == "SKIPPED" and expiry["skipReason"].startswith("client secret valid until")


def test_graphql_launches_a_sync_run_and_the_sensor_records_processed(live):
    server, connector, home, _ = live
    cycle = BaselineCycles(connector, open_store(home)).at(dt.datetime.now(dt.UTC)).key
    added = server.graphql(
        "mutation($repo: RepositorySelector!, $name: String!, $key: String!) { addDynamicPartition("
        "repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) { __typename } }",
        {"repo": REPO_SELECTOR, "name": "live__baseline_cycles", "key": cycle},
    )["addDynamicPartition"]
    assert added["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError")
    run_id = launch_sync(server, home, connector)
    status, tags = finished(server, run_id)
    assert status == "SUCCESS" and tags["entra/state"] == "processed" and tags["entra/pull"] in ("baseline", "delta")
    recorded = wait_for(
        "the run-status sensor to record the outcome",
        lambda: (lambda s: s if s and s.run_id == run_id and s.state == "Processed" else None)(
            StatusStore(open_store(home), "live").read()
        ),
    )
    assert recorded.cycle == cycle


def test_graphql_backfills_a_baseline_cycle(live):
    server, connector, home, _ = live
    cycle = BaselineCycles(connector, open_store(home)).at(dt.datetime.now(dt.UTC)).key
    assets = build_definitions(home).resolve_all_asset_keys()
    launched = server.graphql(
        "mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { __typename "
        "... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }",
        {
            "params": {
                "partitionNames": [cycle],
                "assetSelection": [{"path": key.path} for key in assets],
                "title": "re-run the cycle's baseline",
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]

    def backfill_runs():
        runs = server.graphql(
            "query($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) { ... on Runs { results { runId "
            "status tags { key value } } } } }",
            {"tags": [{"key": "dagster/backfill", "value": backfill}]},
        )["runsOrError"]["results"]
        return runs if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs) else None

    (run,) = wait_for(f"backfill {backfill}'s run", backfill_runs, timeout=300)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS" and tags["dagster/partition"] == cycle
    assert tags["entra/pull"] == "baseline"  # a launched or backfilled cycle re-runs its baseline


def test_the_ui_shows_the_asset_graph_and_launches_a_materialization(live):
    from playwright.sync_api import expect

    server, _, home, _ = live
    before = {run["runId"] for run in runs(server)}
    with chromium_page(server) as page:
        page.goto(f"{server.url}/asset-groups/live/lineage", wait_until="domcontentloaded")
        # the connector's group: raw -> records -> upload, with lineage edges drawn between them
        for label in ("raw_users", "records_users", "upload", "raw_memberships"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)
        page.get_by_role("button", name=re.compile("Materialize all")).click()
        # partitioned by baseline cycle: Dagster asks which cycle(s); all of them (there is one)
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible(timeout=30_000)
        dialog.get_by_role("button", name="All", exact=True).click()
        launch = dialog.get_by_role("button", name=re.compile("Launch"))
        expect(launch).to_be_enabled(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "launch-dialog.png"), full_page=True)
        launch.click()
        # one cycle selected: a single run, launched by the UI (no schedule or backfill tag)
        (run_id,) = wait_for(
            "the run launched from the UI",
            lambda: [
                run["runId"]
                for run in runs(server)
                if run["runId"] not in before and not {"dagster/schedule_name", "dagster/backfill"} & set(run["tags"])
            ],
        )
        status, tags = finished(server, run_id)
        page.goto(f"{server.url}/runs/{run_id}", wait_until="domcontentloaded")
        expect(page.get_by_text("Success").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "ui-run.png"), full_page=True)

    assert status == "SUCCESS", f"the run launched from the UI ended {status}; see {ARTIFACTS}"
    assert tags["entra/connector"] == "live" and tags["entra/state"] == "processed"
    # launched without our job's tags; the step adds them, so the sensor records this run too
    wait_for(
        "the UI run's outcome in status.json",
        lambda: (lambda s: s if s and s.run_id == run_id and s.state == "Processed" else None)(
            StatusStore(open_store(home), "live").read()
        ),
    )


def test_run_history_and_state_are_in_postgresql_and_the_cli_reads_them(live, postgres):
    server, _, home, _ = live
    runs_in_pg = dict(postgres.query("SELECT run_id, status FROM runs"))
    states = dict(postgres.query("SELECT run_id, value FROM run_tags WHERE key = 'entra/state'"))
    assert len(runs_in_pg) >= 4 and set(runs_in_pg.values()) == {"SUCCESS"}  # schedule, launch, backfill, UI
    assert set(states) <= set(runs_in_pg) and len(states) >= 4 and set(states.values()) == {"processed"}
    (ticks,) = postgres.query("SELECT COUNT(*) FROM job_ticks")[0]
    assert ticks >= 3  # the daemon's schedule and sensor ticks
    env = {**os.environ, **postgres.environment(), "ENTRA_PIPELINE_DAGSTER_HOME": str(server.dagster_home)}
    shown = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "status", "--json", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    facts = json.loads(shown.stdout)
    assert facts["state"] == "Processed" and facts["last_run"]["run_id"] in runs_in_pg
    assert sum(facts["counts"]["users"][k] for k in ("inserted", "updated", "unchanged")) == 80


def test_a_cli_sync_holding_the_connector_queues_the_daemons_run(live, postgres, tmp_path):
    """A CLI sync is a run of the connector's job in the deployment's instance: the run queue's
    per-connector limit holds a launched run until the CLI run ends, then it runs."""
    from .helpers import finished as ended
    from .helpers import paused_at, release, start_cli, wait_reached

    server, connector, home, sim = live
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {
        **postgres.environment(),
        "ENTRA_PIPELINE_DAGSTER_HOME": str(server.dagster_home),
        **paused_at("raw:all:written", gate),
    }
    by_cli = start_cli(home, "sync", "--connector", "live", env=env)
    wait_reached("raw:all:written", gate, by_cli)
    sim.tenant.create_user(displayName="Arrived While The CLI Held It")
    queued = launch_sync(server, home, connector)
    time.sleep(8)  # several of the daemon's queue passes
    assert run_status(server, queued)[0] == "QUEUED"
    release("raw:all:written", gate)
    code, out = ended(by_cli)
    assert code == 0 and "Processed" in out, out
    status, tags = finished(server, queued)
    assert status == "SUCCESS" and tags["entra/state"] == "processed"
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_killed_daemon_launched_sync_is_marked_failed_and_the_next_run_takes_over(live):
    server, connector, home, sim = live
    sim.tenant.create_user(displayName="Arrived Before The Kill")
    sim.faults.add("slow=2@1.0")  # every request answers after 2 s: the run is still pulling when killed
    try:
        run_id = launch_sync(server, home, connector)
        holder = wait_for(
            "the launched run to hold the connector",
            lambda: (lambda held: held if held and held.run_id == run_id else None)(
                open_store(home).lease_holder("live")[0]
            ),
            every=0.2,
        )
        os.kill(holder.pid, signal.SIGKILL)  # the step's process, as the OOM killer would
    finally:
        sim.faults.clear()
    status, _ = finished(server, run_id)
    assert status == "FAILURE"
    following = launch_sync(server, home, connector)
    status, tags = finished(server, following)
    assert status == "SUCCESS" and tags["entra/state"] == "processed"
    assert StatusStore(open_store(home), "live").read().run_id == following
    assert_inventory_is_the_truth(sim, home, connector)


JOB_PAGE = f"/locations/{REPOSITORY}@{LOCATION}/jobs"


def test_a_partially_processed_cli_run_is_in_the_timeline_and_recognizable(live, postgres):
    """A CLI run (here Partially Processed: applications refused) is a run of the connector's job in
    the code location: on the overview timeline and the job's runs page, its state on the runs list,
    and the upload's failed ERROR check on the asset page."""
    from playwright.sync_api import expect

    from .helpers import finished as ended
    from .helpers import start_cli

    server, _, home, sim = live
    sim.faults.add("forbidden=applications")
    try:
        env = {**postgres.environment(), "ENTRA_PIPELINE_DAGSTER_HOME": str(server.dagster_home)}
        code, out = ended(start_cli(home, "sync", "--connector", "live", env=env))
    finally:
        sim.faults.clear()
    (run,) = server.graphql(
        '{ runsOrError(filter: {tags: [{key: "entra/trigger", value: "cli"}]}, limit: 1) { ... on Runs { results { '
        "runId pipelineName repositoryOrigin { repositoryLocationName repositoryName } tags { key value } } } } }"
    )["runsOrError"]["results"]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["entra/state"] == "partially_processed", out
    assert run["pipelineName"] == "live__sync_job"
    assert run["repositoryOrigin"] == {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    short = run["runId"][:8]
    with chromium_page(server) as page:
        page.goto(f"{server.url}/overview/activity/timeline", wait_until="domcontentloaded")
        expect(page.get_by_text("live__sync_job").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "timeline-with-cli-run.png"), full_page=True)
        page.goto(f"{server.url}{JOB_PAGE}/live__sync_job/runs", wait_until="domcontentloaded")
        expect(page.get_by_text(short).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("partially_processed").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "job-runs-partially-processed.png"), full_page=True)
        page.goto(f"{server.url}/assets/live/upload?view=checks", wait_until="domcontentloaded")
        expect(page.get_by_text("every_entity_processed").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Failed").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "upload-check-failed.png"), full_page=True)


def test_a_redelivery_launched_by_a_click_restores_the_inventory(live):
    from playwright.sync_api import expect

    server, connector, home, sim = live
    before = {run["runId"] for run in runs(server)}
    with chromium_page(server) as page:
        page.goto(f"{server.url}{JOB_PAGE}/live__redeliver/playground", wait_until="domcontentloaded")
        launch = page.get_by_role("button", name=re.compile("Launch run", re.IGNORECASE))
        expect(launch).to_be_enabled(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "redeliver-launchpad.png"), full_page=True)
        launch.click()
        (run_id,) = wait_for(
            "the re-delivery launched from the UI",
            lambda: [run["runId"] for run in runs(server) if run["runId"] not in before],
        )
        status, tags = finished(server, run_id)
        page.goto(f"{server.url}/runs/{run_id}", wait_until="domcontentloaded")
        expect(page.get_by_text("Success").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "redeliver-run.png"), full_page=True)
    assert status == "SUCCESS" and tags["entra/kind"] == "redeliver" and tags["entra/state"] == "processed"
    recorded = StatusStore(open_store(home), "live").read()
    assert recorded.run_id == run_id and recorded.pull == "redelivery"
    assert_inventory_is_the_truth(sim, home, connector)
