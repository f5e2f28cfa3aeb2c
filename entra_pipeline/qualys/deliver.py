"""The upload step: deliver the records built this run to the connector's destination. An
entity whose records were not built this run (its pull failed or was forbidden) is not
delivered and removes nothing."""

from __future__ import annotations

from pathlib import Path

from ..config import Connector
from ..killpoints import checkpoint
from ..storage import RawStore
from .inventory import Applied, LocalInventory
from .records import read_records


def deliver(connector: Connector, home: Path) -> tuple[dict[str, Applied], dict[str, str]]:
    manifest = RawStore(home, connector.name, "records").read_manifest()
    inventory = LocalInventory(home)
    applied = {}
    for entity in manifest.get("built", []):
        checkpoint(f"deliver:{entity}:before")
        applied[entity] = inventory.apply(connector.name, entity, read_records(home, connector.name, entity), full=True)
        checkpoint(f"deliver:{entity}:after-commit")
    return applied, manifest.get("skipped", {})
