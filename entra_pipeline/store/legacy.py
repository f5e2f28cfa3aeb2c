"""The one-time import of a home folder written before the store (JSON files under
`state/<connector>/` and `inventory.sqlite`): what cannot be pulled again from Graph is kept.

Imported: the local inventory's records, the baseline ledger and anchor, the connector's
state, the secret's expiry, the Qualys delivery ledger and batch progress. Not imported: the
delta links — the old files did not tie a link to the snapshot it was issued for, so the
first run after the import pulls users and groups in full (said in its metadata).
The imported files are renamed `*.imported`, so the import happens once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import to_json
from .schema import anchors, baselines, qualys_delivered, qualys_progress, records, secret_expiry, status

if TYPE_CHECKING:
    from .store import Store


def import_home(store: Store) -> list[str]:
    """Import what an older home folder holds; returns one line per thing imported or skipped."""
    from .database import put

    home = store.home
    state, inventory = home / "state", home / "inventory.sqlite"
    if not state.is_dir() and not inventory.is_file():
        return []
    said: list[str] = []
    with store.db.write() as connection:
        for folder in sorted(state.iterdir()) if state.is_dir() else []:
            connector = folder.name
            for name, rows in _connector_rows(folder, said):
                table, key, update = TABLES[name]
                put(connection, table, [{"connector": connector, **row} for row in rows], key, update)
                said.append(f"{connector}: {name} imported ({len(rows)} row(s))")
            if (folder / "delta.json").exists():
                said.append(f"{connector}: delta links not imported: its next run pulls users and groups in full")
        if inventory.is_file():
            rows = _inventory_rows(inventory, said)
            put(connection, records, rows, ["connector", "entity", "vendor_asset_id"], ["record", "updated_at"])
            said.append(f"local inventory imported ({len(rows)} record(s))")
    if state.is_dir():
        state.rename(home / "state.imported")
    if inventory.is_file():
        inventory.rename(home / "inventory.sqlite.imported")
        for suffix in ("-wal", "-shm"):
            Path(f"{inventory}{suffix}").unlink(missing_ok=True)
    return said


TABLES = {
    "baselines": (baselines, ["connector", "cycle"], ["run_id", "at"]),
    "anchor": (anchors, ["connector"], ["anchor"]),
    "status": (status, ["connector"], ["document"]),
    "secret expiry": (secret_expiry, ["connector"], ["document"]),
    "Qualys delivery ledger": (qualys_delivered, ["connector", "entity", "vendor_asset_id"], ["identity"]),
    "Qualys batch progress": (qualys_progress, ["connector", "entity"], ["digest", "accepted", "total"]),
}


def _json(path: Path, said: list[str]) -> object | None:
    if not path.exists():
        return None
    try:
        found: object = json.loads(path.read_text())
        return found
    except (OSError, ValueError) as error:
        said.append(f"{path} not imported: {error}")
        return None


def _connector_rows(folder: Path, said: list[str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    ledger = _json(folder / "baselines.json", said)
    if isinstance(ledger, dict):
        done = ledger.get("done") or {}
        yield (
            "baselines",
            [
                {"cycle": cycle, "run_id": str(entry.get("run_id")), "at": str(entry.get("at"))}
                for cycle, entry in done.items()
                if isinstance(entry, dict)
            ],
        )
        if isinstance(ledger.get("anchor"), str):
            yield "anchor", [{"anchor": ledger["anchor"]}]
    for file, name in (("status.json", "status"), ("secret-expiry.json", "secret expiry")):
        document = _json(folder / file, said)
        if isinstance(document, dict):
            yield name, [{"document": to_json(document)}]
    delivered = _json(folder / "qualys-delivered.json", said)
    if isinstance(delivered, dict):
        yield (
            "Qualys delivery ledger",
            [
                {"entity": entity, "vendor_asset_id": vid, "identity": to_json(identity)}
                for entity, held in delivered.items()
                if isinstance(held, dict)
                for vid, identity in held.items()
            ],
        )
    progress = _json(folder / "qualys-progress.json", said)
    if isinstance(progress, dict):
        yield (
            "Qualys batch progress",
            [
                {
                    "entity": entity,
                    "digest": str(entry.get("digest")),
                    "accepted": to_json(entry.get("accepted", [])),
                    "total": int(entry.get("total", 0)),
                }
                for entity, entry in progress.items()
                if isinstance(entry, dict)
            ],
        )


def _inventory_rows(path: Path, said: list[str]) -> list[dict[str, Any]]:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [
                {"connector": c, "entity": e, "vendor_asset_id": v, "record": r, "updated_at": u}
                for c, e, v, r, u in connection.execute(
                    "SELECT connector, entity, vendor_asset_id, record, updated_at FROM records"
                )
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        said.append(f"{path} not imported ({error}): the next runs deliver every record again")
        return []
