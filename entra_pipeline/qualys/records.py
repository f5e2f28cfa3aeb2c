"""From raw assets to Qualys records, per entity, with the spec's maps. A record missing a
Required field is not produced: it is reported with the object's id and the reason."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Iterable

import pyarrow as pa

from ..config import Connector
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..store.files import RECORD_SCHEMA, DataFolder, WrittenFile, json_text
from .engine import apply
from .maps import MAPS
from .sources import user_and_group_sources

from ..collect import RAW_ASSETS, Collection

log = logging.getLogger(__name__)

# entity -> the raw assets its records are built from (all must have arrived whole this run)
INPUTS = {
    "users": ("users", "groups", "directory_roles", "administrative_units", "memberships", "app_role_assignments"),
    "groups": ("groups", "directory_roles", "administrative_units", "memberships", "app_role_assignments"),
    "roles": ("roles",),
    "applications": ("applications",),
    "servicePrincipals": ("service_principals",),
    "tenant": ("tenant",),
}


def record_entities(connector: Connector) -> tuple[str, ...]:
    posture = connector.asset_types == "identities_with_security_posture"
    return ("users", "groups", "roles") + (("applications", "servicePrincipals", "tenant") if posture else ())


@dataclass
class EntityRecords:
    count: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (object id, reason)
    skipped: str | None = None  # why no records were built this run
    rows: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (vendor asset id, canonical JSON)
    file: WrittenFile | None = None


@without_cyclic_gc
def build_records(connector: Connector, collection: Collection, folder: DataFolder,
                  token: str) -> dict[str, EntityRecords]:
    """Records of every entity whose inputs all arrived in `collection`, from the pulled data
    itself (which is released here: the records are what goes on)."""
    pull, collection.pull = collection.pull, None
    assert pull is not None, "a collection's data goes to one records step"
    objects = {asset: pull.objects.get(source, []) for asset, (_, source) in RAW_ASSETS.items() if source}
    results: dict[str, EntityRecords] = {}
    sources: dict[str, Iterable[dict]] = {}
    for entity in record_entities(connector):
        missing = [name for name in INPUTS[entity] if not collection.arrived(name)]
        if missing:
            reason = "; ".join(f"{name}: {_why(collection, name)}" for name in missing)
            results[entity] = EntityRecords(skipped=f"raw data incomplete ({reason})")
            continue
        if entity in ("users", "groups") and not sources:
            sources["users"], sources["groups"] = user_and_group_sources(
                objects["users"], objects["groups"], objects["directory_roles"], objects["administrative_units"],
                pull.memberships, pull.app_role_assignments)
        documents = sources[entity] if entity in sources else objects[INPUTS[entity][0]]
        results[entity] = _transform(folder, token, entity, documents)
    return results


def _why(collection: Collection, name: str) -> str:
    report = collection.reports.get(name)
    return (report.error if report else None) or "never fetched"


def _transform(folder: DataFolder, token: str, entity: str, documents: Iterable[dict]) -> EntityRecords:
    result = EntityRecords()
    for document in documents:
        outcome = apply(MAPS[entity], document)
        if outcome.record is None:
            reason = "; ".join(outcome.problems)
            result.rejected.append((outcome.vendor_asset_id or "(no id)", reason))
            log.warning("%s %s not sent: %s", entity, outcome.vendor_asset_id or "(no id)", reason)
            continue
        result.rows.append((outcome.vendor_asset_id, canonical_json(outcome.record)))
    ids, texts = zip(*result.rows) if result.rows else ((), ())
    result.file = folder.write_table(entity, token, pa.table({"vendor_asset_id": list(ids), "record": list(texts)},
                                                             schema=RECORD_SCHEMA))
    checkpoint(f"records:{entity}:written")
    result.count = len(result.rows)
    return result


def canonical_json(record: dict) -> str:
    """One text per record content (sorted keys), so the inventory compares texts, not objects."""
    return json_text(record, sort_keys=True)


def parsed(rows: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    return [(vendor_id, json.loads(text)) for vendor_id, text in rows]
