"""The connector store: one run per connector at a time however launched, a delta link used only
with the snapshot it was issued for, damaged state that names itself and heals with
`sync --full`, and an older home folder imported once. Against the simulator over HTTPS,
with the runs as separate processes (the CLI, as an operator starts them)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from entra_pipeline.cli.store_check import check
from entra_pipeline.defs import build_definitions
from entra_pipeline.defs.runner import instance, sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import forget_stores, open_store
from entra_pipeline.store.schema import anchors, baselines, delta_links, records, secret_expiry, snapshot_files, status
from entra_pipeline.sync.status import StatusStore

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, finished, paused_at, release, start_cli, wait_reached

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out


def sync_runs(home: Path, connector: str) -> list[dg.DagsterRun]:
    with instance(home) as dagster_instance:
        return [
            record.dagster_run
            for record in dagster_instance.get_run_records(
                dg.RunsFilter(tags={"entra/connector": connector, "entra/kind": "sync"})
            )
        ]


@pytest.fixture
def baseline(make_sim, home):
    sim = make_sim(users=60, seed=61, delta_members_per_page=10)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    return sim, connector


def test_three_syncs_at_once_one_runs_one_refuses_naming_it_one_waits(baseline, home, tmp_path):
    sim, connector = baseline
    gate = tmp_path / "gate"
    gate.mkdir()
    first = start_cli(home, "sync", "--connector", connector.name, env=paused_at("raw:all:written", gate))
    wait_reached("raw:all:written", gate, first)  # pulled, holding the connector
    arrived = sim.tenant.create_user(displayName="Arrived Between The Pulls")["id"]
    sim.tenant.update_user(list(sim.tenant.users)[3], jobTitle="Changed between the pulls")

    refused, said = finished(start_cli(home, "sync", "--connector", connector.name, "--wait", "1"))
    assert refused == 1, said
    assert "connector 'sim' is being synced by run " in said and f"(launched by cli, pid {first.pid} on" in said
    assert "let that run finish and run again" in said
    # The run-failure sensor, as the daemon would run it for the refused run, leaves the holder's state alone.
    (refused_run,) = [run for run in sync_runs(home, connector.dagster_name) if run.status.value == "FAILURE"]
    defs = build_definitions(home)
    with instance(home) as dagster_instance:
        (failure,) = dagster_instance.all_logs(refused_run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="entra_run_failed",
            dagster_event=failure.dagster_event,
            dagster_instance=dagster_instance,
            dagster_run=refused_run,
            resources=defs.resources,
        ).for_run_failure()
        defs.resolve_sensor_def("entra_run_failed")(context)
    held = StatusStore(open_store(home), connector.name).read()
    assert held.state == "Processing" and held.run_id != refused_run.run_id

    waiting = start_cli(home, "sync", "--connector", connector.name, "--wait", "120")
    deadline = time.monotonic() + 60  # its run has started, beside the first one, and waits for the lease
    while sum(run.status.value == "STARTED" for run in sync_runs(home, connector.dagster_name)) < 2:
        assert waiting.poll() is None and time.monotonic() < deadline, "the third sync did not start and wait"
        time.sleep(0.2)
    time.sleep(1.0)
    assert waiting.poll() is None and open_store(home).lease_holder(connector.name)[0].pid == first.pid
    release("raw:all:written", gate)
    code, out = finished(first)
    assert code == 0 and "Processed" in out, out
    code, out = finished(waiting)
    assert code == 0 and "Processed" in out, out
    assert arrived in {
        r["asset"]["assetHeader"]["vendorAssetId"]
        for r in LocalInventory(open_store(home)).export(connector.name, "users")
    }
    assert_inventory_is_the_truth(sim, home, connector)
    assert sync(connector, home).state == "Processed"
    assert_inventory_is_the_truth(sim, home, connector)
    runs = sync_runs(home, connector.dagster_name)
    # CLI runs are runs of the connector's job: in the UI's timeline and the run-queue limits
    assert {run.job_name for run in runs} == {"sim__sync_job"}
    assert sorted(run.status.value for run in runs).count("FAILURE") == 1  # the one that refused


def test_a_run_that_stalled_past_its_lease_is_fenced_out(baseline, home, tmp_path):
    """A run stopped (SIGSTOP) longer than the lease's TTL is taken over; when it resumes, it
    writes nothing: its older records would otherwise overwrite the newer run's."""
    sim, connector = baseline
    gate = tmp_path / "gate"
    gate.mkdir()
    stalled = start_cli(
        home,
        "sync",
        "--connector",
        connector.name,
        env={**paused_at("deliver:users:before", gate), "ENTRA_PIPELINE_LEASE_TTL": "2"},
    )
    wait_reached("deliver:users:before", gate, stalled)
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        release("deliver:users:before", gate)
        renamed = list(sim.tenant.users)[7]
        sim.tenant.update_user(renamed, displayName="Renamed While It Stalled")
        time.sleep(2.5)  # past the stalled run's TTL: its process lives, but it no longer heartbeats
        taken = sync(connector, home, wait=30)
        assert taken.state == "Processed", taken.failure
        assert any("took over the lease of run" in w for w in taken.warnings), taken.warnings
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    code, out = finished(stalled)
    assert code == 1 and "lost connector 'sim''s lease" in out, out
    assert_inventory_is_the_truth(sim, home, connector)
    assert StatusStore(open_store(home), connector.name).read().run_id == taken.run_id
    statuses = {run.run_id: run.status.value for run in sync_runs(home, connector.dagster_name)}
    assert statuses[taken.run_id] == "SUCCESS" and list(statuses.values()).count("FAILURE") == 1, statuses


