"""Delta runs: the first run is full, later ones merge users/groups delta rounds into the
snapshot; after every run the inventory equals the simulator's truth through the transform;
links advance only after delivery; expired or reset links become full resyncs."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import pytest

from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store
from entra_pipeline.store.schema import delta_links

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out


@pytest.fixture
def tenant(make_sim, home):
    sim = make_sim(users=300, seed=8, delta_members_per_page=20)
    connector = connector_for(sim, home)
    first = sync(connector, home)
    assert first.success and first.materialized["raw/users"]["pull_mode"] == "full"
    return sim, connector


def test_later_runs_are_delta_rounds_and_cost_a_page_each(tenant, home):
    sim, connector = tenant
    assert set(open_store(home).delta_links(connector.name)) == {
        "users",
        "groups",
        "directoryRoles",
        "administrativeUnits",
    }
    sim.reset_stats()
    outcome = sync(connector, home)
    for raw in ("users", "groups", "directory_roles", "administrative_units"):
        assert outcome.materialized[f"raw/{raw}"]["pull_mode"] == "delta", raw
        assert outcome.materialized[f"raw/{raw}"]["changes_in_round"] == 0, raw
    assert outcome.materialized["raw/users"]["count"] == 300
    # Nothing changed: no record is rebuilt, the set stays whole.
    for entity in ("users", "groups"):
        records = outcome.materialized[f"records/{entity}"]
        assert records["incremental"] is True and records["rebuilt"] == 0, entity
    assert outcome.materialized["records/users"]["count"] == 300
    endpoints = sim.stats()["endpoints"]
    for endpoint in ("/users/delta", "/groups/delta", "/directoryRoles/delta", "/directory/administrativeUnits/delta"):
        assert endpoints[f"GET {endpoint}"]["requests"] == 1, endpoint


def test_mutations_between_runs_reach_the_inventory_exactly(tenant, home):
    sim, connector = tenant
    t = sim.tenant
    users, groups = list(t.users), list(t.groups)
    # round 1: creates, updates, deletes, membership changes
    ada = t.create_user(
        displayName="Ada Lovelace",
        userPrincipalName="ada@contoso7.onmicrosoft.com",
        department="Maths",
        accountEnabled=True,
    )
    t.update_user(users[0], department="Changed", accountEnabled=False)
    t.soft_delete(users[1])
    t.hard_delete(users[2])
    t.add_member(groups[5], ada["id"])
    t.remove_member(groups[0], users[3])
    t.update_group(groups[6], displayName="Renamed Group", description=None)
    assert sync(connector, home).success
    assert_inventory_is_the_truth(sim, home, connector)
    # round 2: restore, nested group, app role assignment, hard delete of a group, a big membership change
    t.restore(users[1])
    t.add_member(groups[7], groups[8])
    sp = next(s for s in t.service_principals.values() if s["appRoles"])
    t.assign_app_role(ada["id"], sp["id"])
    t.hard_delete(groups[9])
    big = max(t.groups, key=lambda g: len(t.live_members(g)))
    for user in [u for u in t.users if u not in t.members[big]][:60]:  # 60 adds: split over 3 pages
        t.add_member(big, user)
    outcome = sync(connector, home)
    assert outcome.success and outcome.materialized["raw/groups"]["pull_mode"] == "delta"
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_membership_change_reaches_the_users_record_in_that_run(tenant, home):
    sim, connector = tenant
    user = next(iter(sim.tenant.users))
    group = next(g for g in sim.tenant.groups if user not in sim.tenant.members.get(g, {}))
    sim.tenant.add_member(group, user)
    outcome = sync(connector, home)
    assert outcome.materialized["raw/users"]["changes_in_round"] == 0  # the user object did not change
    record = next(
        r
        for r in LocalInventory(open_store(home)).export(connector.name, "users")
        if r["asset"]["assetHeader"]["vendorAssetId"] == user
    )
    assert group in {rel["assetHeader"]["vendorAssetId"] for rel in record["asset"]["assetRelations"]}


def test_replayed_changes_change_nothing(tenant, home):
    sim, connector = tenant
    sim.tenant.update_user(next(iter(sim.tenant.users)), department="Replayed")
    assert sync(connector, home).success
    sim.faults.add("replay")
    outcome = sync(connector, home)
    assert outcome.materialized["raw/users"]["changes_in_round"] >= 1  # the replayed change came again
    assert (
        outcome.materialized["upload"]["users_updated"] == 0 and outcome.materialized["upload"]["users_inserted"] == 0
    )
    assert_inventory_is_the_truth(sim, home, connector)


def test_delta_cost_grows_with_changes_not_with_tenant_size(make_sim, tmp_path, monkeypatch):
    costs = {}
    for users in (400, 4000):
        home = tmp_path / f"home{users}"
        home.mkdir()
        sim = make_sim(users=users, seed=3)
        connector = connector_for(sim, home)
        full = sync(connector, home)
        for user in list(sim.tenant.users)[:5]:
            sim.tenant.update_user(user, department="Moved")
        sim.tenant.add_member(next(iter(sim.tenant.groups)), sim.tenant.create_user()["id"])
        delta = sync(connector, home)
        costs[users] = (
            full.materialized["raw/users"]["resource_units"] + full.materialized["raw/groups"]["resource_units"],
            delta.materialized["raw/users"]["resource_units"] + delta.materialized["raw/groups"]["resource_units"],
        )
    assert costs[4000][0] > costs[400][0]  # a full pull grows with the tenant
    assert costs[4000][1] == costs[400][1] == 2  # a delta round of a few changes: one page each


def test_an_expired_link_is_a_full_resync_logged_in_the_metadata(tenant, home):
    sim, connector = tenant
    sim.advance_clock(8 * 86400)  # Graph now answers 400 syncStateNotFound
    sim.tenant.create_user(displayName="During the gap")
    outcome = sync(connector, home)
    users = outcome.materialized["raw/users"]
    assert outcome.success and users["pull_mode"] == "resync" and "syncStateNotFound" in users["resync_reason"]
    assert any("full resync" in w for w in outcome.warnings)
    assert_inventory_is_the_truth(sim, home, connector)
    assert sync(connector, home).materialized["raw/users"]["pull_mode"] == "delta"  # new links work


def test_a_reset_410_is_a_full_resync(tenant, home):
    sim, connector = tenant
    sim.reset_delta("groups")
    sim.tenant.hard_delete(list(sim.tenant.groups)[3])
    outcome = sync(connector, home)
    assert outcome.materialized["raw/groups"]["pull_mode"] == "resync"
    assert outcome.materialized["raw/users"]["pull_mode"] == "delta"
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_committed_link_older_than_seven_days_is_not_used(tenant, home):
    sim, connector = tenant
    eight_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat()
    with open_store(home).db.write() as connection:
        connection.execute(delta_links.update().values(issued_at=eight_days_ago))
    outcome = sync(connector, home)
    users = outcome.materialized["raw/users"]
    assert users["pull_mode"] == "full" and "8 days old" in users["resync_reason"]


def test_full_flag_forces_a_full_pull(tenant, home):
    sim, connector = tenant
    assert sync(connector, home, full=True).materialized["raw/groups"]["pull_mode"] == "full"


def test_links_are_committed_only_after_delivery_so_a_crash_loses_nothing(tenant, home):
    sim, connector = tenant
    before = open_store(home).delta_links(connector.name)
    newcomer = sim.tenant.create_user(displayName="Crash Survivor")
    sim.tenant.add_member(next(iter(sim.tenant.groups)), newcomer["id"])
    command = [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", connector.name]
    for point in ("deliver:users:before", "delta:before-commit"):
        killed = subprocess.run(
            command, env={**os.environ, "ENTRA_PIPELINE_KILL_AT": point}, capture_output=True, text=True, timeout=300
        )
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert open_store(home).delta_links(connector.name) == before  # links not advanced
    sim.tenant.update_user(newcomer["id"], department="After the crash")
    assert subprocess.run(command, capture_output=True, text=True, timeout=300).returncode == 0
    assert open_store(home).delta_links(connector.name) != before
    assert_inventory_is_the_truth(sim, home, connector)


def test_soft_deleted_users_and_groups_get_their_memberships_back_on_restore(tenant, home):
    sim, connector = tenant
    t = sim.tenant
    group = next(g for g in t.groups if len(t.live_members(g)) >= 3 and not t.groups[g]["isAssignableToRole"])
    member = next(m for m in t.live_members(group) if t.kind_of(m) == "user")
    t.soft_delete(group)
    t.soft_delete(member)
    assert sync(connector, home).success
    assert_inventory_is_the_truth(sim, home, connector)  # neither is a relation meanwhile
    t.restore(group)
    t.restore(member)
    assert sync(connector, home).success
    assert_inventory_is_the_truth(sim, home, connector)  # both are back, with their memberships
    record = next(
        r
        for r in LocalInventory(open_store(home)).export(connector.name, "users")
        if r["asset"]["assetHeader"]["vendorAssetId"] == member
    )
    assert group in {rel["assetHeader"]["vendorAssetId"] for rel in record["asset"]["assetRelations"]}


def test_links_do_not_advance_when_what_they_feed_was_not_delivered(tenant, home):
    sim, connector = tenant
    before = open_store(home).delta_links(connector.name)
    user, group = next(iter(sim.tenant.users)), list(sim.tenant.groups)[4]
    sim.tenant.add_member(group, user) if user not in sim.tenant.members[group] else sim.tenant.remove_member(
        group, user
    )
    sim.faults.add("forbidden=administrativeUnits")  # memberships incomplete: users and groups held back
    outcome = sync(connector, home)
    assert outcome.state == "Partially Processed"
    assert open_store(home).delta_links(connector.name) == before
    sim.faults.clear()
    assert sync(connector, home).state == "Processed"
    assert open_store(home).delta_links(connector.name) != before
    assert_inventory_is_the_truth(sim, home, connector)


@pytest.mark.parametrize(
    "point",
    ["graph:page", "raw:users:written", "raw:all:written", "inventory:groups:mid-transaction", "delta:before-commit"],
)
def test_a_delta_run_killed_at_any_stage_and_run_again_leaves_the_truth(tenant, home, point):
    """Killed during the pull, between raw files, after the pull, in the middle of the upload, or
    just before the links commit: the next run re-reads from the committed links and the
    inventory ends equal to the truth, nothing lost or doubled."""
    sim, connector = tenant
    t = sim.tenant
    users, groups = list(t.users), list(t.groups)
    newcomer = t.create_user(displayName="Killed Run", userPrincipalName="killed@contoso7.onmicrosoft.com")
    t.add_member(groups[3], newcomer["id"])
    t.remove_member(groups[0], next(iter(t.live_members(groups[0]))))
    t.update_user(users[10], jobTitle="Survivor")
    t.hard_delete(users[11])
    t.soft_delete(groups[12])
    before = open_store(home).delta_links(connector.name)
    command = [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", connector.name]
    killed = subprocess.run(
        command, env={**os.environ, "ENTRA_PIPELINE_KILL_AT": point}, capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert open_store(home).delta_links(connector.name) == before
    t.update_user(users[13], department="Changed while it was down")
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert re.search(r"raw/users .* delta \(\d+ items\)", rerun.stdout), rerun.stdout  # from the old links
    assert_inventory_is_the_truth(sim, home, connector)


def test_role_unit_and_assignment_changes_rebuild_only_the_records_they_touch(tenant, home):
    """Directory-role and unit changes arrive by their delta rounds, an app role assignment by
    the expanded listing; the run rebuilds the touched users only (the role's members, for its
    new description, the unit's new member, the assigned user), and the inventory is the truth."""
    sim, connector = tenant
    t = sim.tenant
    users = list(t.users)
    role = next(iter(t.directory_roles))
    unit = next(u for u in t.administrative_units if set(users[:-1]) - set(t.members.get(u, {})))
    newcomer = next(u for u in users if u not in t.members.get(role, {}))
    joiner = next(u for u in reversed(users[:-1]) if u not in t.members.get(unit, {}))
    t.add_member(role, newcomer)
    t.add_member(unit, joiner)
    t.update_directory_role(role, description="Renamed role")  # every member's memberOf changes
    sp = next(s for s in t.service_principals.values() if s.get("appRoles"))
    t.assign_app_role(users[-1], sp["id"], sp["appRoles"][0]["id"])
    outcome = sync(connector, home)
    for raw in ("directory_roles", "administrative_units"):
        assert outcome.materialized[f"raw/{raw}"]["pull_mode"] == "delta", raw
    records = outcome.materialized["records/users"]
    touched = {newcomer, joiner, users[-1]} | set(t.members.get(role, {}))
    assert records["incremental"] is True and records["rebuilt"] == len(touched & set(users)), records
    assert records["rebuilt"] < len(users) / 2  # not the tenant
    assert_inventory_is_the_truth(sim, home, connector)
