"""Both destinations behind the one protocol (destinations/protocol.py): the same deliveries,
through the upload step itself, to the local inventory and to Qualys CSAM (the fake gateway,
over HTTPS), report the same way and leave each holding exactly the current records."""

from __future__ import annotations

import pytest

from entra_pipeline.config import Connector
from entra_pipeline.destinations.deliver import deliver
from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.destinations.protocol import CSAM_FIGURES, INVENTORY_FIGURES
from entra_pipeline.destinations.qualys import envelope
from entra_pipeline.store import open_store
from entra_pipeline.transform.records import EntityRecords, canonical_json

from .fake_qualys import CONNECTOR_UUID, FakeQualys, qualys_destination

TENANT = "11111111-2222-3333-4444-555555555555"


def user(i: int) -> dict:
    return {
        "asset": {
            "assetHeader": {"vendorAssetId": f"u-{i}", "externalAssetId": f"u{i}@x", "status": "ACTIVE"},
            "assetDetail": {"name": f"Ünïcode user {i}"},
        }
    }


def built(*ids: int) -> dict[str, EntityRecords]:
    rows = [(f"u-{i}", canonical_json(user(i))) for i in ids]
    return {
        "users": EntityRecords(count=len(rows), rows=rows),
        "groups": EntityRecords(skipped="raw data incomplete (groups: never fetched)"),
    }


@pytest.fixture
def fake(tmp_path):
    gateway = FakeQualys(tmp_path / "qualys").start()
    yield gateway
    gateway.stop()


def connector(kind: str, fake: FakeQualys, monkeypatch) -> Connector:
    destination: dict = {"kind": "local"}
    if kind == "qualys":
        monkeypatch.setenv("QUALYS_PASSWORD", fake.password)
        destination = qualys_destination(fake, batch_size=2).model_dump(mode="json")
    return Connector(
        name="dest", tenant_id=TENANT, client_id=TENANT, client_secret_env="UNUSED_SECRET", destination=destination
    )


def held(kind: str, home, fake: FakeQualys) -> dict[str, dict]:
    """What the destination holds now, by vendor id."""
    if kind == "local":
        return {
            r["asset"]["assetHeader"]["vendorAssetId"]: r
            for r in LocalInventory(open_store(home)).export("dest", "users")
        }
    holding: dict[str, dict] = {}
    for body in fake.accepted:
        for record in body["assetData"]:
            header = record["asset"]["assetHeader"]
            if header.get("status") == "DELETED":
                holding.pop(header["vendorAssetId"], None)
            else:
                holding[header["vendorAssetId"]] = record
    return holding


@pytest.mark.parametrize("kind,figures", [("local", INVENTORY_FIGURES), ("qualys", CSAM_FIGURES)])
def test_both_destinations_take_the_same_deliveries_and_report_them_alike(kind, figures, home, fake, monkeypatch):
    target = connector(kind, fake, monkeypatch)
    store = open_store(home)
    reports, skipped = deliver(target, store, None, built(1, 2, 3))
    assert set(reports) == {"users"} and skipped == {"groups": "raw data incomplete (groups: never fetched)"}
    assert list(reports["users"].counts()) == list(figures)
    assert held(kind, home, fake) == {f"u-{i}": user(i) for i in (1, 2, 3)}

    reports, _ = deliver(target, store, None, built(2, 3, 4))  # u-1 gone, u-4 new
    assert held(kind, home, fake) == {f"u-{i}": user(i) for i in (2, 3, 4)}
    counts = reports["users"].counts()
    assert counts["retained"] == 0 and counts["deleted" if kind == "local" else "removed"] == 1
    if kind == "local":
        assert (counts["inserted"], counts["unchanged"]) == (1, 2)
    else:
        assert (counts["assets"], counts["sent"]) == (3, 3)  # two batches of records, one of the removal
        assert fake.violations == []


def test_the_import_body_is_the_records_built_text_as_it_is():
    texts = [canonical_json(user(i)).encode() for i in (1, 2)]
    data = envelope.payload(texts, CONNECTOR_UUID, "entra-x-users-00000", "Microsoft")
    assert data == (
        b'{"connectorMetaData":{"requestId":"entra-x-users-00000","connectorUuid":"'
        + CONNECTOR_UUID.encode()
        + b'","source":"Microsoft","assetCount":2},"assetData":['
        + b",".join(texts)
        + b"]}"
    )
    removal = envelope.removal(envelope.identity(user(1)))
    assert envelope.payload([removal], CONNECTOR_UUID, "r", "Microsoft").endswith(
        b'"assetData":[{"asset":{"assetHeader":{"externalAssetId":"u1@x","vendorAssetId":"u-1","status":"DELETED"}}}]}'
    )