def test_a_killed_cli_sync_is_freed_by_the_sensor_or_the_next_run_and_marked_failed(baseline, home):
    sim, connector = baseline
    for freed_by in ("sensor", "next run"):
        sim.tenant.create_user(displayName=f"Arrived Before The Kill ({freed_by})")
        code, _ = finished(
            start_cli(
                home, "sync", "--connector", connector.name, env={"ENTRA_PIPELINE_KILL_AT": "records:users:written"}
            )
        )
        assert code == -9
        killed = next(run for run in sync_runs(home, connector.dagster_name) if run.status.value == "STARTED")
        code, out = finished(start_cli(home, "status", "--connector", connector.name))
        assert f"held by run {killed.run_id} (launched by cli" in out and "(expired)" in out, out
        assert "the next run takes the connector over and marks it failed" in out
        if freed_by == "sensor":
            with instance(home) as dagster_instance:
                defs = build_definitions(home)
                sensor = defs.resolve_sensor_def(f"{connector.dagster_name}__lifecycle")
                sensor(dg.build_sensor_context(instance=dagster_instance, resources=defs.resources))
            assert open_store(home).lease_holder(connector.name) == (None, False)
        outcome = sync(connector, home, wait=5)  # the next run does not wait for the killed one's TTL
        assert outcome.state == "Processed", outcome.failure
        after = {run.run_id: run.status.value for run in sync_runs(home, connector.dagster_name)}
        assert after[killed.run_id] == "FAILURE", (freed_by, after)
        assert_inventory_is_the_truth(sim, home, connector)


def test_restoring_an_older_data_folder_or_home_resyncs_to_the_truth(baseline, home, tmp_path):
    sim, connector = baseline
    backup = tmp_path / "backup"
    shutil.copytree(home, backup)
    t = sim.tenant
    users = list(t.users)
    t.hard_delete(users[0])
    t.soft_delete(users[1])
    t.update_user(users[2], department="After The Backup")
    t.create_user(displayName="After The Backup")
    assert sync(connector, home).state == "Processed"

    # Only the data folder rolled back: the committed links' files are gone. A resync, named.
    shutil.rmtree(home / "data")
    shutil.copytree(backup / "data", home / "data")
    t.update_user(users[3], department="After The Restore")
    outcome = sync(connector, home)
    assert outcome.state == "Processed", outcome.failure
    for entity in ("users", "groups"):
        raw = outcome.materialized[f"raw/{entity}"]
        assert (
            raw["pull_mode"] == "full" and "the snapshot its delta link belongs to is not there" in raw["resync_reason"]
        ), raw
    assert_inventory_is_the_truth(sim, home, connector)

    # The whole home rolled back (store and data together): its link and snapshot still agree.
    forget_stores()
    shutil.rmtree(home)
    shutil.copytree(backup, home)
    t.update_user(users[4], department="After The Second Restore")
    outcome = sync(connector, home)
    assert outcome.state == "Processed", outcome.failure
    assert outcome.materialized["raw/users"]["pull_mode"] == "delta"
    assert_inventory_is_the_truth(sim, home, connector)


def _committed(home: Path, connector: str, name: str) -> Path:
    store = open_store(home)
    row = store.committed_files(connector, "raw")[name]
    return store.folder(connector, "raw").path(name, row.token)


def _sql(home: Path, statement) -> None:
    with open_store(home).db.write() as connection:
        connection.execute(statement)


