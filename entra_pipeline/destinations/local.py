"""The local inventory: the embedded default destination. A table of the connector store holding
the current records per connector and entity, upserted by vendor asset id;
a full delivery also removes what the entity no longer has. Each entity is applied in one
transaction, so a run killed mid-way leaves the previous state or the new one."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..killpoints import checkpoint
from ..store.schema import records as table
from ..transform.records import canonical_json
from .protocol import INVENTORY_FIGURES, DeliveryReport

if TYPE_CHECKING:
    from ..config import Connector
    from ..store import Lease, Store


class InventoryDestination:
    """The local inventory as a run's destination (protocol.Destination): one transaction per
    entity, fenced by the run's lease."""

    def __init__(self, connector: Connector, store: Store, lease: Lease | None) -> None:
        self.inventory, self.connector, self.lease = LocalInventory(store), connector.name, lease

    def deliver(
        self, entity: str, rows: list[tuple[str, str]], present: set[str] | None, remove_absent: bool
    ) -> DeliveryReport:
        return self.inventory.apply(self.connector, entity, rows, remove_absent, self.lease, present)

    def close(self) -> None:
        pass  # the store is the run's, closed by it


class LocalInventory:
    """The `records` table of the connector store (SQLite in the home folder, or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store, self.db = store, store.db

    def apply(
        self,
        connector: str,
        entity: str,
        records: Iterable[tuple[str, dict | str]],
        remove_absent: bool,
        lease: Lease | None = None,
        present: set[str] | None = None,
    ) -> DeliveryReport:
        """Upsert the records (objects, or their canonical JSON text); ids not among them are deleted
        if `remove_absent`, else kept as they were (Retain Previously Ingested Delta). With
        `present` (the ids of the whole set), the records are only the rebuilt ones: only their
        stored texts are read, and the ids absent from `present` are what is deleted or kept. One
        transaction, fenced by the run's lease: a run that lost it changes nothing."""
        result = DeliveryReport(INVENTORY_FIGURES)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        where = (table.c.connector == connector, table.c.entity == entity)
        texts = [
            (vendor_id, record if isinstance(record, str) else canonical_json(record)) for vendor_id, record in records
        ]
        with self.db.write() as connection:
            if lease is not None:
                lease.check(connection)
            current = self._current(connection, where, None if present is None else [v for v, _ in texts])
            incoming, changed = set(), []
            inserted = updated = unchanged = 0
            stored_text = current.get
            for vendor_id, text in texts:
                incoming.add(vendor_id)
                stored = stored_text(vendor_id)  # never None for a stored id: the column is NOT NULL
                if stored is None:
                    inserted += 1
                elif stored != text:
                    updated += 1
                else:
                    unchanged += 1
                    continue
                changed.append((vendor_id, text))
            result.inserted, result.updated, result.unchanged = inserted, updated, unchanged
            # In key order (stable: a repeated id's last text still lands last): the primary key's
            # index is then written page after page, not at random places in it.
            try:
                changed.sort(key=_first)
            except TypeError:  # ids that do not compare (not all strings): as given
                pass
            for start in range(0, len(changed), 5000):
                _upsert(connection, connector, entity, now, changed[start : start + 5000])
            checkpoint(f"inventory:{entity}:mid-transaction")
            if present is None:
                gone = [vid for vid in current if vid not in incoming]
            else:
                stored = connection.execute(sa.select(table.c.vendor_asset_id).where(*where)).scalars()
                gone = [vid for vid in stored if vid not in present and vid not in incoming]
            if not remove_absent:
                result.retained = len(gone)
            elif gone:
                connection.execute(
                    table.delete().where(*where, table.c.vendor_asset_id == sa.bindparam("vid")),
                    [{"vid": vid} for vid in gone],
                )
                result.deleted = len(gone)
        return result

    @staticmethod
    def _current(connection: sa.Connection, where: tuple, named: list[str] | None) -> dict[str, str]:
        """The stored texts of the entity, or of the `named` ids only."""
        query = sa.select(table.c.vendor_asset_id, table.c.record).where(*where)
        if named is None:
            return dict(connection.execute(query).all())
        current: dict[str, str] = {}
        for start in range(0, len(named), 500):
            current.update(
                connection.execute(query.where(table.c.vendor_asset_id.in_(named[start : start + 500]))).all()
            )
        return current

    def export(self, connector: str, entity: str) -> Iterator[dict]:
        with self.db.read() as connection:
            for (text,) in connection.execute(
                sa.select(table.c.record)
                .where(table.c.connector == connector, table.c.entity == entity)
                .order_by(table.c.vendor_asset_id)
            ):
                yield json.loads(text)

    def count(self, connector: str, entity: str) -> int:
        with self.db.read() as connection:
            return connection.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.connector == connector, table.c.entity == entity)
            ).scalar_one()

    def search(self, query: str) -> list[dict]:
        filters = parse_search(query)
        rows = []
        with self.db.read() as connection:
            for connector, entity, vendor_id, text in connection.execute(
                sa.select(table.c.connector, table.c.entity, table.c.vendor_asset_id, table.c.record).order_by(
                    table.c.connector, table.c.entity
                )
            ):
                summary = summarize(connector, entity, vendor_id, json.loads(text))
                if all(_matches(summary.get(key, ""), pattern) for key, pattern in filters.items()):
                    rows.append(summary)
        return rows


