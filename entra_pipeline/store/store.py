"""The store: one interface to everything a connector remembers between runs.

Nothing outside this package spells a state path or a table: the pipeline, the sensors and
the CLI ask the store. Rows are checked when read; a row that is not what it should be raises
`StoreDamaged` naming the table, the connector and the remedy (or, for the delta state, makes
the run pull that entity in full, said in its metadata).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ValidationError

from .. import redact
from ..killpoints import checkpoint
from . import legacy
from .database import Database, StoreDamaged, StoreError, put, store_url
from .files import DataFolder, SnapshotFileError, WrittenFile, to_json
from .lease import Lease, LeaseInfo, acquire, current
from .schema import (
    PER_CONNECTOR,
    SCHEMA_VERSION,
    anchors,
    baselines,
    delta_links,
    leases,
    meta,
    metadata,
    qualys_delivered,
    qualys_progress,
    records,
    snapshot_files,
    status,
)
from .storage import DataUnavailable, data_url, open_storage

log = logging.getLogger(__name__)

MAX_LINK_AGE = dt.timedelta(days=7)  # Graph keeps delta tokens about 7 days (docs/delta.md)
SYNC_FULL = "run `entra-pipeline sync --full --connector {c}` (or launch a baseline in the UI): it replaces it"


class _Link(BaseModel):
    link: str
    issued_at: AwareDatetime
    snapshot: dict[str, str]


@dataclass(frozen=True)
class CommittedFile:
    name: str
    token: str
    rows: int


@dataclass
class SnapshotBase:
    """The delta links a run may start from, each with the committed files it was issued for."""

    links: dict[str, str] = field(default_factory=dict)
    files: dict[str, CommittedFile] = field(default_factory=dict)
    resync: dict[str, str] = field(default_factory=dict)  # entity -> why it is pulled in full


@dataclass
class RunCommit:
    """What a run makes current, in one transaction, once the destination confirmed."""

    run_id: str
    files: list[WrittenFile]
    links: dict[str, tuple[str, dt.datetime, dict[str, str]]]  # entity -> (link, issued_at, {file: token})
    baseline_cycle: str | None
    status_document: str


class Store:
    def __init__(self, home: Path, url: str | None = None, data: str | None = None) -> None:
        self.home = home
        self.db = Database(url or store_url(home))
        self.data = open_storage(data or data_url(home))
        self.imported: list[str] = []  # what a first use imported from an older home folder
        self._ready()

    def describe(self) -> str:
        return self.db.describe()

    def describe_data(self) -> str:
        return redact.mask(self.data.url)

    # ------------------------------------------------------------------ schema
    def _ready(self) -> None:
        """Create the tables on first use; refuse a store of another version with its remedy."""
        found = self.schema_version()
        if found is None:
            self.imported = self.upgrade()
        elif found > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.describe()} is at schema version {found}, newer than this "
                f"entra-pipeline ({SCHEMA_VERSION}): upgrade entra-pipeline"
            )
        elif found < SCHEMA_VERSION:
            if not self.db.sqlite:
                raise StoreError(
                    f"the store {self.describe()} is at schema version {found}; this entra-pipeline "
                    f"needs {SCHEMA_VERSION}. Remedy: run `entra-pipeline store upgrade`"
                )
            self.upgrade()

    def schema_version(self) -> int | None:
        with self.db.read() as connection:
            if not sa.inspect(connection).has_table("meta", schema=self.db.schema):
                return None
            value = connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        try:
            return int(value) if value is not None else None
        except ValueError:
            raise StoreDamaged(
                f"the store {self.describe()} has a schema version of {value!r}. Remedy: "
                "restore it from a backup, or run `entra-pipeline store upgrade`"
            ) from None

    def upgrade(self) -> list[str]:
        """Create or migrate the tables, then import an older home folder's files once."""
        with self.db.write() as connection:
            if self.db.schema:
                connection.execute(sa.schema.CreateSchema(self.db.schema, if_not_exists=True))
            metadata.create_all(connection)
            _put(connection, meta, {"key": "schema_version"}, {"value": str(SCHEMA_VERSION)})
        return legacy.import_home(self)

    # ------------------------------------------------------------------ lease
    def lease(self, connector: str, run_id: str, launched_by: str, wait: float | None = None) -> Lease:
        return acquire(self.db, connector, run_id, launched_by, wait)

    def lease_holder(self, connector: str) -> tuple[LeaseInfo | None, bool]:
        """Who holds the connector, and whether that lease has expired."""
        with self.db.read() as connection:
            held = current(self.db, connection, connector)
            return held, held is not None and held.expired(self.db.now(connection))

    def release_expired(self, connector: str, info: LeaseInfo) -> bool:
        """Remove a lease whose holder stopped heartbeating (the reaper); False if it moved on."""
        with self.db.write() as connection:
            held = current(self.db, connection, connector, lock=True)
            if held is None or held.holder != info.holder or not held.expired(self.db.now(connection)):
                return False
            connection.execute(leases.delete().where(leases.c.connector == connector, leases.c.holder == info.holder))
            return True

    # ------------------------------------------------------------------ snapshot and delta links
    def folder(self, connector: str, stage: str) -> DataFolder:
        return DataFolder(self.data, connector, stage)

    def committed_files(self, connector: str, stage: str) -> dict[str, CommittedFile]:
        with self.db.read() as connection:
            rows = connection.execute(
                sa.select(snapshot_files).where(
                    snapshot_files.c.connector == connector, snapshot_files.c.stage == stage
                )
            ).all()
        files = {}
        for row in rows:
            if not isinstance(row.token, str) or not isinstance(row.rows, int):
                raise StoreDamaged(
                    f"snapshot_files row {connector}/{stage}/{row.name} is not a file reference "
                    f"(token {row.token!r}, rows {row.rows!r}). Remedy: {SYNC_FULL.format(c=connector)}"
                )
            files[row.name] = CommittedFile(row.name, row.token, row.rows)
        return files

    def snapshot_base(
        self, connector: str, now: dt.datetime, needs: dict[str, tuple[str, ...]], graph: str
    ) -> SnapshotBase:
        """The links a delta run may use: young enough, naming the configured Graph endpoint
        `graph`, and issued for files that are still the committed ones and still on disk
        unchanged. Anything else is a named full resync."""
        base = SnapshotBase()
        with self.db.read() as connection:
            rows = connection.execute(sa.select(delta_links).where(delta_links.c.connector == connector)).all()
        try:
            files = self.committed_files(connector, "raw")
        except StoreDamaged as error:
            return SnapshotBase(resync={entity: f"{error}: full resync" for entity in needs})
        for row in rows:
            if row.entity not in needs:
                continue
            try:
                entry = _Link(link=row.link, issued_at=row.issued_at, snapshot=json.loads(row.snapshot))
            except (ValidationError, ValueError, TypeError) as error:
                base.resync[row.entity] = f"its stored delta link is damaged ({_first_error(error)}): full resync"
                continue
            age = now - entry.issued_at
            if age > MAX_LINK_AGE:
                base.resync[row.entity] = f"deltaLink is {age.days} days old (Graph keeps them 7 days): full resync"
                continue
            if age < -dt.timedelta(minutes=5):
                base.resync[row.entity] = (
                    f"its delta link is dated {entry.issued_at.isoformat()}, in the future "
                    "(clock or restored state): full resync"
                )
                continue
            if _origin(entry.link) != _origin(graph):
                base.resync[row.entity] = (
                    f"its delta link names {_origin(entry.link)}, not the configured Graph "
                    f"endpoint {_origin(graph)} (the endpoint changed): full resync"
                )
                continue
            problem = self._snapshot_problem(connector, needs[row.entity], entry.snapshot, files)
            if problem:
                base.resync[row.entity] = (
                    f"the snapshot its delta link belongs to is not there ({problem}): full resync"
                )
                continue
            base.links[row.entity] = entry.link
            base.files.update({name: files[name] for name in needs[row.entity]})
        return base

    def _snapshot_problem(
        self, connector: str, names: tuple[str, ...], issued_with: dict[str, str], files: dict[str, CommittedFile]
    ) -> str | None:
        folder = self.folder(connector, "raw")
        for name in names:
            committed = files.get(name)
            if committed is None or issued_with.get(name) != committed.token:
                return f"{name}: the committed file is not the one the link was issued with"
            if not folder.exists(name, committed.token):
                return f"{folder.describe(name, committed.token)} is missing"
        return None

    def delta_links(self, connector: str) -> dict[str, dict[str, str]]:
        """The committed links as stored (entity -> link, issued_at), for `status` and tests."""
        with self.db.read() as connection:
            return {
                row.entity: {"link": row.link, "issued_at": row.issued_at}
                for row in connection.execute(sa.select(delta_links).where(delta_links.c.connector == connector))
            }

    def read_objects(self, connector: str, committed: CommittedFile) -> list[dict[str, Any]]:
        return self.folder(connector, "raw").read_objects(committed.name, committed.token, committed.rows)

    def committed_objects(self, connector: str, name: str) -> list[dict[str, Any]]:
        """The objects of a committed raw file (for inspection, tests and benchmarks); [] if none."""
        committed = self.committed_files(connector, "raw").get(name)
        return self.read_objects(connector, committed) if committed else []

    def read_rows(self, connector: str, committed: CommittedFile) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (
            self.folder(connector, "raw").read_table(committed.name, committed.token, committed.rows).to_pylist()
        )
        return rows

    def commit_run(self, lease: Lease, connector: str, commit: RunCommit) -> None:
        """The run's end: its files, links, baseline entry and outcome become current together."""
        now = dt.datetime.now(dt.UTC).isoformat()
        with self.db.write() as connection:
            lease.check(connection)
            for written in commit.files:
                _put(
                    connection,
                    snapshot_files,
                    {"connector": connector, "stage": written.stage, "name": written.name},
                    {"token": written.token, "rows": written.rows, "run_id": commit.run_id, "written_at": now},
                )
            for entity, (link, issued_at, issued_with) in commit.links.items():
                _put(
                    connection,
                    delta_links,
                    {"connector": connector, "entity": entity},
                    {"link": link, "issued_at": issued_at.isoformat(), "snapshot": to_json(issued_with)},
                )
            if commit.baseline_cycle:
                _put(
                    connection,
                    baselines,
                    {"connector": connector, "cycle": commit.baseline_cycle},
                    {"run_id": commit.run_id, "at": now},
                )
            _put(connection, status, {"connector": connector}, {"document": commit.status_document})
            checkpoint("store:commit:mid-transaction")
        try:
            self.remove_uncommitted(connector)
        except DataUnavailable as error:
            # committed already: what is left over is removed by the connector's next run
            log.warning("older data files of %s not removed yet: %s", connector, error)

    def remove_uncommitted(self, connector: str) -> None:
        """Delete data files no committed row names (older versions, crashed runs' files). Only
        the lease holder calls this: no other run of the connector is writing files."""
        for stage in ("raw", "records"):
            try:
                files = self.committed_files(connector, stage)
            except StoreDamaged:
                continue
            folder = self.folder(connector, stage)
            folder.remove_all_but({folder.key(f.name, f.token) for f in files.values()})

    # ------------------------------------------------------------------ baseline ledger
    def baseline_runs(self, connector: str) -> dict[str, str]:
        """Cycle -> the run that did its baseline."""
        with self.db.read() as connection:
            return {
                row.cycle: str(row.run_id)
                for row in connection.execute(sa.select(baselines).where(baselines.c.connector == connector))
            }

    def anchor(self, connector: str) -> str | None:
        with self.db.read() as connection:
            return connection.execute(sa.select(anchors.c.anchor).where(anchors.c.connector == connector)).scalar()

    def set_anchor(self, connector: str, value: str, replace: bool = False) -> str:
        """Keep the first anchor written (two first sightings at once agree on one), unless
        `replace` (a damaged one)."""
        with self.db.write() as connection:
            found = connection.execute(sa.select(anchors.c.anchor).where(anchors.c.connector == connector)).scalar()
            if replace:
                _put(connection, anchors, {"connector": connector}, {"anchor": value})
                return value
            if found is None:
                connection.execute(anchors.insert().values(connector=connector, anchor=value))
                return value
            return str(found)

    # ------------------------------------------------------------------ documents: status, secret expiry
    def document(self, table: sa.Table, connector: str) -> str | None:
        with self.db.read() as connection:
            return connection.execute(sa.select(table.c.document).where(table.c.connector == connector)).scalar()

    def put_document(self, table: sa.Table, connector: str, document: str, lease: Lease | None = None) -> None:
        with self.db.write() as connection:
            if lease is not None:
                lease.check(connection)
            _put(connection, table, {"connector": connector}, {"document": document})

    # ------------------------------------------------------------------ Qualys ledgers
    def qualys_progress(self, connector: str) -> dict[str, dict[str, Any]]:
        with self.db.read() as connection:
            rows = connection.execute(sa.select(qualys_progress).where(qualys_progress.c.connector == connector)).all()
        state = {}
        for row in rows:
            try:
                state[row.entity] = {
                    "digest": row.digest,
                    "accepted": [int(i) for i in json.loads(row.accepted)],
                    "total": int(row.total),
                }
            except (ValueError, TypeError):  # damaged: its batches are sent again (the gateway upserts)
                log.warning("qualys_progress row %s/%s is damaged: its batches are sent again", connector, row.entity)
        return state

    def record_batch(
        self, connector: str, entity: str, digest: str, accepted: list[int], total: int, lease: Lease | None
    ) -> None:
        with self.db.write() as connection:
            if lease is not None:
                lease.check(connection)
            _put(
                connection,
                qualys_progress,
                {"connector": connector, "entity": entity},
                {"digest": digest, "accepted": to_json(accepted), "total": total},
            )

    def qualys_delivered(self, connector: str) -> dict[str, dict[str, dict[str, Any]]]:
        state: dict[str, dict[str, dict[str, Any]]] = {}
        with self.db.read() as connection:
            for row in connection.execute(sa.select(qualys_delivered).where(qualys_delivered.c.connector == connector)):
                try:
                    state.setdefault(row.entity, {})[row.vendor_asset_id] = json.loads(row.identity)
                except ValueError:  # its removal cannot be sent without its identity; the entity's next set replaces it
                    log.warning(
                        "qualys_delivered row %s/%s/%s is damaged: no removal can be sent for it",
                        connector,
                        row.entity,
                        row.vendor_asset_id,
                    )
        return state

    def replace_delivered(
        self, connector: str, entity: str, identities: dict[str, dict[str, Any]], lease: Lease | None
    ) -> None:
        with self.db.write() as connection:
            if lease is not None:
                lease.check(connection)
            connection.execute(
                qualys_delivered.delete().where(
                    qualys_delivered.c.connector == connector, qualys_delivered.c.entity == entity
                )
            )
            if identities:
                connection.execute(
                    qualys_delivered.insert(),
                    [
                        {"connector": connector, "entity": entity, "vendor_asset_id": vid, "identity": to_json(ident)}
                        for vid, ident in identities.items()
                    ],
                )

    # ------------------------------------------------------------------ the connector as a whole
    def connectors(self) -> list[str]:
        names: set[str] = set()
        with self.db.read() as connection:
            for table in PER_CONNECTOR:
                names |= set(connection.execute(sa.select(table.c.connector).distinct()).scalars())
        return sorted(names)

    def forget(self, connector: str) -> int:
        """Remove everything of a deleted connector; returns how many inventory records went."""
        with self.db.write() as connection:
            removed = connection.execute(
                sa.select(sa.func.count()).select_from(records).where(records.c.connector == connector)
            ).scalar_one()
            for table in PER_CONNECTOR:
                connection.execute(table.delete().where(table.c.connector == connector))
        self.data.remove_tree(connector)
        return removed

    def tables(self) -> Iterator[tuple[sa.Table, list[sa.Row[Any]]]]:
        with self.db.read() as connection:
            for table in PER_CONNECTOR:
                yield table, list(connection.execute(sa.select(table)).all())


def _put(connection: sa.Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert or replace one row."""
    put(connection, table, [{**key, **values}], list(key), list(values))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error).splitlines()[0]


_STORES: dict[tuple[int, str], Store] = {}


def open_store(home: Path) -> Store:
    """The store of this home folder (or of ENTRA_PIPELINE_STORE, with its data in
    ENTRA_PIPELINE_DATA), one per process."""
    url, data = store_url(home), data_url(home)
    key = (os.getpid(), f"{home}|{url}|{data}")
    found = _STORES.get(key)
    if found is None:
        found = _STORES[key] = Store(home, url, data)
    return found


def forget_stores() -> None:
    """Tests replace a store file under a running process: drop what is open."""
    for store in _STORES.values():
        store.db.dispose()
    _STORES.clear()


__all__ = [
    "Store",
    "open_store",
    "StoreError",
    "StoreDamaged",
    "SnapshotFileError",
    "RunCommit",
    "SnapshotBase",
    "CommittedFile",
]