DAMAGE = {
    "link issued_at garbage": lambda home, c: _sql(home, delta_links.update().values(issued_at="yesterday")),
    "link issued_at naive": lambda home, c: _sql(home, delta_links.update().values(issued_at="2026-12-01T00:00:00")),
    "link snapshot not JSON": lambda home, c: _sql(home, delta_links.update().values(snapshot="{half")),
    "snapshot row wrong token": lambda home, c: _sql(
        home, snapshot_files.update().where(snapshot_files.c.name == "users").values(token="0000000000000000")
    ),
    "snapshot row rows not a number": lambda home, c: _sql(
        home, snapshot_files.update().where(snapshot_files.c.name == "groups").values(rows="many")
    ),
    "users parquet truncated": lambda home, c: _truncate(_committed(home, c, "users")),
    "memberships parquet garbage": lambda home, c: _committed(home, c, "memberships").write_bytes(b"garbage" * 50),
    "users parquet replaced by an older one": lambda home, c: _older_file(home, c),
    "status document garbage": lambda home, c: _sql(home, status.update().values(document='{"state": 1')),
    "baseline entry wrong shape": lambda home, c: _sql(home, baselines.update().values(at="not a time")),
    "anchor garbage": lambda home, c: _sql(home, anchors.update().values(anchor="soon")),
    "secret expiry garbage": lambda home, c: _sql(home, secret_expiry.update().values(document="[]")),
    "inventory record not JSON": lambda home, c: _sql(
        home, records.update().where(records.c.entity == "roles").values(record="{")
    ),
    "records parquet garbage": lambda home, c: _records_file(home, c, "roles").write_bytes(b"PAR1" * 40),
    "lease row garbage": lambda home, c: _sql(
        home,
        sa.text(
            "INSERT INTO leases VALUES (:c, 'x', 'gone', 'cli', 'elsewhere', 'one', 'elsewhere:1', 'soon', 'never', 'long')"
        ).bindparams(c=c),
    ),
}


