"""One collection of a connector's tenant: run the set-based plan, write the raw assets, and
report per asset what was fetched and what it cost. Dagster and the CLI both call this."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Connector
from .graph.client import ClientSettings, GraphClient, GraphStats
from .graph.delta import DeltaState, Round, Snapshot
from .graph.plan import Pull, SetBasedPlan, entities_for
from .graph.secret_expiry import SecretExpiry, note_secret_expiry
from .killpoints import checkpoint
from .memory import without_cyclic_gc
from .storage import ASSIGNMENT_SCHEMA, MEMBERSHIP_SCHEMA, RawStore

log = logging.getLogger(__name__)

# raw asset -> (the part of the plan that fetches it, where it comes from in a Pull)
RAW_ASSETS: dict[str, tuple[str, str]] = {
    "users": ("users", "users"),
    "groups": ("groups", "groups"),
    "roles": ("roles", "roles"),
    "role_assignments": ("roles", "roleAssignments"),
    "role_eligibility_schedules": ("roles", "roleEligibilitySchedules"),
    "directory_roles": ("directoryRoles", "directoryRoles"),
    "administrative_units": ("administrativeUnits", "administrativeUnits"),
    "memberships": ("memberships", ""),
    "app_role_assignments": ("appRoleAssignments", ""),
    "applications": ("applications", "applications"),
    "service_principals": ("appRoleAssignments", "servicePrincipals"),
    "tenant": ("tenant", "tenant"),
}
POSTURE_ASSETS = ("applications", "service_principals", "tenant")
# Delta entity -> the raw files its changes are merged into, and the records those feed.
SNAPSHOT_FILES = {"users": ("users",), "groups": ("groups", "memberships")}
FEEDS_RECORDS = {"users": ("users",), "groups": ("users", "groups")}
# Memberships come from three parts; all three must succeed for the table to be complete.
MEMBERSHIP_PARTS = ("groups", "directoryRoles", "administrativeUnits")


def raw_assets_for(connector: Connector) -> tuple[str, ...]:
    posture = connector.asset_types == "identities_with_security_posture"
    return tuple(name for name in RAW_ASSETS if posture or name not in POSTURE_ASSETS)


@dataclass
class AssetReport:
    count: int | None  # None: not fetched (see error)
    error: str | None = None
    stats: GraphStats = field(default_factory=GraphStats)


@dataclass
class Collection:
    reports: dict[str, AssetReport]
    delta_links: dict[str, str]
    duration: float
    total: GraphStats
    rounds: dict[str, Round] = field(default_factory=dict)
    secret_expiry: SecretExpiry | None = None
    secret_expiry_warning: str | None = None  # near or past its end date, or not readable


def _failure(pull: Pull, asset: str) -> str | None:
    part = RAW_ASSETS[asset][0]
    parts = MEMBERSHIP_PARTS if asset == "memberships" else (part,)
    errors = [pull.failed[p] if p == asset else f"{p}: {pull.failed[p]}" for p in parts if p in pull.failed]
    return "; ".join(errors) or None


def _stats_for(client: GraphClient, parts: tuple[str, ...]) -> GraphStats:
    total = GraphStats()
    for part in parts:
        stats = client.part_stats.get(part, GraphStats())
        total.requests += stats.requests
        total.resource_units += stats.resource_units
        total.throttled += stats.throttled
        total.retries += stats.retries
    return total


def _snapshot(store: RawStore) -> Snapshot | None:
    """What earlier runs merged, read back from the raw files (None if any is missing)."""
    if not all(store.exists(name) for name in ("users", "groups", "memberships")):
        return None
    snapshot = Snapshot({u["id"]: u for u in store.read_objects("users")},
                        {g["id"]: g for g in store.read_objects("groups")})
    for row in store.read_rows("memberships"):
        if row["container_type"] == "group":
            snapshot.group_members[(row["container_id"], row["member_id"])] = row["member_type"]
    return snapshot


@without_cyclic_gc
def collect(connector: Connector, home: Path, settings: ClientSettings | None = None, full: bool = False) -> Collection:
    """Pull the tenant and write every raw asset whose data arrived whole. An asset whose part
    failed is not written: what an earlier run stored stays as it was.

    Users and groups are delta rounds from the committed links unless `full` (or there are no
    usable links); the new links are left pending in the raw manifest until the destination
    has the changes (`commit_delta`)."""
    started = time.monotonic()
    secret = connector.secret(home)
    store = RawStore(home, connector.name)
    wanted = raw_assets_for(connector)
    links, stale = ({}, {}) if full else DeltaState(home, connector.name).usable(dt.datetime.now(dt.timezone.utc))
    snapshot = _snapshot(store) if links else None

    pulled: list[tuple[Pull, GraphClient, tuple[SecretExpiry | None, str | None]]] = []

    # The result is handed out through `pulled`, not returned: Python 3.11's asyncio.run builds
    # repr() of the finished main task, result included, when it restores the SIGINT handler,
    # and the repr of a whole tenant cost 3-6 s of CPU at 100k users (profile in BENCHMARKS.md).
    async def pull() -> None:
        async with GraphClient(connector, secret, settings) as client:
            plan = SetBasedPlan(client, entities_for(connector.asset_types), snapshot, links)
            result = await plan.run()
            # With the pull's client and token: when the secret itself expires (1 request).
            expiry = await note_secret_expiry(client, connector, home, secret.get_secret_value())
            pulled.append((result, client, expiry))

    asyncio.run(pull())
    [(result, client, (expiry, expiry_warning))] = pulled
    reports: dict[str, AssetReport] = {}
    for asset in wanted:
        part, source = RAW_ASSETS[asset]
        stats = _stats_for(client, MEMBERSHIP_PARTS if asset == "memberships" else (part,))
        error = _failure(result, asset)
        if error:
            reports[asset] = AssetReport(None, error, stats)
            continue
        if asset == "memberships":
            store.write_rows(asset, result.memberships, MEMBERSHIP_SCHEMA)
            count = len(result.memberships)
        elif asset == "app_role_assignments":
            store.write_rows(asset, result.app_role_assignments, ASSIGNMENT_SCHEMA)
            count = len(result.app_role_assignments)
        else:
            objects = result.objects.get(source, [])
            store.write_objects(asset, objects)
            count = len(objects)
        reports[asset] = AssetReport(count, None, stats)
        checkpoint(f"raw:{asset}:written")
    for entity, round_ in result.rounds.items():
        if entity in reports and round_.reason is None and entity in stale:
            round_.reason = stale[entity]
    # A link is pending only if every snapshot file holding its changes was written.
    pending = {entity: link for entity, link in result.delta_links.items()
               if link and all(reports.get(a) and not reports[a].error for a in SNAPSHOT_FILES[entity])}
    store.write_manifest({"failed": {name: r.error for name, r in reports.items() if r.error},
                          "counts": {name: r.count for name, r in reports.items() if r.count is not None},
                          "pending_links": pending, "pulled_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    checkpoint("raw:all:written")
    return Collection(reports, pending, time.monotonic() - started, client.stats, result.rounds,
                      expiry, expiry_warning)


def commit_delta(connector: Connector, home: Path, delivered: set[str]) -> dict[str, str]:
    """After the destination confirmed: the pulled links become the ones the next run starts from,
    each only if the records its changes feed were delivered (a group membership change feeds
    users' and groups' records)."""
    manifest = RawStore(home, connector.name).read_manifest()
    pending = {entity: link for entity, link in manifest.get("pending_links", {}).items()
               if set(FEEDS_RECORDS[entity]) <= delivered}
    if pending:
        checkpoint("delta:before-commit")
        DeltaState(home, connector.name).commit(pending, dt.datetime.fromisoformat(manifest["pulled_at"]))
    return pending
