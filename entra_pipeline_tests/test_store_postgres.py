"""The connector store on PostgreSQL (ENTRA_PIPELINE_STORE), as production runs it: the whole
pipeline, the lease between concurrent runs, a restore from a dump, a damaged row, `store
check`, and the kill campaign — each test in a schema of its own on one server."""

from __future__ import annotations

import uuid

import pytest

from entra_pipeline.cli.store_check import check
from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store
from entra_pipeline.store.schema import delta_links

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, finished, paused_at, release, start_cli, wait_reached
from .kill_campaign import campaign
from .live import LocalPostgres

pytestmark = pytest.mark.slow  # ./dev test --quick leaves it out


@pytest.fixture(scope="module")
def postgres():
    server = LocalPostgres().start()
    yield server
    server.stop()


@pytest.fixture
def pg_store(postgres, monkeypatch):
    schema = f"t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ENTRA_PIPELINE_STORE", postgres.store_url(schema))
    return postgres, schema


def test_the_pipeline_runs_on_postgresql_and_nothing_is_kept_in_the_home(make_sim, home, pg_store, tmp_path):
    postgres, schema = pg_store
    sim = make_sim(users=60, seed=71, delta_members_per_page=10)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    assert not (home / "store.sqlite").exists()
    (count,) = postgres.query(f"SELECT COUNT(*) FROM {schema}.records WHERE entity = 'users'")[0]
    assert count == 60
    gate = tmp_path / "gate"
    gate.mkdir()
    first = start_cli(home, "sync", "--connector", connector.name, env=paused_at("raw:all:written", gate))
    wait_reached("raw:all:written", gate, first)
    sim.tenant.create_user(displayName="Arrived Between The Pulls")
    refused, said = finished(start_cli(home, "sync", "--connector", connector.name, "--wait", "1"))
    assert refused == 1 and f"(launched by cli, pid {first.pid} on" in said, said
    release("raw:all:written", gate)
    assert finished(first)[0] == 0
    outcome = sync(connector, home)
    assert outcome.state == "Processed" and outcome.materialized["raw/users"]["pull_mode"] == "delta"
    assert_inventory_is_the_truth(sim, home, connector)
    assert LocalInventory(open_store(home)).count(connector.name, "users") == 61
    assert check(open_store(home)) == []


def test_a_schema_restored_from_a_dump_resyncs_to_the_truth(make_sim, home, pg_store, tmp_path):
    postgres, schema = pg_store
    sim = make_sim(users=60, seed=72)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    dump = tmp_path / "store.sql"
    postgres.dump(schema, dump)
    users = list(sim.tenant.users)
    sim.tenant.hard_delete(users[0])
    sim.tenant.update_user(users[1], department="After The Dump")
    assert sync(connector, home).state == "Processed"
    postgres.restore(schema, dump)  # the store is back at the first run; the data files are the second's
    sim.tenant.create_user(displayName="After The Restore")
    outcome = sync(connector, home)
    assert outcome.state == "Processed", outcome.failure
    assert "the snapshot its delta link belongs to is not there" in outcome.materialized["raw/users"]["resync_reason"]
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_damaged_row_is_named_and_a_full_sync_heals_it(make_sim, home, pg_store):
    sim = make_sim(users=40, seed=73)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    with open_store(home).db.write() as connection:
        connection.execute(delta_links.update().values(issued_at="yesterday"))
    problems = [p.line() for p in check(open_store(home))]
    assert any("delta_links" in p and "Remedy" in p for p in problems), problems
    code, out = finished(start_cli(home, "store", "check"))
    assert code == 1 and "delta_links" in out
    outcome = sync(connector, home)
    assert outcome.state == "Processed" and "damaged" in outcome.materialized["raw/users"]["resync_reason"]
    assert check(open_store(home)) == []
    assert_inventory_is_the_truth(sim, home, connector)


def test_an_unreachable_store_is_named_without_its_password(make_sim, home, monkeypatch):
    sim = make_sim(users=10, seed=74)
    connector_for(sim, home)
    monkeypatch.setenv("ENTRA_PIPELINE_STORE", "postgresql+psycopg2://entra:hunter2-secret@127.0.0.1:1/nowhere")
    code, out = finished(start_cli(home, "sync", "--connector", "sim"))
    assert code == 1 and "cannot be reached" in out and "hunter2-secret" not in out and "***" in out, out


@pytest.mark.timeout(1200)
def test_the_kill_campaign_on_postgresql(make_sim, home, pg_store):
    campaign(make_sim, home, "PostgreSQL")
