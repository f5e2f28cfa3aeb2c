"""What every destination is to the upload step (deliver.py): the `Destination` protocol, and
`DeliveryReport`, the one account of what a destination did with one entity's records.

Two destinations implement it: the local inventory (local.py, the embedded default) and
Qualys CSAM (qualys/csam.py). A destination is opened for one run of one connector, under the run's
lease, and delivers entity by entity: records it is given are current, ids it holds that are
not among them are absent (removed, or kept under Retain Previously Ingested Delta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The figures each destination reports, in the order of the upload's per-entity table.
INVENTORY_FIGURES = ("inserted", "updated", "unchanged", "deleted", "retained")
CSAM_FIGURES = ("sent", "skipped_already_accepted", "assets", "asset_errors", "waits", "removed", "retained")


@dataclass
class DeliveryReport:
    """What a destination did with one entity's records. A destination fills the figures it
    counts and names them in `figures`; the others stay 0 and are not reported."""

    figures: tuple[str, ...]
    # the local inventory: rows written, left as they were, and absent ones deleted
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    # Qualys: batches sent, batches a previous attempt had delivered already, records sent,
    # records Qualys refused, waits on its rate limits, absent identities sent as deleted
    sent: int = 0
    skipped_already_accepted: int = 0
    assets: int = 0
    asset_errors: int = 0
    waits: int = 0
    removed: int = 0
    retained: int = 0  # absent from the records, kept (Retain Previously Ingested Delta)

    def counts(self) -> dict[str, int]:
        """The reported figures by name, in order (the upload's metadata)."""
        return {name: getattr(self, name) for name in self.figures}


class Destination(Protocol):
    """Where a connector's records go. `rows` are (vendor asset id, canonical JSON text) pairs;
    with `present` (the ids of the whole set), they are only the rebuilt records of an
    incremental set, and absent means absent from `present`."""

    def deliver(
        self, entity: str, rows: list[tuple[str, str]], present: set[str] | None, remove_absent: bool
    ) -> DeliveryReport: ...

    def close(self) -> None: ...
