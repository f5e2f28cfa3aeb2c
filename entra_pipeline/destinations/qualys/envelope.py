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

from ...jsontext import json_text

# A record as an object, or as its canonical JSON text in UTF-8: what the records step built,
# sent as it is (serialized once, from build to wire).
Record = dict | bytes

MAX_BODY_BYTES = 9 * 1024 * 1024  # Qualys' own uploader keeps requests under 9 MB
ENVELOPE_ALLOWANCE = 2048  # room for connectorMetaData and brackets


def metadata(count: int, connector_uuid: str, request_id: str, source: str) -> dict:
    return {"requestId": request_id, "connectorUuid": connector_uuid, "source": source, "assetCount": count}


def body(records: list[dict], connector_uuid: str, request_id: str, source: str) -> dict:
    return {"connectorMetaData": metadata(len(records), connector_uuid, request_id, source), "assetData": records}


def payload(records: list[Record], connector_uuid: str, request_id: str, source: str) -> bytes:
    """The request body as sent: `body`'s document, with each record's text as it is (an object
    is written in its own key order)."""
    head = json_text(metadata(len(records), connector_uuid, request_id, source)).encode()
    data = b",".join(record if isinstance(record, bytes) else json_text(record).encode() for record in records)
    return b'{"connectorMetaData":' + head + b',"assetData":[' + data + b"]}"


def canonical(record: Record) -> bytes:
    """A record's canonical text (sorted keys): what identifies its content."""
    return record if isinstance(record, bytes) else json_text(record, sort_keys=True).encode()


def parsed(record: Record) -> dict:
    return record if isinstance(record, dict) else json.loads(record)


def batches(
    records: list[tuple[str, Record]], batch_size: int, max_bytes: int = MAX_BODY_BYTES
) -> tuple[str, list[list[Record]]]:
    """Deterministic batches (same records -> same batches) of at most `batch_size` records and
    under `max_bytes` each, and a digest identifying this set of records."""
    digest = hashlib.sha256()
    result: list[list[Record]] = []
    current: list[Record] = []
    size = ENVELOPE_ALLOWANCE
    for vendor_id, record in sorted(records, key=lambda pair: pair[0]):
        text = canonical(record)
        digest.update(vendor_id.encode() + b"\0" + text + b"\0")
        length = len(text) + 1
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
        return {
            "thirdPartyObject": {
                "content": {**identity["thirdPartyObject"]["content"], "@removed": {"reason": "deleted"}}
            }
        }
    return {"asset": {"assetHeader": {**identity["asset"]["assetHeader"], "status": "DELETED"}}}


def request_id(digest: str, entity: str, index: int) -> str:
    """Unique per batch, and the same when a batch is re-sent after a crash (an idempotency key)."""
    return f"entra-{digest[:16]}-{entity}-{index:05d}"
