"""The upload step: deliver the records built this run to the connector's destination. An
entity whose records were not built this run (its pull failed or was forbidden) is not
delivered and removes nothing."""

from __future__ import annotations

from pathlib import Path

from ..config import Connector, QualysDestination
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..storage import RawStore
from .csam import BatchReport, Delivered, Progress, QualysError, QualysGateway, deliver_entity
from .inventory import LocalInventory
from .records import read_record_texts, read_records


@without_cyclic_gc
def deliver(connector: Connector, home: Path) -> tuple[dict[str, object], dict[str, str]]:
    manifest = RawStore(home, connector.name, "records").read_manifest()
    if isinstance(connector.destination, QualysDestination):
        return _to_qualys(connector, home, manifest), manifest.get("skipped", {})
    inventory = LocalInventory(home)
    applied = {}
    for entity in manifest.get("built", []):
        checkpoint(f"deliver:{entity}:before")
        applied[entity] = inventory.apply(connector.name, entity, read_record_texts(home, connector.name, entity),
                                        remove_absent=not connector.retain_previous_delta)
        checkpoint(f"deliver:{entity}:after-commit")
    return applied, manifest.get("skipped", {})


def _to_qualys(connector: Connector, home: Path, manifest: dict) -> dict[str, BatchReport]:
    destination = connector.destination
    gateway = QualysGateway(destination, destination.secret(home))
    progress = Progress.load(home / "state" / connector.name / "qualys-progress.json")
    delivered = Delivered(home / "state" / connector.name / "qualys-delivered.json")
    applied: dict[str, BatchReport] = {}
    try:
        for entity in manifest.get("built", []):
            try:
                applied[entity] = deliver_entity(gateway, progress, entity, read_records(home, connector.name, entity),
                                                 delivered, remove_absent=not connector.retain_previous_delta)
            except QualysError as error:  # the run fails: no delta link advances, the next run sends it again
                raise QualysError(f"{entity} not delivered to Qualys ({', '.join(applied) or 'no entity'} "
                                  f"delivered before it): {error}") from None
        return applied
    finally:
        gateway.close()
