"""The upload step: deliver the records built this run to the connector's destination. An
entity whose records were not built this run (its pull failed or was forbidden) is not
delivered and removes nothing. Every write is fenced by the run's lease."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Connector
from ..killpoints import checkpoint
from ..memory import without_cyclic_gc
from ..store import Lease, Store
from ..transform.records import EntityRecords
from .local import InventoryDestination
from .protocol import DeliveryReport, Destination
from .qualys.csam import CsamDestination

# destination kind (the connector's `destination.kind`) -> how a run opens it
DESTINATIONS: dict[str, Callable[[Connector, Store, Lease | None], Destination]] = {
    "local": InventoryDestination,
    "qualys": CsamDestination,
}


@without_cyclic_gc
def deliver(
    connector: Connector, store: Store, lease: Lease | None, built: dict[str, EntityRecords]
) -> tuple[dict[str, DeliveryReport], dict[str, str]]:
    """What the destination did per entity delivered, and why each other entity was not."""
    ready = {entity: result for entity, result in built.items() if result.skipped is None}
    skipped = {entity: result.skipped for entity, result in built.items() if result.skipped}
    destination = DESTINATIONS[connector.destination.kind](connector, store, lease)
    reports: dict[str, DeliveryReport] = {}
    try:
        for entity, result in sorted(ready.items()):
            checkpoint(f"deliver:{entity}:before")
            reports[entity] = destination.deliver(
                entity,
                result.rows,
                present=result.present if result.incremental else None,
                remove_absent=not connector.retain_previous_delta,
            )
            checkpoint(f"deliver:{entity}:after-commit")
    finally:
        destination.close()
    return reports, skipped