def _records_file(home: Path, connector: str, entity: str) -> Path:
    store = open_store(home)
    row = store.committed_files(connector, "records")[entity]
    return store.folder(connector, "records").path(entity, row.token)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _older_file(home: Path, connector: str) -> None:
    """A users file from another run put where the committed one is (as a restore would)."""
    path = _committed(home, connector, "users")
    other = sorted(p for p in (home / "data" / connector / "records").iterdir() if p.name.startswith("users."))[0]
    shutil.copy(other, path)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_state_is_named_checked_and_healed_by_a_full_sync(baseline, home, damage):
    sim, connector = baseline
    DAMAGE[damage](home, connector.name)
    problems = [p.line() for p in check(open_store(home))]
    assert problems, f"store check did not see: {damage}"
    code, out = finished(start_cli(home, "store", "check"))
    assert code == 1 and "Remedy:" in out, out
    code, out = finished(start_cli(home, "status"))
    assert code == 0 and "Traceback" not in out, out
    if damage == "status document garbage":
        assert "the stored state of connector 'sim' is damaged" in out and "Remedy" in out, out
    sim.tenant.create_user(displayName=f"After {damage}")
    outcome = sync(connector, home)  # a delta run: damage to the delta state is a named resync
    assert outcome.state == "Processed", (damage, outcome.failure)
    if damage.startswith(("link", "snapshot row", "users parquet", "memberships parquet")):
        reasons = [m.get("resync_reason", "") for m in outcome.materialized.values()]
        assert any("full resync" in r for r in reasons), (damage, reasons)
    assert_inventory_is_the_truth(sim, home, connector)
    assert sync(connector, home, full=True).state == "Processed"
    assert [p.line() for p in check(open_store(home))] == [], damage
    assert_inventory_is_the_truth(sim, home, connector)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_store_file_names_itself_and_a_new_one_recovers_everything(baseline, home, damage):
    sim, connector = baseline
    path = home / "store.sqlite"
    forget_stores()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(b"this is not a database" * 100 if damage == "garbage" else data[: len(data) // 3])
    for command in (["status"], ["store", "check"], ["sync", "--connector", connector.name]):
        code, out = finished(start_cli(home, *command))
        assert code != 0 and f"the store {path} is damaged" in out and "Remedy:" in out, (command, out)
        assert "Traceback" not in out
    path.rename(home / "store.sqlite.damaged")  # what the remedy says
    code, out = finished(start_cli(home, "sync", "--connector", connector.name, "--full"))
    assert code == 0 and "Processed" in out, out
    assert_inventory_is_the_truth(sim, home, connector)


def test_an_older_home_folder_is_imported_once(make_sim, home):
    sim = make_sim(users=40, seed=62)
    connector = connector_for(sim, home)
    state = home / "state" / connector.name
    state.mkdir(parents=True)
    (state / "baselines.json").write_text(
        json.dumps(
            {
                "done": {"2026-11-24": {"run_id": "old", "at": "2026-11-24T00:00:00+00:00"}},
                "anchor": "2026-11-24T00:00:00",
            }
        )
    )
    (state / "status.json").write_text(
        json.dumps({"state": "Processed", "since": "2026-11-30T10:00:00Z", "run_id": "old", "reasons": []})
    )
    (state / "delta.json").write_text(
        json.dumps({"users": {"link": "https://x/users/delta?t=1", "issued_at": "2026-11-30T10:00:00+00:00"}})
    )
    (state / "qualys-delivered.json").write_text(json.dumps({"users": {"u-1": {"vendorAssetId": "u-1"}}}))
    old = sqlite3.connect(home / "inventory.sqlite")
    old.execute(
        "CREATE TABLE records (connector TEXT, entity TEXT, vendor_asset_id TEXT, record TEXT, updated_at TEXT)"
    )
    old.execute("INSERT INTO records VALUES ('sim', 'users', 'gone-since', '{\"kept\": true}', '2026-11-30')")
    old.commit()
    old.close()
    code, out = finished(start_cli(home, "store", "upgrade"))
    assert code == 0, out
    assert "sim: baselines imported (1 row(s))" in out and "local inventory imported (1 record(s))" in out
    assert "sim: delta links not imported: its next run pulls users and groups in full" in out
    assert (home / "state.imported").is_dir() and not (home / "state").exists()
    store = open_store(home)
    assert store.baseline_runs("sim") == {"2026-11-24": "old"}
    assert store.qualys_delivered("sim") == {"users": {"u-1": {"vendorAssetId": "u-1"}}}
    assert list(LocalInventory(store).export("sim", "users")) == [{"kept": True}]
    code, out = finished(start_cli(home, "store", "upgrade"))
    assert code == 0 and "imported" not in out  # once
    outcome = sync(connector, home)
    assert outcome.state == "Processed" and outcome.materialized["raw/users"]["pull_mode"] == "full"
    assert_inventory_is_the_truth(sim, home, connector)  # the stale record the old inventory held is gone


def test_damaged_qualys_ledgers_are_named_and_the_next_delivery_replaces_them(make_sim, home, tmp_path, monkeypatch):
    from entra_pipeline.store.schema import qualys_delivered, qualys_progress

    from .fake_qualys import FakeQualys
    from .fake_qualys import qualys_destination as destination

    fake = FakeQualys(tmp_path / "gw").start()
    try:
        monkeypatch.setenv("QUALYS_PASSWORD", fake.password)
        sim = make_sim(users=30, seed=63)
        connector = connector_for(
            sim,
            home,
            asset_types="identities_only",
            destination=destination(fake, batch_size=20).model_dump(mode="json"),
        )
        assert sync(connector, home).state == "Processed"
        _sql(home, qualys_progress.update().where(qualys_progress.c.entity == "users").values(accepted="[one"))
        _sql(home, qualys_delivered.update().where(qualys_delivered.c.entity == "groups").values(identity="{"))
        problems = [p.line() for p in check(open_store(home))]
        assert any(p.startswith("sim: qualys_progress users") for p in problems), problems
        assert any(p.startswith("sim: qualys_delivered groups/") and "Remedy" in p for p in problems), problems
        sim.tenant.create_user(displayName="After The Damage")
        assert sync(connector, home, full=True).state == "Processed"  # the damaged rows neither stop nor stay
        assert [p.line() for p in check(open_store(home))] == []
        assert set(open_store(home).qualys_delivered("sim")["users"]) == set(sim.tenant.users)
        assert fake.violations == []
    finally:
        fake.stop()


def test_links_naming_another_graph_endpoint_are_a_named_full_resync(baseline, make_sim, home):
    """The endpoint changed (a proxy added, the demo's simulator restarted on another port): the
    stored links name an origin nothing answers at; the run pulls in full instead of retrying them."""
    sim, connector = baseline
    moved = make_sim(users=60, seed=61, delta_members_per_page=10)  # the same tenant, on another port
    assert moved.info.graph_endpoint != sim.info.graph_endpoint
    sim.stop()
    connector = connector_for(moved, home)
    outcome = sync(connector, home)
    assert outcome.state == "Processed", outcome.failure
    for entity in ("users", "groups"):
        raw = outcome.materialized[f"raw/{entity}"]
        assert raw["pull_mode"] == "full" and "not the configured Graph endpoint" in raw["resync_reason"], raw
    assert_inventory_is_the_truth(moved, home, connector)
    assert sync(connector, home).materialized["raw/users"]["pull_mode"] == "delta"
