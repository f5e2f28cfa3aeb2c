"""One collection of a connector's tenant: run the set-based plan, write the raw assets as new
(not yet committed) snapshot files, and report per asset what was fetched and what it cost.
The pulled data goes on to the records step in memory; the files are the next run's snapshot
once the run commits (pipeline.py), and artifacts to inspect."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from .config import Connector
from .graph.client import ClientSettings, GraphClient, GraphStats
from .graph.decode import Repair
from .graph.delta import Round, Snapshot
from .graph.plan import Pull, SetBasedPlan, entities_for
from .graph.secret_expiry import SecretExpiry, note_secret_expiry
from .killpoints import checkpoint
from .memory import without_cyclic_gc
from .store import SnapshotBase, SnapshotFileError, Store, WrittenFile, new_token
from .store.files import ASSIGNMENT_SCHEMA, MEMBERSHIP_SCHEMA

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
    delta_links: dict[str, str]  # entity -> the link this pull brought, if its snapshot files were written
    duration: float
    total: GraphStats
    rounds: dict[str, Round] = field(default_factory=dict)
    secret_expiry: SecretExpiry | None = None
    secret_expiry_warning: str | None = None  # near or past its end date, or not readable
    files: dict[str, WrittenFile] = field(default_factory=dict)  # raw asset -> the file this run wrote
    issued_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    pull: Pull | None = None  # the data itself, for the records step (released by it)

    def arrived(self, asset: str) -> bool:
        report = self.reports.get(asset)
        return report is not None and report.error is None


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


def _snapshot(store: Store, connector: str, base: SnapshotBase) -> Snapshot | None:
    """What earlier runs merged, read back from the committed files of the links in `base`. A
    file that cannot be read as committed turns its entity's round into a named full resync."""
    if not base.links:
        return None
    snapshot = Snapshot()
    for entity in list(base.links):
        try:
            if entity == "users":
                snapshot.users = {u["id"]: u for u in store.read_objects(connector, base.files["users"])}
            else:
                snapshot.groups = {g["id"]: g for g in store.read_objects(connector, base.files["groups"])}
                for row in store.read_rows(connector, base.files["memberships"]):
                    if row["container_type"] == "group":
                        snapshot.group_members[(row["container_id"], row["member_id"])] = row["member_type"]
        except (SnapshotFileError, KeyError, TypeError) as error:
            log.warning("%s: the snapshot its delta link belongs to cannot be used (%s): full resync", entity, error)
            base.resync[entity] = f"the snapshot its delta link belongs to cannot be used ({error}): full resync"
            del base.links[entity]
            if entity == "users":
                snapshot.users = {}
            else:
                snapshot.groups, snapshot.group_members = {}, {}
    return snapshot if base.links else None


def _report_repairs(repairs: list[Repair], shown: int = 50) -> None:
    """Each object whose text was repaired on the way in (graph/decode.py), by name: it is stored
    and sent repaired, the run is not the worse for it, and the operator can fix the source."""
    for repair in repairs[:shown]:
        log.warning("text repaired: %s", repair)
    if len(repairs) > shown:
        log.warning("text repaired in %d more values (the first %d are listed above)", len(repairs) - shown, shown)


@without_cyclic_gc
def collect(connector: Connector, store: Store, settings: ClientSettings | None = None,
            full: bool = False) -> Collection:
    """Pull the tenant and write every raw asset whose data arrived whole as a new file. An
    asset whose part failed is not written: the committed snapshot stays as it was.

    Users and groups are delta rounds from the committed links unless `full` (or no link is
    usable with the committed snapshot); the links this pull brings are committed by the
    run's commit, after the destination has the changes."""
    started = time.monotonic()
    issued_at = dt.datetime.now(dt.timezone.utc)
    secret = connector.secret(store.home)
    wanted = raw_assets_for(connector)
    base = SnapshotBase() if full else store.snapshot_base(connector.name, issued_at, SNAPSHOT_FILES,
                                                           connector.graph_host)
    snapshot = _snapshot(store, connector.name, base)
    links = base.links if snapshot is not None else {}

    pulled: list[tuple[Pull, GraphClient, tuple[SecretExpiry | None, str | None]]] = []

    # The result is handed out through `pulled`, not returned: Python 3.11's asyncio.run builds
    # repr() of the finished main task, result included, when it restores the SIGINT handler,
    # and the repr of a whole tenant cost 3-6 s of CPU at 100k users (profile in BENCHMARKS.md).
    async def pull() -> None:
        async with GraphClient(connector, secret, settings) as client:
            plan = SetBasedPlan(client, entities_for(connector.asset_types), snapshot, links)
            result = await plan.run()
            # With the pull's client and token: when the secret itself expires (1 request).
            expiry = await note_secret_expiry(client, connector, store, secret.get_secret_value())
            pulled.append((result, client, expiry))

    asyncio.run(pull())
    [(result, client, (expiry, expiry_warning))] = pulled
    _report_repairs(client.repairs)
    folder, token = store.folder(connector.name, "raw"), new_token()
    reports: dict[str, AssetReport] = {}
    files: dict[str, WrittenFile] = {}
    for asset in wanted:
        part, source = RAW_ASSETS[asset]
        stats = _stats_for(client, MEMBERSHIP_PARTS if asset == "memberships" else (part,))
        error = _failure(result, asset)
        if error:
            reports[asset] = AssetReport(None, error, stats)
            continue
        if asset == "memberships":
            files[asset] = folder.write_rows(asset, token, result.memberships, MEMBERSHIP_SCHEMA)
        elif asset == "app_role_assignments":
            files[asset] = folder.write_rows(asset, token, result.app_role_assignments, ASSIGNMENT_SCHEMA)
        else:
            files[asset] = folder.write_objects(asset, token, result.objects.get(source, []))
        reports[asset] = AssetReport(files[asset].rows, None, stats)
        checkpoint(f"raw:{asset}:written")
    for entity, round_ in result.rounds.items():
        if entity in reports and round_.reason is None and entity in base.resync:
            round_.reason = base.resync[entity]
    # A link can be committed only with every snapshot file holding its changes.
    brought = {entity: link for entity, link in result.delta_links.items()
               if link and all(a in files for a in SNAPSHOT_FILES[entity])}
    checkpoint("raw:all:written")
    return Collection(reports, brought, time.monotonic() - started, client.stats, result.rounds, expiry,
                      expiry_warning, files, issued_at, result)
