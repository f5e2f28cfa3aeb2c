"""From raw assets to Qualys records, per entity, with the spec's maps. A record missing a
Required field is not produced: it is reported with the object's id and the reason.

After a delta run whose rounds were all incremental, only the users and groups the changes
touched are rebuilt (collect.Delta): the destination gets only them, with the ids of the whole
set, so it removes exactly what a full delivery would."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from ..config import Connector
from ..entities import ENTITIES, RAW_ASSETS, entities_for
from ..graph.collect import Collection, Delta
from ..graph.snapshot import all_objects, objects_with, rows_with
from ..jsontext import json_text
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..store.files import RECORD_SCHEMA, DataFolder, WrittenFile
from .engine import apply
from .maps import MAPS
from .sources import user_and_group_sources

log = logging.getLogger(__name__)


@dataclass
class EntityRecords:
    count: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (object id, reason)
    skipped: str | None = None  # why no records were built this run
    rows: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (vendor asset id, canonical JSON)
    file: WrittenFile | None = None
    # Incremental: `rows` are only the rebuilt records (and the file only them), `present` the
    # vendor ids of the whole set (anything else the destination holds is absent), `count` its size.
    incremental: bool = False
    present: set[str] = field(default_factory=set, repr=False)


@without_cyclic_gc
def build_records(
    connector: Connector, collection: Collection, folder: DataFolder, token: str
) -> dict[str, EntityRecords]:
    """Records of every entity whose inputs all arrived in `collection`, from the pulled data
    itself (which is released here: the records are what goes on)."""
    pull, collection.pull = collection.pull, None
    assert pull is not None, "a collection's data goes to one records step"
    delta, collection.delta = collection.delta, None
    objects = {name: pull.objects.get(raw.source, []) for name, raw in RAW_ASSETS.items() if raw.source}
    results: dict[str, EntityRecords] = {}
    sources: dict[str, Iterable[dict]] = {}
    for entity in entities_for(connector.asset_types):
        inputs = ENTITIES[entity].inputs
        missing = [name for name in inputs if not collection.arrived(name)]
        if missing:
            reason = "; ".join(f"{name}: {_why(collection, name)}" for name in missing)
            results[entity] = EntityRecords(skipped=f"raw data incomplete ({reason})")
            continue
        if entity in ("users", "groups") and not sources:
            if delta is not None:
                sources["users"], sources["groups"] = _touched_sources(delta)
            else:
                sources["users"], sources["groups"] = user_and_group_sources(
                    objects["users"],
                    objects["groups"],
                    objects["directory_roles"],
                    objects["administrative_units"],
                    pull.membership_rows(),
                    pull.app_role_assignments,
                )
        documents = sources[entity] if entity in sources else objects[inputs[0]]
        if delta is not None and entity in ("users", "groups"):
            results[entity] = _rebuilt(folder, token, entity, documents, delta.applied[entity].table)
        else:
            results[entity] = _transform(folder, token, entity, documents)
    return results


def _touched_sources(delta: Delta) -> tuple[Iterator[dict], Iterator[dict]]:
    """Source documents of the touched users and groups only, from the tables filtered by id:
    their objects, their memberships, the containers those name, and their assignments."""
    users = objects_with(delta.applied["users"].table, delta.touched)
    groups_table = delta.applied["groups"].table
    groups = objects_with(groups_table, delta.touched)
    user_ids, group_ids = {u["id"] for u in users}, {g["id"] for g in groups}
    memberships = rows_with(delta.memberships.table, "member_id", user_ids | group_ids)
    in_groups = {m["container_id"] for m in memberships if m["container_type"] == "group"}
    containers = groups + objects_with(groups_table, in_groups - group_ids)
    direct = {m["container_id"] for m in memberships if m["container_type"] == "group" and m["member_id"] in user_ids}
    assignments = rows_with(delta.assignments, "principalId", user_ids | group_ids | direct)
    user_docs, group_docs = user_and_group_sources(
        users,
        containers,
        all_objects(delta.applied["directoryRoles"].table),
        all_objects(delta.applied["administrativeUnits"].table),
        memberships,
        assignments,
    )
    return user_docs, (doc for doc in group_docs if doc["id"] in group_ids)


def _rebuilt(
    folder: DataFolder, token: str, entity: str, documents: Iterable[dict], objects: pa.Table
) -> EntityRecords:
    """The touched objects' records, and the set they belong to: every object of the new table
    but those whose record is refused (what the destination must hold; anything else it holds
    is absent). The record file holds what this run rebuilt."""
    result = EntityRecords(incremental=True)
    _map_all(result, entity, documents)
    result.present = set(objects["id"].to_pylist()) - {vendor_id for vendor_id, _ in result.rejected}
    result.file = folder.write_table(entity, token, _record_table(result.rows))
    checkpoint(f"records:{entity}:written")
    result.count = len(result.present)
    return result


def _why(collection: Collection, name: str) -> str:
    report = collection.reports.get(name)
    return (report.error if report else None) or "never fetched"


def _transform(folder: DataFolder, token: str, entity: str, documents: Iterable[dict]) -> EntityRecords:
    result = EntityRecords()
    _map_all(result, entity, documents)
    result.file = folder.write_table(entity, token, _record_table(result.rows))
    checkpoint(f"records:{entity}:written")
    result.count = len(result.rows)
    return result


def _map_all(result: EntityRecords, entity: str, documents: Iterable[dict]) -> None:
    for document in documents:
        outcome = apply(MAPS[entity], document)
        if outcome.record is None:
            reason = "; ".join(outcome.problems)
            result.rejected.append((outcome.vendor_asset_id or "(no id)", reason))
            log.warning("%s %s not sent: %s", entity, outcome.vendor_asset_id or "(no id)", reason)
            continue
        result.rows.append((outcome.vendor_asset_id, canonical_json(outcome.record)))


def _record_table(rows: list[tuple[str, str]]) -> pa.Table:
    ids_, texts = zip(*rows, strict=True) if rows else ((), ())
    return pa.table({"vendor_asset_id": list(ids_), "record": list(texts)}, schema=RECORD_SCHEMA)


def canonical_json(record: dict) -> str:
    """One text per record content (sorted keys), so the inventory compares texts, not objects."""
    return json_text(record, sort_keys=True)
