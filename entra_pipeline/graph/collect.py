"""One collection of a connector's tenant: run the set-based plan, write the raw assets as new
(not yet committed) snapshot files, and report per asset what was fetched and what it cost.
Users, groups, directory roles and units come as rounds from the committed delta links,
applied to the committed tables (snapshot.py). The pulled data goes on to the records step in
memory, with what the changes touched when every round was incremental (`Collection.delta`);
the files are the next run's snapshot once the run commits (sync/pipeline.py), and artifacts to
inspect."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import pyarrow as pa

from ..config import Connector
from ..entities import DELTA_PARTS, MEMBERSHIP_PARTS, RAW_ASSETS, SNAPSHOT_FILES, plan_parts, raw_assets_for
from ..interrupts import quiet_stopped_tasks, stoppable
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..store import SnapshotBase, SnapshotFileError, Store, StoreDamaged, WrittenFile, new_token
from ..store.files import MEMBERSHIP_SCHEMA, OBJECT_SCHEMA
from .client import ClientSettings, GraphClient, GraphStats
from .decode import Repair
from .delta import Round
from .plan import Pull, SetBasedPlan
from .secret_expiry import SecretExpiry, note_secret_expiry
from .snapshot import (
    OBJECT_FILES,
    Applied,
    MembershipUpdate,
    all_objects,
    apply_memberships,
    apply_objects,
    assignment_table,
    changed_assignment_principals,
    touched,
)

log = logging.getLogger(__name__)


def requests_shown_with(asset: str) -> tuple[str, ...]:
    """The raw assets whose figures carry this asset's Graph requests, because it is read from
    their listings (role assignments from the roles'; memberships from the groups', directory
    roles' and units'); empty when its requests are its own. Shown once, the figures add up."""
    owner: dict[str, str] = {}  # listing -> the first asset read from it alone
    for name, raw in RAW_ASSETS.items():
        if len(raw.parts) == 1:
            owner.setdefault(raw.parts[0], name)
    return tuple(owner.get(part, part) for part in RAW_ASSETS[asset].parts if owner.get(part) != asset)


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
    rounds: dict[str, Round] = field(default_factory=dict)  # raw asset (users, groups, ...) -> its round
    secret_expiry: SecretExpiry | None = None
    secret_expiry_warning: str | None = None  # near or past its end date, or not readable
    files: dict[str, WrittenFile] = field(default_factory=dict)  # raw asset -> the file this run wrote
    issued_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    pull: Pull | None = None  # the data itself, for the records step (released by it)
    delta: Delta | None = None  # every round incremental: what the records step rebuilds

    def arrived(self, asset: str) -> bool:
        report = self.reports.get(asset)
        return report is not None and report.error is None


def _failure(pull: Pull, asset: str) -> str | None:
    errors = {p: pull.failed[p] for p in RAW_ASSETS[asset].parts if p in pull.failed}
    if len(set(errors.values())) == 1:  # one cause (e.g. the endpoint unreachable): said as it is
        return next(iter(errors.values()))
    return "; ".join(error if p == asset else f"{p}: {error}" for p, error in errors.items()) or None


def _stats_for(client: GraphClient, parts: tuple[str, ...]) -> GraphStats:
    total = GraphStats()
    for part in parts:
        stats = client.part_stats.get(part, GraphStats())
        total.requests += stats.requests
        total.resource_units += stats.resource_units
        total.throttled += stats.throttled
        total.retries += stats.retries
    return total


@dataclass
class Delta:
    """A run whose users, groups, roles and units rounds were all incremental: the snapshot
    tables after it, and the users and groups whose records may differ (`touched`)."""

    applied: dict[str, Applied]
    memberships: MembershipUpdate
    assignments: pa.Table
    touched: set[str]


def _base_tables(store: Store, connector: str, base: SnapshotBase) -> dict[str, pa.Table]:
    """The committed tables the links in `base` were issued for, read as Arrow (not parsed). A
    file that cannot be read as committed turns its entity's round into a named full resync."""
    folder, tables = store.folder(connector, "raw"), {}
    for entity in list(base.links):
        try:
            for name in SNAPSHOT_FILES[entity]:
                if name not in tables:
                    committed = base.files[name]
                    table = folder.read_table(committed.name, committed.token, committed.rows)
                    schema = MEMBERSHIP_SCHEMA if name == "memberships" else OBJECT_SCHEMA
                    missing = [c for c in schema.names if c not in table.column_names]
                    if missing:
                        raise SnapshotFileError(
                            f"raw file {folder.describe(committed.name, committed.token)} has no column {missing[0]}"
                        )
                    tables[name] = table
        except (SnapshotFileError, KeyError) as error:
            log.warning("%s: the snapshot its delta link belongs to cannot be used (%s): full resync", entity, error)
            base.resync[entity] = f"the snapshot its delta link belongs to cannot be used ({error}): full resync"
            del base.links[entity]
    return tables


