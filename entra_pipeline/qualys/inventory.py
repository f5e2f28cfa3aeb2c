"""The local inventory: the embedded default destination. One SQLite database under the home
folder holding the current records per connector and entity, upserted by vendor asset id;
a full delivery also removes what the entity no longer has. Each entity is applied in one
transaction, so a run killed mid-way leaves the previous state or the new one."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..killpoints import checkpoint
from .records import canonical_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    connector TEXT NOT NULL,
    entity TEXT NOT NULL,
    vendor_asset_id TEXT NOT NULL,
    record TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connector, entity, vendor_asset_id)
);
"""


@dataclass
class Applied:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    retained: int = 0  # absent from the records, kept (Retain Previously Ingested Delta)


class LocalInventory:
    def __init__(self, home: Path) -> None:
        self.path = home / "inventory.sqlite"
        if not self.path.exists():
            home.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # owner-only from the start

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA)
        return connection

    def apply(self, connector: str, entity: str, records: Iterable[tuple[str, dict | str]],
              remove_absent: bool) -> Applied:
        """Upsert the records (objects, or their canonical JSON text); ids not among them are deleted
        if `remove_absent`, else kept as they were (Retain Previously Ingested Delta)."""
        result = Applied()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._connect() as connection:  # one transaction
            current = dict(connection.execute(
                "SELECT vendor_asset_id, record FROM records WHERE connector = ? AND entity = ?", (connector, entity)))
            incoming, changed = {}, []
            for vendor_id, record in records:
                text = record if isinstance(record, str) else canonical_json(record)
                incoming[vendor_id] = text
                if vendor_id not in current:
                    result.inserted += 1
                elif current[vendor_id] != text:
                    result.updated += 1
                else:
                    result.unchanged += 1
                    continue
                changed.append((connector, entity, vendor_id, text, now))
            connection.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                                   "record = excluded.record, updated_at = excluded.updated_at", changed)
            checkpoint(f"inventory:{entity}:mid-transaction")
            gone = [vid for vid in current if vid not in incoming]
            if not remove_absent:
                result.retained = len(gone)
            else:
                connection.executemany("DELETE FROM records WHERE connector = ? AND entity = ? AND vendor_asset_id = ?",
                                       [(connector, entity, vid) for vid in gone])
                result.deleted = len(gone)
        return result

    def forget(self, connector: str) -> int:
        """Remove every record of a deleted connector; returns how many."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM records WHERE connector = ?", (connector,)).rowcount

    def export(self, connector: str, entity: str) -> Iterator[dict]:
        with self._connect() as connection:
            for (text,) in connection.execute("SELECT record FROM records WHERE connector = ? AND entity = ? "
                                              "ORDER BY vendor_asset_id", (connector, entity)):
                yield json.loads(text)

    def count(self, connector: str, entity: str) -> int:
        with self._connect() as connection:
            return connection.execute("SELECT COUNT(*) FROM records WHERE connector = ? AND entity = ?",
                                      (connector, entity)).fetchone()[0]

    def search(self, query: str) -> list[dict]:
        filters = parse_search(query)
        rows = []
        with self._connect() as connection:
            for connector, entity, vendor_id, text in connection.execute(
                    "SELECT connector, entity, vendor_asset_id, record FROM records ORDER BY connector, entity"):
                summary = summarize(connector, entity, vendor_id, json.loads(text))
                if all(_matches(summary.get(key, ""), pattern) for key, pattern in filters.items()):
                    rows.append(summary)
        return rows


def summarize(connector: str, entity: str, vendor_id: str, record: dict) -> dict:
    asset = record.get("asset", {})
    content = record.get("thirdPartyObject", {}).get("content", {})
    return {"connector": connector, "entity": entity, "id": vendor_id, "source": "Microsoft",
            "name": asset.get("assetDetail", {}).get("name") or content.get("displayName") or "",
            "status": asset.get("assetHeader", {}).get("status", "")}


SEARCH_TOKEN = re.compile(r'(\w+):(?:"([^"]*)"|\(([^)]*)\)|(\S+))')


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


def _matches(value: str, pattern: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
    return re.match(regex, str(value), re.IGNORECASE) is not None