def _first(pair: tuple[str, str]) -> str:
    return pair[0]


# SQLite's own statement, with plain tuples: what database.put sends, without SQLAlchemy building
# a parameter dict per row (a third of the upload's CPU at 50k records).
_SQLITE_UPSERT = (
    f"INSERT INTO {table.name} (connector, entity, vendor_asset_id, record, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (connector, entity, vendor_asset_id) DO UPDATE SET record = excluded.record, "
    "updated_at = excluded.updated_at"
)


def _upsert(connection: sa.Connection, connector: str, entity: str, now: str, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_SQLITE_UPSERT, [(connector, entity, vid, text, now) for vid, text in rows])
        return
    from ..store.database import put

    put(
        connection,
        table,
        [
            {"connector": connector, "entity": entity, "vendor_asset_id": vid, "record": text, "updated_at": now}
            for vid, text in rows
        ],
        ["connector", "entity", "vendor_asset_id"],
        ["record", "updated_at"],
    )


def summarize(connector: str, entity: str, vendor_id: str, record: dict) -> dict:
    asset = record.get("asset", {})
    content = record.get("thirdPartyObject", {}).get("content", {})
    return {
        "connector": connector,
        "entity": entity,
        "id": vendor_id,
        "source": "Microsoft",
        "name": asset.get("assetDetail", {}).get("name") or content.get("displayName") or "",
        "status": asset.get("assetHeader", {}).get("status", ""),
    }


# A key starts only where a word starts: tried inside a word, `\w+` would rescan its rest at
# every character, quadratic in a long query without colons.
SEARCH_TOKEN = re.compile(r'(?<!\w)(\w+):(?:"([^"]*)"|\(([^)]*)\)|(\S+))')


def parse_search(query: str) -> dict[str, str]:
    """`inventory:(source:"Microsoft") name:"Ada*" status:ACTIVE entity:users` -> field filters."""
    filters: dict[str, str] = {}
    for key, quoted, group, bare in SEARCH_TOKEN.findall(query):
        if key == "inventory":
            filters.update(parse_search(group))
            continue
        if key not in ("source", "name", "status", "entity", "connector", "id"):
            raise ValueError(f"unknown search field {key!r}: use source, name, status, entity, connector or id")
        filters[key] = quoted if quoted or not bare else bare
    if query.strip() and not filters:
        raise ValueError('no filter understood: try inventory:(source:"Microsoft") or name:"Ada*"')
    return filters


def _matches(value: object, pattern: str) -> bool:
    return wildcard_match(str(value), pattern)


def wildcard_match(value: str, pattern: str) -> bool:
    """`*` stands for any run of characters (newlines too), every other character for itself,
    case-insensitively. Greedy, left to right: the first piece must be a prefix, the last a
    suffix, and each middle piece is taken at its earliest place after the one before; an
    earlier place never leaves less room for the rest, so this is exact. Linear in the value,
    where the former regex (`.*` per star) backtracked: a 1 MB name against `*M*Q` took minutes."""
    value, pattern = value.casefold(), pattern.casefold()
    if "*" not in pattern:
        return value == pattern
    first, *middle, last = pattern.split("*")
    if len(first) + len(last) > len(value) or not value.startswith(first) or not value.endswith(last):
        return False
    position, end = len(first), len(value) - len(last)
    for piece in middle:
        found = value.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True