def _committed_assignments(store: Store, connector: str) -> pa.Table | None:
    """The assignments the last delivered user and group records were built from; None if
    there are none or they cannot be read (every record is then rebuilt)."""
    try:
        committed = store.committed_files(connector, "raw").get("app_role_assignments")
        if committed is None:
            return None
        return store.folder(connector, "raw").read_table(committed.name, committed.token, committed.rows)
    except (SnapshotFileError, StoreDamaged) as error:
        log.warning("the committed app role assignments cannot be read (%s): every record is rebuilt", error)
        return None


def _report_repairs(repairs: list[Repair], shown: int = 50) -> None:
    """Each object whose text was repaired on the way in (graph/decode.py), by name: it is stored
    and sent repaired, the run is not the worse for it, and the operator can fix the source."""
    for repair in repairs[:shown]:
        log.warning("text repaired: %s", repair)
    if len(repairs) > shown:
        log.warning("text repaired in %d more values (the first %d are listed above)", len(repairs) - shown, shown)


def _report_total(connector: Connector, total: GraphStats, seconds: float) -> None:
    """The pull's whole Graph cost, once, in words: parts that failed and the client secret's
    expiry included, which the per-asset figures do not show. `graph_total` carries the figures
    for the CLI's table."""
    log.info(
        "pull of %s: %d Graph requests, %d resource units, %d answered 429, %d retried, in %.1f s",
        connector.name,
        total.requests,
        total.resource_units,
        total.throttled,
        total.retries,
        seconds,
        extra={"graph_total": {**total.as_metadata(), "seconds": round(seconds, 1)}},
    )


@without_cyclic_gc
def collect(
    connector: Connector, store: Store, settings: ClientSettings | None = None, full: bool = False
) -> Collection:
    """Pull the tenant and write every raw asset whose data arrived whole as a new file. An
    asset whose part failed is not written: the committed snapshot stays as it was.

    Users and groups are delta rounds from the committed links unless `full` (or no link is
    usable with the committed snapshot); the links this pull brings are committed by the
    run's commit, after the destination has the changes."""
    started = time.monotonic()
    issued_at = dt.datetime.now(dt.UTC)
    secret = connector.secret(store.home)
    wanted = raw_assets_for(connector.asset_types)
    base = (
        SnapshotBase() if full else store.snapshot_base(connector.name, issued_at, SNAPSHOT_FILES, connector.graph_host)
    )
    tables = _base_tables(store, connector.name, base)
    links = dict(base.links)

    pulled: list[tuple[Pull, GraphClient, tuple[SecretExpiry | None, str | None]]] = []

    # The result is handed out through `pulled`, not returned: Python 3.11's asyncio.run builds
    # repr() of the finished main task, result included, when it restores the SIGINT handler,
    # and the repr of a whole tenant cost 3-6 s of CPU at 100k users (profile in BENCHMARKS.md).
    async def pull() -> None:
        quiet_stopped_tasks(asyncio.get_running_loop())
        async with GraphClient(connector, secret, settings) as client:
            plan = SetBasedPlan(client, plan_parts(connector.asset_types), links)
            result = await plan.run()
            # With the pull's client and token: when the secret itself expires (1 request).
            expiry = await note_secret_expiry(client, connector, store, secret.get_secret_value())
            pulled.append((result, client, expiry))

    with stoppable():  # a stop lands in the HTTP stack: said as a stop, not a library's error
        asyncio.run(pull())
    [(result, client, (expiry, expiry_warning))] = pulled
    _report_repairs(client.repairs)
    folder, token = store.folder(connector.name, "raw"), new_token()
    snapshot = _apply(result, tables, wanted)
    reports: dict[str, AssetReport] = {}
    files: dict[str, WrittenFile] = {}
    for asset in wanted:
        stats = _stats_for(client, RAW_ASSETS[asset].parts)
        error = _failure(result, asset)
        if error:
            reports[asset] = AssetReport(None, error, stats)
            continue
        if asset in tables and snapshot.tables.get(asset) is tables[asset]:
            committed = base.files[asset]  # nothing changed: the committed file stays, under its token
            files[asset] = WrittenFile("raw", asset, committed.token, committed.rows)
        elif asset in snapshot.tables:
            files[asset] = folder.write_table(asset, token, snapshot.tables[asset])
        else:
            files[asset] = folder.write_objects(asset, token, result.objects.get(RAW_ASSETS[asset].source, []))
        reports[asset] = AssetReport(files[asset].rows, None, stats)
        checkpoint(f"raw:{asset}:written")
    for entity, round_ in result.rounds.items():
        if round_.reason is None and entity in base.resync:
            round_.reason = base.resync[entity]
    # A link can be committed only with every snapshot file holding its changes.
    brought = {
        entity: link
        for entity, link in result.delta_links.items()
        if link and all(a in files for a in SNAPSHOT_FILES[entity])
    }
    checkpoint("raw:all:written")
    delta = _delta(store, connector.name, result, snapshot)
    rounds = {OBJECT_FILES[entity]: round_ for entity, round_ in result.rounds.items()}  # by raw asset
    _report_total(connector, client.stats, time.monotonic() - started)
    return Collection(
        reports,
        brought,
        time.monotonic() - started,
        client.stats,
        rounds,
        expiry,
        expiry_warning,
        files,
        issued_at,
        result,
        delta,
    )


