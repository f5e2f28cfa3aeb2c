"""The Dagster layer: definitions load per connector, a sync is a materialization with counts
and Graph costs in its metadata, asset sets follow asset_types, and a forbidden entity leaves
its previously ingested data untouched."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from entra_pipeline.defs import build_definitions
from entra_pipeline.defs.runner import instance, sync
from entra_pipeline.store import open_store

from .conftest import connector_for


def test_definitions_hold_one_asset_group_per_connector(sim, home):
    connector_for(sim, home, name="contoso-prod")
    connector_for(sim, home, name="fabrikam", asset_types="identities_only")
    defs = build_definitions(home)
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {
        "contoso-prod/raw_users",
        "contoso-prod/raw_applications",
        "contoso-prod/raw_tenant",
        "fabrikam/raw_users",
        "fabrikam/raw_roles",
        "fabrikam/raw_memberships",
    } <= keys
    assert not {
        k
        for k in keys
        if k.startswith("fabrikam/raw_") and k.split("_", 1)[-1] in ("applications", "service_principals", "tenant")
    }
    assert {job.name for job in defs.jobs} >= {"contoso_prod__test_connection", "fabrikam__test_connection"}


def test_empty_home_loads_no_connectors(home):
    dg.Definitions.validate_loadable(build_definitions(home))


def test_sync_is_a_materialization_with_counts_and_graph_costs(make_sim, home):
    sim = make_sim(users=150)
    connector = connector_for(sim, home)
    outcome = sync(connector, home)
    assert outcome.success
    assert outcome.materialized["raw/users"]["count"] == 150
    assert (
        outcome.materialized["raw/users"]["graph_requests"] >= 1
        and outcome.materialized["raw/users"]["resource_units"] >= 1
    )
    assert outcome.materialized["raw/tenant"]["count"] == 1
    store = open_store(home)
    assert len(store.committed_objects(connector.name, "users")) == 150
    memberships = store.committed_files(connector.name, "raw")["memberships"]
    assert {row["container_type"] for row in store.read_rows(connector.name, memberships)} == {
        "group",
        "directoryRole",
        "administrativeUnit",
    }
    with instance(home) as dagster_instance:  # the UI reads the same instance
        record = dagster_instance.get_latest_materialization_event(dg.AssetKey(["sim", "raw_users"]))
        assert record is not None and record.run_id == outcome.run_id


def test_a_forbidden_entity_is_skipped_and_its_previous_data_kept(make_sim, home):
    sim = make_sim(users=60)
    connector = connector_for(sim, home)
    assert sync(connector, home).success
    before = open_store(home).committed_objects(connector.name, "applications")
    sim.faults.add("forbidden=applications")
    sim.tenant.create_user(displayName="Arrived later")
    outcome = sync(connector, home)
    assert outcome.success and "raw/applications" not in outcome.materialized
    assert any("applications not fetched" in w and "403" in w for w in outcome.warnings)
    store = open_store(home)
    assert store.committed_objects(connector.name, "applications") == before
    assert len(store.committed_objects(connector.name, "users")) == 61


def test_nothing_fetched_is_a_failed_run_and_a_failing_cli(make_sim, home):
    sim = make_sim(users=20)
    connector_for(sim, home, secret="wrong-secret")
    result = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", "sim"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1 and "FAILED" in result.stdout


def test_test_connection_runs_as_a_dagster_job(sim, home):
    connector_for(sim, home)
    job = build_definitions(home).resolve_job_def("sim__test_connection")
    assert job.execute_in_process().success


def test_demo_runs_the_main_job_on_the_embedded_simulator(home):
    result = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "demo", "--home", str(home), "--users", "120"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("PASS") == 5 and "users" in result.stdout and "succeeded" in result.stdout
    assert "dagster dev -w workspace.yaml" in result.stdout


def test_dagster_definitions_validate_passes_on_the_workspace(sim, home):
    import os
    from pathlib import Path

    connector_for(sim, home)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ENTRA_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    (home / "dagster").mkdir(exist_ok=True)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(root / "workspace.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_run_state_is_processed_or_partially_processed_with_reasons(make_sim, home):
    sim = make_sim(users=40)
    connector = connector_for(sim, home)
    clean = sync(connector, home)
    assert clean.state == "Processed"
    nameless = sim.tenant.create_user(displayName="No UPN")
    sim.tenant.update_user(nameless["id"], userPrincipalName=None)
    sim.faults.add("forbidden=tenant")
    partial = sync(connector, home)
    assert partial.success and partial.state == "Partially Processed"
    reasons = partial.materialized["upload"]["state_reasons"]
    assert "1 users record(s) rejected for a missing required field" in reasons and "tenant not fetched" in reasons
    assert "grant Directory.Read.All (application permission) and have an administrator give admin consent" in reasons
    assert any(nameless["id"] in w and "userPrincipalName" in w for w in partial.warnings)
    with instance(home) as dagster_instance:
        assert dagster_instance.get_run_by_id(partial.run_id).tags["entra/state"] == "partially_processed"
        assert dagster_instance.get_run_by_id(clean.run_id).tags["entra/state"] == "processed"
