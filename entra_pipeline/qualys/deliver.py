"""The upload step: deliver the records built this run to the connector's destination. An
entity whose records were not built this run (its pull failed or was forbidden) is not
delivered and removes nothing. Every write is fenced by the run's lease."""

from __future__ import annotations

from ..config import Connector, QualysDestination
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..store import Lease, Store
from .csam import BatchReport, Delivered, Progress, QualysError, QualysGateway, deliver_entity
from .inventory import LocalInventory
from .records import EntityRecords, parsed


@without_cyclic_gc
def deliver(connector: Connector, store: Store, lease: Lease | None,
            built: dict[str, EntityRecords]) -> tuple[dict[str, object], dict[str, str]]:
    ready = {entity: result for entity, result in built.items() if result.skipped is None}
    skipped = {entity: result.skipped for entity, result in built.items() if result.skipped}
    if isinstance(connector.destination, QualysDestination):
        return _to_qualys(connector, store, lease, ready), skipped
    inventory = LocalInventory(store)
    applied = {}
    for entity, result in sorted(ready.items()):
        checkpoint(f"deliver:{entity}:before")
        applied[entity] = inventory.apply(connector.name, entity, result.rows,
                                          remove_absent=not connector.retain_previous_delta, lease=lease,
                                          present=result.present if result.incremental else None)
        checkpoint(f"deliver:{entity}:after-commit")
    return applied, skipped


def _to_qualys(connector: Connector, store: Store, lease: Lease | None,
               ready: dict[str, EntityRecords]) -> dict[str, BatchReport]:
    destination = connector.destination
    gateway = QualysGateway(destination, destination.secret(store.home))
    progress = Progress.load(store, connector.name, lease)
    delivered = Delivered(store, connector.name, lease)
    applied: dict[str, BatchReport] = {}
    try:
        for entity, result in sorted(ready.items()):
            try:
                applied[entity] = deliver_entity(gateway, progress, entity, parsed(result.rows), delivered,
                                                 remove_absent=not connector.retain_previous_delta,
                                                 present=result.present if result.incremental else None)
            except QualysError as error:  # the run fails: no delta link advances, the next run sends it again
                raise QualysError(f"{entity} not delivered to Qualys ({', '.join(applied) or 'no entity'} "
                                  f"delivered before it): {error}") from None
        return applied
    finally:
        gateway.close()