@dataclass
class NewSnapshot:
    """The raw tables after a pull (raw asset -> table), and how each delta entity's got there."""

    tables: dict[str, pa.Table]
    applied: dict[str, Applied]
    memberships: MembershipUpdate | None


def _apply(pull: Pull, tables: dict[str, pa.Table], wanted: tuple[str, ...]) -> NewSnapshot:
    """Each delta entity's round applied to its committed table (incremental rounds) or on its
    own (full rounds); the memberships of all three container kinds; the assignments as a table."""
    snapshot = NewSnapshot({}, {}, None)
    for entity, name in OBJECT_FILES.items():
        if entity in pull.failed or entity not in pull.changes or name not in wanted:
            continue
        incremental = pull.rounds[entity].mode == "delta"
        snapshot.applied[entity] = apply_objects(tables.get(name) if incremental else None, pull.changes[entity])
        snapshot.tables[name] = snapshot.applied[entity].table
    if not any(part in pull.failed for part in MEMBERSHIP_PARTS):
        snapshot.memberships = apply_memberships(
            tables.get("memberships"),
            {entity: (pull.changes[entity], pull.rounds[entity].mode != "delta") for entity in MEMBERSHIP_PARTS},
        )
        snapshot.tables["memberships"] = snapshot.memberships.table
    if "appRoleAssignments" not in pull.failed:
        snapshot.tables["app_role_assignments"] = assignment_table(pull.app_role_assignments)
    return snapshot


def _delta(store: Store, connector: str, pull: Pull, snapshot: NewSnapshot) -> Delta | None:
    """What the records step needs to rebuild only what changed; None when it must rebuild all
    (a round was full, a part failed, or the committed assignments cannot be compared)."""
    incremental = (
        set(snapshot.applied) == set(DELTA_PARTS)
        and snapshot.memberships is not None
        and "app_role_assignments" in snapshot.tables
        and all(pull.rounds[e].mode == "delta" for e in DELTA_PARTS)
    )
    old = _committed_assignments(store, connector) if incremental else None
    if old is None:
        for entity, entry in snapshot.applied.items():  # a full rebuild reads every object
            if pull.rounds[entity].mode == "delta":
                pull.objects[entity] = all_objects(entry.table)
        if snapshot.memberships is not None and any(pull.rounds[e].mode == "delta" for e in MEMBERSHIP_PARTS):
            pull.memberships = snapshot.memberships.table.to_pylist()
        return None
    new = snapshot.tables["app_role_assignments"]
    principals = changed_assignment_principals(old, new)
    return Delta(
        snapshot.applied, snapshot.memberships, new, touched(snapshot.applied, snapshot.memberships, principals)
    )
