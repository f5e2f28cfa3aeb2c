"""The local inventory: upserts by vendor asset id, full deliveries remove what is gone, and a
full sync against the simulator leaves exactly one correct record per object of the truth."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory, parse_search
from entra_pipeline.store import open_store

from .conftest import connector_for
from .helpers import expected_records, record_id

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out


def test_upsert_update_unchanged_and_full_delete(home):
    inventory = LocalInventory(open_store(home))
    first = inventory.apply("c", "users", [("a", {"n": 1}), ("b", {"n": 2})], remove_absent=True)
    assert (first.inserted, first.updated, first.deleted) == (2, 0, 0)
    again = inventory.apply("c", "users", [("a", {"n": 1}), ("b", {"n": 3})], remove_absent=True)
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 1, 1, 0)
    gone = inventory.apply("c", "users", [("b", {"n": 3})], remove_absent=True)
    assert gone.deleted == 1 and list(inventory.export("c", "users")) == [{"n": 3}]
    assert inventory.count("other", "users") == 0
    kept = inventory.apply("c", "users", [("c", {"n": 4})], remove_absent=False)  # Retain Previously Ingested Delta
    assert (kept.inserted, kept.deleted, kept.retained) == (1, 0, 1)
    assert sorted(r["n"] for r in inventory.export("c", "users")) == [3, 4]
    assert stat.S_IMODE(os.stat(home / "store.sqlite").st_mode) == 0o600


def test_search_filter_syntax():
    assert parse_search('inventory:(source:"Microsoft")') == {"source": "Microsoft"}
    assert parse_search('inventory:(source:"Microsoft") name:"Ada*" status:ACTIVE entity:users') == {
        "source": "Microsoft",
        "name": "Ada*",
        "status": "ACTIVE",
        "entity": "users",
    }
    with pytest.raises(ValueError, match="unknown search field 'colour'"):
        parse_search("colour:red")


def test_a_full_sync_leaves_one_correct_record_per_simulator_object(make_sim, home):
    sim = make_sim(users=1500, seed=13)
    connector = connector_for(sim, home)
    outcome = sync(connector, home)
    assert outcome.success
    inventory = LocalInventory(open_store(home))
    for entity, expected in expected_records(sim.truth()).items():
        stored = {record_id(entity, r): r for r in inventory.export(connector.name, entity)}
        assert stored.keys() == expected.keys(), entity
        mismatched = [k for k in expected if stored[k] != json.loads(json.dumps(expected[k]))]
        assert mismatched == [], (entity, mismatched[:3])
    assert outcome.materialized["records/users"]["count"] == 1500


def test_deletions_reach_the_inventory_and_a_forbidden_entity_removes_nothing(make_sim, home):
    sim = make_sim(users=80)
    connector = connector_for(sim, home)
    assert sync(connector, home).success
    inventory = LocalInventory(open_store(home))
    victim = next(iter(sim.tenant.users))
    sim.tenant.hard_delete(victim)
    app = next(iter(sim.tenant.applications))
    before_apps = list(inventory.export(connector.name, "applications"))
    sim.tenant.applications.pop(app)  # gone from Graph, but Graph will refuse to say so
    sim.faults.add("forbidden=applications")
    outcome = sync(connector, home)
    assert outcome.success
    assert victim not in {r["asset"]["assetHeader"]["vendorAssetId"] for r in inventory.export(connector.name, "users")}
    assert list(inventory.export(connector.name, "applications")) == before_apps
    assert any("applications not delivered, nothing removed" in w for w in outcome.warnings)
    assert outcome.state == "Partially Processed"
    assert "applications not fetched: 403" in outcome.materialized["upload"]["state_reasons"]
    assert "grant Directory.Read.All" in outcome.materialized["upload"]["state_reasons"]


def test_export_and_search_from_the_cli_after_a_sync(make_sim, home):
    sim = make_sim(users=60)
    connector = connector_for(sim, home)
    assert sync(connector, home).success
    export = subprocess.run(
        [
            sys.executable,
            "-m",
            "entra_pipeline.cli",
            "inventory",
            "export",
            "--home",
            str(home),
            "--connector",
            connector.name,
            "--entity",
            "users",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = export.stdout.splitlines()
    assert export.returncode == 0 and len(lines) == 60
    assert all(json.loads(line)["asset"]["assetHeader"]["externalAssetId"] for line in lines)
    search = subprocess.run(
        [
            sys.executable,
            "-m",
            "entra_pipeline.cli",
            "inventory",
            "search",
            "--home",
            str(home),
            'inventory:(source:"Microsoft") entity:roles name:"Global Administrator"',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert search.returncode == 0 and "Global Administrator" in search.stdout and "1 record(s)" in search.stdout


@pytest.mark.parametrize(
    "point",
    [
        "deliver:users:before",
        "inventory:users:mid-transaction",
        "deliver:users:after-commit",
        "inventory:groups:mid-transaction",
    ],
)
def test_a_sync_killed_during_the_upload_and_run_again_delivers_exactly_once(make_sim, home, point):
    sim = make_sim(users=200, seed=4)
    connector = connector_for(sim, home)
    assert sync(connector, home).success  # an earlier state in the inventory
    sim.tenant.create_user(displayName="Newcomer", userPrincipalName="newcomer@contoso.com")
    sim.tenant.hard_delete(next(iter(sim.tenant.users)))
    command = [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", connector.name]
    killed = subprocess.run(
        command, env={**os.environ, "ENTRA_PIPELINE_KILL_AT": point}, capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -9  # SIGKILL, no cleanup
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    inventory = LocalInventory(open_store(home))
    for entity, expected in expected_records(sim.truth()).items():
        stored = [record_id(entity, r) for r in inventory.export(connector.name, entity)]
        assert sorted(stored) == sorted(expected), entity  # nothing lost, nothing doubled, deletions applied
