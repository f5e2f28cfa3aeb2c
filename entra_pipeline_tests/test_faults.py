"""Full and delta syncs under Graph's failures (the simulator's fault injection) and a failing
destination. Every run either ends Processed with the inventory equal to the truth, or ends
Partially Processed / Failed naming exactly what is missing, with what it could not read left
as it was; none reports Processed with data missing, none loops, none deletes unread data."""

from __future__ import annotations

import os
import random
import sqlite3
import string
import subprocess
import threading

import pytest

from entra_pipeline.defs.runner import DAGSTER_HOME_ENV, DAGSTER_YAML, sync
from entra_pipeline.graph.client import ClientSettings
from entra_pipeline.store import open_store
from entra_pipeline.sync.pipeline import sync_steps

from .conftest import connector_for
from .fake_qualys import FakeQualys, qualys_destination, removals_sent
from .helpers import assert_inventory_is_the_truth, changes, inventory_snapshot

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out

# (simulator faults, what the run must end as); "truth" = Processed and equal to the truth.
GRAPH_FAULTS = {
    "5% random 503": (["503@0.05"], "truth"),
    "5% random 500/502/504": (["500@0.02", "502@0.02", "504@0.02"], "truth"),
    "connection resets": (["reset@0.05"], "truth"),
    "body cut short": (["truncated@0.04"], "truth"),
    "malformed JSON": (["malformed@0.04"], "truth"),
    "429 storm with Retry-After": (["429=1@0.2"], "truth"),
    "429 storm without Retry-After": (["429-no-retry-after@0.3"], "truth"),
    "expired page token": (["expired-page-token@#2~/users"], "truth"),
    "delta: empty pages with nextLinks": (["empty-page@0.3"], "truth"),
    "delta: replayed changes": (["replay@0.5"], "truth"),
    "403 on applications": (["forbidden=applications"], "partial:applications"),
}


@pytest.mark.parametrize("name", sorted(GRAPH_FAULTS))
def test_graph_faults_on_full_and_delta_runs(make_sim, home, name):
    faults, expected = GRAPH_FAULTS[name]
    sim = make_sim(users=150, seed=51, delta_members_per_page=20)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"  # a clean baseline to fall back on
    for pull in ("delta", "full"):
        changes(sim)
        entity = expected.partition(":")[2]
        kept = inventory_snapshot(home, connector, entity) if entity else None
        for fault in faults:
            sim.faults.add(fault)
        outcome = sync(connector, home, full=pull == "full")
        sim.faults.clear()
        if expected == "truth":
            assert outcome.success and outcome.state == "Processed", (name, pull, outcome.warnings)
            assert_inventory_is_the_truth(sim, home, connector)
        else:
            assert outcome.state == "Partially Processed", (name, pull, outcome.state)
            assert any(w.startswith(f"{_raw_name(entity)} not fetched") for w in outcome.warnings), outcome.warnings
            assert inventory_snapshot(home, connector, entity) == kept  # nothing unread was deleted
        assert sync(connector, home).state == "Processed"  # and the next run, without the fault, heals
        assert_inventory_is_the_truth(sim, home, connector)


def _raw_name(entity: str) -> str:
    return {"servicePrincipals": "service_principals"}.get(entity, entity)


def test_a_token_revoked_mid_run_is_renewed_not_fatal(make_sim, home):
    sim = make_sim(users=300, seed=52, delta_members_per_page=10, latency_ms=5)
    connector = connector_for(sim, home)
    timer = threading.Timer(0.8, sim.expire_tokens)  # while the pull is paging
    timer.start()
    try:
        outcome = sync(connector, home)
    finally:
        timer.cancel()
    assert outcome.state == "Processed", outcome.warnings
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_locked_store_fails_the_run_and_loses_nothing(make_sim, home):
    sim = make_sim(users=60, seed=53)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    before = {e: inventory_snapshot(home, connector, e) for e in ("users", "groups")}
    changes(sim)
    holder = sqlite3.connect(home / "store.sqlite", timeout=1)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database for longer than a run waits
    try:
        outcome = sync(connector, home)
    finally:
        holder.rollback()
        holder.close()
    assert outcome.state == "Failed" and "another process holds the store" in outcome.failure, outcome
    assert {e: inventory_snapshot(home, connector, e) for e in ("users", "groups")} == before
    assert sync(connector, home).state == "Processed"  # the delta links did not advance: the changes arrive
    assert_inventory_is_the_truth(sim, home, connector)


def test_the_qualys_gateway_failing_loses_nothing(make_sim, home, tmp_path, monkeypatch):
    """Qualys answering 500/503/429/409 is waited out to a Processed run; a gateway that refuses a
    batch fails the run naming the entity, and the next run sends what it held back."""
    fake = FakeQualys(tmp_path / "gw").start()
    try:
        monkeypatch.setenv("QUALYS_PASSWORD", fake.password)
        sim = make_sim(users=60, seed=54)
        connector = connector_for(
            sim, home, destination=qualys_destination(fake, batch_size=20).model_dump(mode="json")
        )
        fake.script = [(500, {}), (503, {}), (429, {"Retry-After": "1"}), (409, {"X-RateLimit-ToWait-Sec": "1"})]
        assert sync(connector, home).state == "Processed"
        assert _accepted_users(fake) == set(sim.tenant.users) and fake.script == []
        newcomer = sim.tenant.create_user(displayName="Held Back")["id"]
        gone = list(sim.tenant.users)[5]
        sim.tenant.hard_delete(gone)
        fake.script = [(400, {})]  # the gateway refuses the first batch outright
        outcome = sync(connector, home)
        assert outcome.state == "Failed" and outcome.failure.startswith("users not delivered to Qualys"), outcome
        # Removals are sent only after every batch of the entity was accepted.
        assert gone not in {a["asset"]["assetHeader"]["vendorAssetId"] for a in removals_sent(fake)}
        healed = sync(connector, home)
        assert healed.state == "Processed", healed.failure
        assert newcomer in _accepted_users(fake)
        assert gone in {a["asset"]["assetHeader"]["vendorAssetId"] for a in removals_sent(fake)}
        assert fake.violations == []
    finally:
        fake.stop()


