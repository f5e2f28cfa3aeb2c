"""What the Dagster UI shows of a connector, checked without a browser: a CLI run is a run of
the code location's job, asset labels are unique, the upload's figures are one table,
Partially Processed is an ERROR check while kept data is not a failed partition, failed runs
are tagged, and a re-delivery sends the committed records again without a Graph request."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from entra_pipeline.cli.report import last_counts
from entra_pipeline.defs import build_definitions
from entra_pipeline.defs.assets import ONE_STEP, asset_key
from entra_pipeline.defs.code_location import LOCATION_NAME, REPOSITORY_NAME, job_origin
from entra_pipeline.defs.partitions import baseline_cycles
from entra_pipeline.defs.runner import instance, sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store
from entra_pipeline.sync.status import StatusStore

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, record_id

REPO = Path(__file__).resolve().parents[1]


def test_the_code_location_origin_is_dagsters_and_the_workspaces():
    # Dagster's private origin classes, imported in one place: this fails when they move.
    origin = job_origin("sim__sync_job")
    assert (origin.location_name, origin.repository_origin.repository_name, origin.job_name) == (
        LOCATION_NAME,
        REPOSITORY_NAME,
        "sim__sync_job",
    )
    (location,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    assert location["python_module"]["location_name"] == LOCATION_NAME


def test_a_cli_run_is_a_run_of_the_connectors_job_in_the_code_location(make_sim, home):
    sim = make_sim(users=50)
    connector = connector_for(sim, home)
    outcome = sync(connector, home)
    assert outcome.state == "Processed"
    with instance(home) as dagster_instance:
        run = dagster_instance.get_run_by_id(outcome.run_id)
    assert run.job_name == "sim__sync_job" and run.remote_job_origin is not None
    assert run.remote_job_origin.location_name == LOCATION_NAME
    assert run.remote_job_origin.repository_origin.repository_name == REPOSITORY_NAME
    assert run.tags["dagster/code_location"] == LOCATION_NAME and run.tags["entra/trigger"] == "cli"


def test_asset_labels_are_unique_and_say_why_the_sync_is_one_step(sim, home):
    connector_for(sim, home)
    defs = build_definitions(home)
    keys = list(defs.resolve_all_asset_keys())
    labels = [key.path[-1] for key in keys]
    assert len(labels) == len(set(labels)) == 12 + 6 + 1
    assert {"raw_users", "records_users", "raw_groups", "records_groups", "upload"} <= set(labels)
    specs = defs.resolve_assets_def(asset_key(connector_for(sim, home, save=False), "upload")).specs
    assert all(spec.description.endswith(ONE_STEP) for spec in specs)
    assert {job.name for job in defs.jobs} >= {"sim__sync_job", "sim__redeliver", "sim__test_connection"}


def test_the_uploads_figures_are_one_table_with_flat_totals(make_sim, home):
    sim = make_sim(users=60)
    connector = connector_for(sim, home)
    outcome = sync(connector, home)
    with instance(home) as dagster_instance:
        event = dagster_instance.get_latest_materialization_event(asset_key(connector, "upload"))
        metadata = event.asset_materialization.metadata
        counts = last_counts(dagster_instance, connector)
    table = metadata["per_entity"]
    assert [c.name for c in table.schema.columns] == [
        "entity",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "retained",
    ]
    rows = {r.data["entity"]: r.data for r in table.records}
    assert rows["users"]["inserted"] == 60 and set(rows) == {
        "users",
        "groups",
        "roles",
        "applications",
        "servicePrincipals",
        "tenant",
    }
    assert metadata["records_inserted"].value == sum(r["inserted"] for r in rows.values())
    # no flat per-entity keys left in the metadata: the table holds them
    assert not [key for key in metadata if key.startswith("users_")]
    assert counts["users"]["inserted"] == 60 and outcome.per_entity == counts
    assert outcome.materialized["upload"]["users_inserted"] == 60  # what the CLI prints


def test_partially_processed_is_an_error_check_and_kept_data_is_not_failed(make_sim, home):
    sim = make_sim(users=40)
    connector = connector_for(sim, home)
    first = sync(connector, home)
    sim.faults.add("forbidden=applications")
    partial = sync(connector, home)
    assert partial.state == "Partially Processed" and partial.success
    with instance(home) as dagster_instance:
        run = dagster_instance.get_run_by_id(partial.run_id)
        assert run.tags["entra/state"] == "partially_processed"
        check = dagster_instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(asset_key(connector, "upload"), "every_entity_processed")]
        )
        evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        # applications were not fetched: their data (the first run's) is kept, and the cycle's
        # partition stays materialized rather than failed
        status = dagster_instance.get_status_by_partition(
            asset_key(connector, "raw", "applications"), [first.cycle], baseline_cycles(connector)
        )
        assert status[first.cycle] == dg.AssetPartitionStatus.MATERIALIZED


def test_a_failed_run_is_tagged_failed(make_sim, home):
    sim = make_sim(users=20)
    connector = connector_for(sim, home, secret="wrong-secret")
    outcome = sync(connector, home)
    assert not outcome.success and outcome.state == "Failed"
    with instance(home) as dagster_instance:
        assert dagster_instance.get_run_by_id(outcome.run_id).tags["entra/state"] == "failed"


def test_redelivery_restores_the_inventory_without_a_graph_request(make_sim, home):
    sim = make_sim(users=80)
    connector = connector_for(sim, home)
    synced = sync(connector, home)
    assert synced.state == "Processed"
    # the destination loses every user record and has one group changed (a restored backup)
    store = open_store(home)
    inventory = LocalInventory(store)
    inventory.apply(connector.name, "users", [], remove_absent=True)
    group = next(iter(inventory.export(connector.name, "groups")))
    inventory.apply(
        connector.name, "groups", [(record_id("groups", group), {**group, "tampered": True})], remove_absent=False
    )
    assert list(inventory.export(connector.name, "users")) == []
    assert any(g.get("tampered") for g in inventory.export(connector.name, "groups"))
    before = sim.stats()
    job = build_definitions(home).resolve_job_def("sim__redeliver")
    with instance(home) as dagster_instance:
        result = job.execute_in_process(instance=dagster_instance)
        assert result.success
        run = dagster_instance.get_run_by_id(result.run_id)
        assert run.tags["entra/state"] == "processed" and run.tags["entra/kind"] == "redeliver"
        upload = dagster_instance.get_latest_materialization_event(asset_key(connector, "upload"))
        assert upload.run_id == result.run_id and upload.asset_materialization.partition == synced.cycle
        assert last_counts(dagster_instance, connector)["users"]["inserted"] == 80
    after = sim.stats()
    assert after["endpoints"] == before["endpoints"] and after["tokens_issued"] == before["tokens_issued"]
    assert_inventory_is_the_truth(sim, home, connector)
    recorded = StatusStore(store, connector.name).read()
    assert recorded.state == "Processed" and recorded.run_id == result.run_id and recorded.pull == "redelivery"
    # no delta link moved: the next sync is a delta run from the links the first sync committed
    assert sync(connector, home).materialized["raw/users"]["pull_mode"] == "delta"
    assert_inventory_is_the_truth(sim, home, connector)
