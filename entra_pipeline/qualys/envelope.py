"""The request body of Qualys CSAM's import API, kept in one small module on purpose.

Public facts (../shared/reference/qualys.md): `POST {gateway}/rest/2.0/am/connector/asset/data/sync`
takes `{"connectorMetaData": {"requestId", "connectorUuid", "source", "assetCount"}, "assetData": [...]}`.
Every public example carries host assets; Qualys documents the identity payload only "on
request". ASSUMPTION: `assetData` carries our records exactly as the spec's transformation maps
produce them (`{"asset": {...}}` or `{"thirdPartyObject": {...}}`). When Qualys supplies the
identity format, this module is the one place to change.
"""

from __future__ import annotations

import hashlib
import json

MAX_BODY_BYTES = 9 * 1024 * 1024  # Qualys' own uploader keeps requests under 9 MB
ENVELOPE_ALLOWANCE = 2048  # room for connectorMetaData and brackets


def body(records: list[dict], connector_uuid: str, request_id: str, source: str) -> dict:
    return {
        "connectorMetaData": {"requestId": request_id, "connectorUuid": connector_uuid, "source": source,
                              "assetCount": len(records)},
        "assetData": records,
    }


def batches(records: list[tuple[str, dict]], batch_size: int, max_bytes: int = MAX_BODY_BYTES) -> tuple[str, list[list[dict]]]:
    """Deterministic batches (same records -> same batches) of at most `batch_size` records and
    under `max_bytes` each, and a digest identifying this set of records."""
    digest = hashlib.sha256()
    result: list[list[dict]] = []
    current: list[dict] = []
    size = ENVELOPE_ALLOWANCE
    for vendor_id, record in sorted(records, key=lambda pair: pair[0]):
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest.update(vendor_id.encode() + b"\0" + text.encode() + b"\0")
        length = len(text.encode()) + 1
        if length + ENVELOPE_ALLOWANCE > max_bytes:
            raise ValueError(f"record {vendor_id} alone is {length} bytes, over the {max_bytes}-byte request limit")
        if current and (len(current) >= batch_size or size + length > max_bytes):
            result.append(current)
            current, size = [], ENVELOPE_ALLOWANCE
        current.append(record)
        size += length
    if current:
        result.append(current)
    return digest.hexdigest(), result


def identity(record: dict) -> dict:
    """What identifies a delivered record, kept to announce its removal later."""
    if "thirdPartyObject" in record:
        return {"thirdPartyObject": {"content": {"id": record["thirdPartyObject"]["content"].get("id")}}}
    header = record["asset"]["assetHeader"]
    return {"asset": {"assetHeader": {k: header[k] for k in ("externalAssetId", "vendorAssetId") if k in header}}}


def removal(identity: dict) -> dict:
    """ASSUMPTION (docs/destinations.md): a removed identity is sent as its identifying header
    with status DELETED; an ISPM object as its id with Graph's own removal marker."""
    if "thirdPartyObject" in identity:
        return {"thirdPartyObject": {"content": {**identity["thirdPartyObject"]["content"],
                                                 "@removed": {"reason": "deleted"}}}}
    return {"asset": {"assetHeader": {**identity["asset"]["assetHeader"], "status": "DELETED"}}}


def request_id(digest: str, entity: str, index: int) -> str:
    """Unique per batch, and the same when a batch is re-sent after a crash (an idempotency key)."""
    return f"entra-{digest[:16]}-{entity}-{index:05d}"
