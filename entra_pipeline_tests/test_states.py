"""Connector states: stored durably per connector by the sync step, the run-status sensors and
the CLI, shown by `entra-pipeline status`; and the meaning of Retain Previously Ingested Delta."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys

import dagster as dg
import pytest

from entra_pipeline.defs import build_definitions
from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store
from entra_pipeline.sync.status import FAILED, PROCESSING, StatusStore

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, expected_records, record_id

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out

UTC = dt.UTC


def status_cli(home, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "status", "--home", str(home), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_states_from_registered_to_processed_and_the_status_command(make_sim, home):
    sim = make_sim(users=50, seed=2)
    connector = connector_for(sim, home)
    before = json.loads(status_cli(home, "--json").stdout)
    assert before["state"] == "Registered" and before["next_run"] is None and not before["cycle_baseline_done"]
    first = sync(connector, home)
    stored = StatusStore(open_store(home), connector.name).read()
    assert (stored.state, stored.run_id, stored.pull, stored.cycle) == (
        "Processed",
        first.run_id,
        "baseline",
        first.cycle,
    )
    second = sync(connector, home)
    stored = StatusStore(open_store(home), connector.name).read()
    assert (stored.state, stored.run_id, stored.pull) == ("Processed", second.run_id, "delta")
    shown = status_cli(home)
    assert shown.returncode == 0, shown.stderr
    assert (
        "sim: Processed since" in shown.stdout
        and f"last run: delta in cycle {second.cycle} (run {second.run_id})" in shown.stdout
    )
    assert "baseline done" in shown.stdout
    assert re.search(
        r"delta links: administrativeUnits [0-9.]+ h old, directoryRoles [0-9.]+ h old, groups [0-9.]+ h "
        r"old, users",
        shown.stdout,
    ), shown.stdout


def test_a_403_on_applications_is_partially_processed_with_the_remedy_and_keeps_applications(make_sim, home):
    sim = make_sim(users=50, seed=3)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    applications = sorted(
        json.dumps(r, sort_keys=True) for r in LocalInventory(open_store(home)).export(connector.name, "applications")
    )
    sim.faults.add("forbidden=applications")
    sim.tenant.create_user(displayName="Still Arrives")
    outcome = sync(connector, home)
    assert outcome.success and outcome.state == "Partially Processed"
    stored = StatusStore(open_store(home), connector.name).read()
    assert stored.state == "Partially Processed"
    (reason,) = stored.reasons
    assert reason.startswith("applications not fetched") and "403" in reason and "grant Directory.Read.All" in reason
    after = sorted(
        json.dumps(r, sort_keys=True) for r in LocalInventory(open_store(home)).export(connector.name, "applications")
    )
    assert after == applications  # untouched
    users = [record_id("users", r) for r in LocalInventory(open_store(home)).export(connector.name, "users")]
    assert sorted(users) == sorted(expected_records(sim.truth())["users"])  # the rest was delivered
    shown = status_cli(home, "--connector", connector.name).stdout
    assert "Partially Processed" in shown and "grant Directory.Read.All" in shown


def test_a_run_that_fetches_nothing_is_failed_with_its_reason(make_sim, home):
    sim = make_sim(users=20)
    connector = connector_for(sim, home, secret="not-the-secret")
    outcome = sync(connector, home)
    assert not outcome.success and outcome.state == FAILED
    stored = StatusStore(open_store(home), connector.name).read()
    assert stored.state == FAILED and "AADSTS7000215" in stored.reasons[0]  # the cause, not Dagster's wrapper


def test_run_status_sensors_record_the_outcome_of_runs_launched_by_the_daemon(make_sim, home):
    sim = make_sim(users=30, seed=8)
    connector = connector_for(sim, home)
    defs = build_definitions(home)
    job = defs.resolve_job_def("sim__sync_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sim__baseline_cycles", ["2026-11-01"])
        result = job.execute_in_process(partition_key="2026-11-01", instance=instance)
        # committed by the run itself, in the transaction that commits its delta links
        assert StatusStore(open_store(home), connector.name).read().state == "Processed"
        context = dg.build_run_status_sensor_context(
            sensor_name="entra_run_processed",
            dagster_event=result.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources=defs.resources,
        )
        defs.resolve_sensor_def("entra_run_processed")(context)
        stored = StatusStore(open_store(home), connector.name).read()
        assert (stored.state, stored.run_id, stored.cycle, stored.pull) == (
            "Processed",
            result.run_id,
            "2026-11-01",
            "baseline",
        )

        sim.configure_app(secret_expires_in_seconds=-1)  # the client secret expired: nothing can be fetched
        failed = job.execute_in_process(partition_key="2026-11-01", instance=instance, raise_on_error=False)
        assert not failed.success
        failure_event = next(e for e in failed.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="entra_run_failed",
            dagster_event=failure_event,
            dagster_instance=instance,
            dagster_run=failed.dagster_run,
            resources=defs.resources,
        ).for_run_failure()
        defs.resolve_sensor_def("entra_run_failed")(context)
        stored = StatusStore(open_store(home), connector.name).read()
        assert stored.state == FAILED and "AADSTS7000222" in stored.reasons[0]


def test_a_failure_never_overwrites_a_newer_runs_processing(home):
    store = open_store(home)
    status = StatusStore(store, "c")
    early, late = dt.datetime(2026, 11, 1, 10, tzinfo=UTC), dt.datetime(2026, 11, 1, 11, tzinfo=UTC)
    with store.lease("c", "run-2", "test") as lease:
        status.processing(lease, late, "2026-11-01", "delta")
        assert not status.failed("run-1", early, "it died")
        assert status.read().run_id == "run-2" and status.read().state == PROCESSING
    assert status.failed("run-2", late, "boom")
    assert status.read().state == FAILED and status.read().pull == "delta" and status.read().launched_by == "test"


def test_retain_previously_ingested_delta_keeps_records_that_disappeared(make_sim, home):
    sim = make_sim(users=60, seed=9)
    connector = connector_for(sim, home, retain_previous_delta=True)
    assert sync(connector, home).success
    inventory = LocalInventory(open_store(home))
    users = {record_id("users", r): r for r in inventory.export(connector.name, "users")}
    t = sim.tenant
    deleted, soft_deleted, changed = list(t.users)[:3]
    t.hard_delete(deleted)
    t.soft_delete(soft_deleted)
    t.update_user(changed, department="Moved")
    group = next(iter(t.groups))
    t.hard_delete(group)
    for full in (False, True):  # a delta run, then a baseline: both keep what disappeared
        outcome = sync(connector, home, full=full)
        assert outcome.materialized["upload"]["users_retained"] == 2
        assert outcome.materialized["upload"]["groups_retained"] == 1
        now = {record_id("users", r): r for r in inventory.export(connector.name, "users")}
        assert now[deleted] == users[deleted] and now[soft_deleted] == users[soft_deleted]  # as they were
        assert now[changed]["asset"]["assetDetail"]["typedAttributes"]["entraUserDepartment"] == "Moved"
        assert group in {record_id("groups", r) for r in inventory.export(connector.name, "groups")}
    # Unchecked again: the next run removes them, and the inventory is the truth.
    unretained = connector_for(sim, home, retain_previous_delta=False)
    assert sync(unretained, home).success
    assert_inventory_is_the_truth(sim, home, unretained)