def _accepted_users(fake: FakeQualys) -> set[str]:
    return {
        item["asset"]["assetHeader"]["vendorAssetId"]
        for body in fake.accepted
        if "-removals-" not in body["connectorMetaData"]["requestId"]
        for item in body["assetData"]
        if "userAssetClass" in item.get("asset", {}).get("assetDetail", {})
    }


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 16 MiB filesystem of its own (tmpfs) for the home folder, so a test can fill it; Dagster's
    storage stays off it, as in a deployment where it is PostgreSQL (docs/deploy.md)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    dagster = tmp_path / "dagster"
    dagster.mkdir()
    (dagster / "dagster.yaml").write_text(DAGSTER_YAML)
    monkeypatch.setenv(DAGSTER_HOME_ENV, str(dagster))
    monkeypatch.delenv("ENTRA_PIPELINE_KEY", raising=False)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_fails_the_run_with_its_remedy_and_loses_nothing(make_sim, small_disk):
    """The disk holding the home folder fills up with less and less room left: the write that
    fails (the store's lease first, then the raw files, then the store again) fails the run with
    the remedy, and once there is room again the next run leaves the truth."""
    sim = make_sim(users=60, seed=55)
    home = small_disk / "home"
    home.mkdir()
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    rng = random.Random(55)
    failed_at = {}
    for room_kib in (8, 24, 48, 72, 96, 512, 2048):
        for user in list(sim.tenant.users)[:40]:  # ~60 kB of new text: raw files, records, inventory grow
            sim.tenant.update_user(user, jobTitle="".join(rng.choices(string.ascii_letters, k=1500)))
        filler = small_disk / "filler"
        stat = os.statvfs(small_disk)
        filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - room_kib * 1024))
        outcome = sync(connector, home)
        filler.unlink()
        if outcome.state == "Processed":
            assert_inventory_is_the_truth(sim, home, connector)
            failed_at[room_kib] = "nowhere"
        else:
            assert outcome.state == "Failed" and "Remedy: free space on the disk" in outcome.failure, outcome
            failed_at[room_kib] = "store" if "database or disk is full" in outcome.failure else "files"
        assert not list(home.rglob("*.tmp")), "a half-written state file was left behind"
        assert sync(connector, home).state == "Processed"
        assert_inventory_is_the_truth(sim, home, connector)
    # 8 KiB: the lease, the run's first write; in between a Parquet file or the store's later
    # writes (the inventory's transaction: the new snapshot files sit beside the committed ones
    # until the commit), which of them first depends on how the store's WAL grew; 2 MiB fits.
    assert failed_at[8] == "store" and failed_at[2048] == "nowhere", failed_at
    assert "files" in failed_at.values() and list(failed_at.values()).count("store") >= 2, failed_at


def test_pages_slower_than_the_client_timeout_are_retried_on_full_and_delta_runs(make_sim, home):
    """With a 1.5 s page timeout (the default is 120 s, too long to wait for here), the 2nd and
    5th requests answering after 4 s are given up on and asked again; the sync's own steps,
    as the Dagster asset runs them."""
    sim = make_sim(users=60, seed=56, delta_members_per_page=10)
    connector = connector_for(sim, home)
    settings = ClientSettings(page_timeout=1.5, backoff_base=0.1)
    for full in (True, False):
        changes(sim)
        slow = sim.faults.add("slow=4@#2#5")
        _, pulled, _, delivered = sync_steps(
            connector, open_store(home), "2026-11-28", f"slow-{full}", "baseline" if full else "auto", settings=settings
        )
        sim.faults.clear()
        assert slow.fired == 2 and pulled.collection.total.retries == 2  # both slow answers given up on
        assert delivered.state.state == "Processed", (full, delivered.state.reasons)
        assert_inventory_is_the_truth(sim, home, connector)


def test_a_secret_expiry_that_cannot_be_kept_is_a_warning_not_a_failed_run(make_sim, home):
    sim = make_sim(users=30, seed=57)
    connector = connector_for(sim, home)
    with open_store(home).db.write() as connection:  # the database refuses every write of the expiry
        for when in ("INSERT", "UPDATE"):
            connection.exec_driver_sql(
                f"CREATE TRIGGER refuse_{when} BEFORE {when} ON secret_expiry "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
    outcome = sync(connector, home)
    assert outcome.state == "Processed", outcome.failure
    assert any(w.startswith("client secret expiry not kept") for w in outcome.warnings), outcome.warnings
    assert_inventory_is_the_truth(sim, home, connector)
