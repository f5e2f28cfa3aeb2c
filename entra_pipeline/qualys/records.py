"""From raw assets to Qualys records, per entity, with the spec's maps. A record missing a
Required field is not produced: it is reported with the object's id and the reason."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pyarrow as pa

from ..config import Connector
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..storage import RawStore
from .engine import apply
from .maps import MAPS
from .sources import user_and_group_sources

log = logging.getLogger(__name__)

RECORD_SCHEMA = pa.schema([("vendor_asset_id", pa.string()), ("record", pa.string())])
# entity -> the raw assets its records are built from (all must have arrived whole)
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


@without_cyclic_gc
def build_records(connector: Connector, home: Path) -> dict[str, EntityRecords]:
    raw = RawStore(home, connector.name)
    out = RawStore(home, connector.name, "records")
    failed = raw.read_manifest().get("failed", {})
    results: dict[str, EntityRecords] = {}
    sources: dict[str, Iterable[dict]] = {}
    for entity in record_entities(connector):
        missing = [name for name in INPUTS[entity] if name in failed or not raw.exists(name)]
        if missing:
            reason = "; ".join(f"{name}: {failed.get(name, 'never fetched')}" for name in missing)
            results[entity] = EntityRecords(skipped=f"raw data incomplete ({reason})")
            continue
        if entity in ("users", "groups") and not sources:
            sources["users"], sources["groups"] = user_and_group_sources(
                raw.read_objects("users"), raw.read_objects("groups"), raw.read_objects("directory_roles"),
                raw.read_objects("administrative_units"), raw.read_rows("memberships"),
                raw.read_rows("app_role_assignments"))
        documents = sources[entity] if entity in sources else raw.read_objects(INPUTS[entity][0])
        results[entity] = _transform(out, entity, documents)
    out.write_manifest({"built": sorted(e for e, r in results.items() if r.skipped is None),
                        "skipped": {e: r.skipped for e, r in results.items() if r.skipped}})
    return results


def _transform(out: RawStore, entity: str, documents: Iterable[dict]) -> EntityRecords:
    result = EntityRecords()
    rows = []
    for document in documents:
        outcome = apply(MAPS[entity], document)
        if outcome.record is None:
            reason = "; ".join(outcome.problems)
            result.rejected.append((outcome.vendor_asset_id or "(no id)", reason))
            log.warning("%s %s not sent: %s", entity, outcome.vendor_asset_id or "(no id)", reason)
            continue
        rows.append({"vendor_asset_id": outcome.vendor_asset_id,
                     "record": canonical_json(outcome.record)})
    out.write_rows(entity, rows, RECORD_SCHEMA)
    checkpoint(f"records:{entity}:written")
    result.count = len(rows)
    return result


def canonical_json(record: dict) -> str:
    """One text per record content (sorted keys), so the inventory compares texts, not objects."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def read_records(home: Path, connector: str, entity: str) -> list[tuple[str, dict]]:
    return [(vendor_id, json.loads(text)) for vendor_id, text in read_record_texts(home, connector, entity)]


def read_record_texts(home: Path, connector: str, entity: str) -> list[tuple[str, str]]:
    """Records as their canonical JSON text: what the local inventory stores, without re-parsing."""
    table = RawStore(home, connector, "records").read_table(entity)
    return list(zip(table.column("vendor_asset_id").to_pylist(), table.column("record").to_pylist()))
