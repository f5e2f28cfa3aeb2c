"""Re-delivery: send the last committed records to the destination again, without pulling.

After a destination outage (Qualys down, an inventory restored from an old backup) the
tenant need not be read again: the committed raw snapshot is what the last runs delivered
from. Under the connector's lease (one run per connector, however launched), every record
is rebuilt from that snapshot with the spec's maps — in full, so the destination ends as a
full delivery leaves it (what is absent is removed unless Retain Previously Ingested Delta)
— delivered, and the outcome recorded like a run's. No Graph request is made and no delta
link moves: the next sync starts from the same links as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import Connector
from ..destinations.deliver import deliver
from ..entities import RAW_ASSETS, raw_assets_for
from ..graph.client import GraphStats
from ..graph.collect import AssetReport, Collection
from ..graph.plan import Pull
from ..store import RunCommit, Store, new_token
from ..transform.records import build_records
from .outcome import derive_state
from .pipeline import Delivered, Started, holding
from .status import outcome_document

PULL = "redelivery"  # what the connector's state names as the run's kind (else "baseline" / "delta")
NOT_COMMITTED = "no committed data to deliver again (never fetched in a run that committed): run a sync first"


@dataclass
class Redelivered:
    delivered: Delivered
    cycle: str  # the baseline cycle of the last run (the snapshot's), "" if none is recorded


def committed_collection(connector: Connector, store: Store) -> Collection:
    """The committed raw snapshot as a pull's data, for the records step: each raw asset's
    committed file, or a report naming why there is none (its records are then not built)."""
    committed = store.committed_files(connector.name, "raw")
    pull, reports = Pull(), {}
    for asset in raw_assets_for(connector.asset_types):
        if asset not in committed:
            reports[asset] = AssetReport(None, NOT_COMMITTED)
            continue
        source = RAW_ASSETS[asset].source  # "": rows held apart, not objects
        rows = (
            store.read_objects(connector.name, committed[asset])
            if source
            else store.read_rows(connector.name, committed[asset])
        )
        if source:
            pull.objects[source] = rows
        elif asset == "memberships":
            pull.memberships = rows
        else:
            pull.app_role_assignments = rows
        reports[asset] = AssetReport(len(rows))
    return Collection(reports, {}, 0.0, GraphStats(), pull=pull)


def redeliver_steps(
    connector: Connector, store: Store, run_id: str, launched_by: str = "bare", wait: float | None = None
) -> Iterator[Started | Redelivered]:
    """Lease, rebuild, deliver, commit the record files and the outcome (no links). Raises
    ConnectorBusy if another run holds the connector past `wait`."""
    started = dt.datetime.now(dt.UTC)
    with holding(connector, store, run_id, launched_by, wait, started) as held:
        lease = held.lease
        previous = held.status.read_or_none()
        cycle = previous.cycle if previous else None
        held.status.processing(lease, started, cycle, PULL)
        yield Started(lease, full=True)
        store.remove_uncommitted(connector.name)  # what killed runs wrote: nothing trusts it
        collection = committed_collection(connector, store)
        built = build_records(connector, collection, store.folder(connector.name, "records"), new_token())
        applied, skipped = deliver(connector, store, lease, built)
        state = derive_state(
            {name: r.error for name, r in collection.reports.items() if r.error},
            {entity: len(r.rejected) for entity, r in built.items()},
            skipped,
        )
        files = [result.file for entity, result in built.items() if entity in applied and result.file]
        store.commit_run(
            lease,
            connector.name,
            RunCommit(
                run_id, files, {}, None, outcome_document(lease, started, state.state, state.reasons, cycle or "", PULL)
            ),
        )
        held.committed = True
        yield Redelivered(Delivered(applied, skipped, {}, state), cycle or "")
