"""Snapshot and record data in an object store (ENTRA_PIPELINE_DATA=abfs://...), against Azurite
over verified HTTPS through adlfs: delta runs read their base back from it, only committed
objects stay, a killed writer leaves nothing the next run trusts, a replaced object is refused,
and an outage fails the run with nothing committed and a clear message. Syncs run as
`entra-pipeline sync` processes given only configuration, as a worker is."""

from __future__ import annotations

import signal

import pytest

from entra_pipeline.store import StoreError, open_store
from entra_pipeline.store.storage import open_storage

from . import azurite
from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, finished, start_cli

needs_azurite = pytest.mark.skipif(not azurite.available(), reason="Azurite is not installed: ./dev test installs it")


@pytest.fixture(scope="module")
def blob_store():
    server = azurite.Azurite().start()
    yield server
    server.stop(keep=False)


@pytest.fixture
def remote(blob_store, home, request):
    """The environment a worker is given: the object store's URL under a prefix of this test's own."""
    prefix = request.node.name.replace("_", "-")[:60]
    return blob_store, prefix, blob_store.environment(prefix)


def sync(home, connector, env: dict, *flags: str) -> tuple[int, str]:
    return finished(start_cli(home, "sync", "--connector", connector.name, *flags, env=env))


def committed_keys(home, connector) -> set[str]:
    store = open_store(home)
    return {
        f"{connector.name}/{stage}/{f.name}.{f.token}.parquet"
        for stage in ("raw", "records")
        for f in store.committed_files(connector.name, stage).values()
    }


def in_store(server, prefix: str) -> set[str]:
    return {name.removeprefix(f"{prefix}/") for name in server.blobs(f"{prefix}/")}


@pytest.mark.slow
@needs_azurite
def test_the_snapshot_lives_in_the_object_store_and_delta_runs_start_from_it(make_sim, home, remote):
    server, prefix, env = remote
    sim = make_sim(users=60, seed=81, delta_members_per_page=10)
    connector = connector_for(sim, home)
    code, out = sync(home, connector, env)
    assert code == 0 and "Processed" in out, out
    assert not (home / "data").exists(), "nothing of the snapshot is kept on the worker's disk"
    assert in_store(server, prefix) == committed_keys(home, connector)
    assert_inventory_is_the_truth(sim, home, connector)

    t = sim.tenant
    users, groups = list(t.users), list(t.groups)
    ada = t.create_user(displayName="Ada Object Store", department="Maths", accountEnabled=True)
    t.update_user(users[0], department="Changed")
    t.hard_delete(users[1])
    t.add_member(groups[2], ada["id"])
    t.remove_member(groups[0], next(iter(t.members[groups[0]])))
    before = committed_keys(home, connector)
    code, out = sync(home, connector, env)
    assert code == 0 and "Processed" in out, out
    # a delta round applied to the base it read back from the object store
    assert "delta" in out and "full resync" not in out, out
    assert_inventory_is_the_truth(sim, home, connector)
    after = committed_keys(home, connector)
    assert after != before and in_store(server, prefix) == after, "older versions are removed once committed"

    code, out = finished(start_cli(home, "store", "check", env=env))
    assert code == 0 and f"data abfs://{server.container}/{prefix}: no problem(s)" in out, out


@pytest.mark.slow
@needs_azurite
def test_a_writer_killed_mid_run_leaves_nothing_the_next_run_trusts(make_sim, home, remote):
    server, prefix, env = remote
    sim = make_sim(users=50, seed=82)
    connector = connector_for(sim, home)
    assert sync(home, connector, env)[0] == 0
    committed = committed_keys(home, connector)
    sim.tenant.create_user(displayName="Written But Never Committed")
    code, out = sync(home, connector, {**env, "ENTRA_PIPELINE_KILL_AT": "records:users:written"})
    assert code == -signal.SIGKILL, out
    left = in_store(server, prefix) - committed
    assert left, "the killed run had uploaded objects of its own"
    assert committed_keys(home, connector) == committed, "and none of them were committed"
    code, out = sync(home, connector, env)
    assert code == 0 and "Processed" in out, out
    assert_inventory_is_the_truth(sim, home, connector)
    assert not (in_store(server, prefix) & left), "what the killed run wrote is removed"
    assert in_store(server, prefix) == committed_keys(home, connector)


@pytest.mark.slow
@needs_azurite
def test_an_object_replaced_in_the_store_is_refused_and_its_entity_pulled_in_full(make_sim, home, remote):
    server, prefix, env = remote
    sim = make_sim(users=40, seed=83)
    connector = connector_for(sim, home)
    assert sync(home, connector, env)[0] == 0
    raw = open_store(home).committed_files(connector.name, "raw")
    users, groups = raw["users"], raw["groups"]
    client = _blob_client(server)
    container = client.get_container_client(server.container)
    other = container.download_blob(f"{prefix}/{connector.name}/raw/groups.{groups.token}.parquet").readall()
    container.upload_blob(f"{prefix}/{connector.name}/raw/users.{users.token}.parquet", other, overwrite=True)
    client.close()
    sim.tenant.create_user(displayName="After The Replacement")
    code, out = sync(home, connector, env)
    assert code == 0 and "Processed" in out, out
    assert "is not the one committed" in out and "full resync" in out, out
    assert_inventory_is_the_truth(sim, home, connector)


@pytest.mark.slow
@needs_azurite
def test_an_unavailable_object_store_fails_the_run_with_nothing_committed_and_the_next_run_recovers(
    make_sim, home, remote
):
    server, prefix, env = remote
    sim = make_sim(users=40, seed=84)
    connector = connector_for(sim, home)
    assert sync(home, connector, env)[0] == 0
    store = open_store(home)
    links, committed = store.delta_links(connector.name), committed_keys(home, connector)
    sim.tenant.create_user(displayName="Arrived During The Outage")
    server.stop()
    try:
        code, out = sync(home, connector, env)
    finally:
        server.start()
    assert code == 1, out
    assert "the object store could not" in out and f"abfs://{server.container}/{prefix}/" in out, out
    assert "Nothing was committed" in out, out
    assert azurite.KEY not in out and "AccountKey=" not in out, "the storage key is never printed"
    assert store.delta_links(connector.name) == links and committed_keys(home, connector) == committed
    code, out = sync(home, connector, env)
    assert code == 0 and "Processed" in out, out
    assert "full resync" not in out, "the links committed before the outage are still good"
    assert_inventory_is_the_truth(sim, home, connector)


@pytest.mark.parametrize("url, extra", [("s3://bucket/prefix", "s3"), ("gs://bucket/prefix", "gcs")])
def test_an_object_store_whose_library_is_missing_is_named_with_the_extra_to_install(url, extra):
    pytest.importorskip("fsspec")
    library = {"s3": "s3fs", "gcs": "gcsfs"}[extra]
    try:
        __import__(library)
        pytest.skip(f"{library} is installed here")
    except ImportError:
        pass
    with pytest.raises(StoreError, match=rf"pip install 'entra-pipeline\[{extra}\]'"):
        open_storage(url)


def _blob_client(server):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(server.connection_string, connection_verify=str(server.tls.ca_cert))
