"""One sync run of a connector, outside Dagster: lease, pull, records, delivery, commit.

`sync_steps` yields each step's result as it ends, so the Dagster asset (defs/assets.py) can
report the raw assets after the pull, the record sets after the transform and the upload at
the end; the benchmarks and the kill campaign run the same steps with nothing around them.
Each step takes the previous one's result: the Parquet files are the next run's snapshot and
artifacts to inspect, not the channel between steps.

The order is what keeps data safe: the run holds the connector's lease throughout (one run
per connector, however launched); the files, delta links, baseline entry and outcome become
current in one transaction only after the destination confirmed the changes they carry, and
that transaction (like every inventory write) is fenced by the lease.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .. import redact
from ..config import Connector
from ..destinations.deliver import deliver
from ..destinations.protocol import DeliveryReport
from ..entities import FEEDS_RECORDS, SNAPSHOT_FILES
from ..graph.client import ClientSettings
from ..graph.collect import Collection, collect
from ..killpoints import checkpoint
from ..store import Lease, LeaseInfo, LeaseLost, RunCommit, Store, new_token
from ..transform.records import EntityRecords, build_records
from .cycles import BaselineCycles
from .outcome import RunState, derive_state, with_remedy
from .status import StatusStore, outcome_document


class NothingFetched(Exception):
    """Every part of the pull failed: the run fails, nothing downstream runs, nothing changes."""

    def __init__(self, connector: str, errors: dict[str, str]) -> None:
        first = next(iter(errors.values()), "")
        super().__init__(f"nothing could be fetched for connector {connector!r}: {first}")
        self.errors = errors


@dataclass
class Started:
    lease: Lease
    full: bool

    @property
    def took_over(self) -> LeaseInfo | None:
        """A holder that had stopped heartbeating, now recorded failed."""
        return self.lease.took_over

    @property
    def pull(self) -> str:
        return "baseline" if self.full else "delta"


@dataclass
class Pulled:
    collection: Collection


@dataclass
class Built:
    records: dict[str, EntityRecords]


@dataclass
class Delivered:
    applied: dict[str, DeliveryReport]  # entity -> what the destination did
    skipped: dict[str, str]  # entity -> why it was not delivered
    committed: dict[str, str]  # delta entity -> the link the next run starts from
    state: RunState


INTERRUPTED = "stopped by SIGINT/SIGTERM: nothing committed, the next run resumes"


def error_line(error: BaseException) -> str:
    """An error as one line of at most 600 characters, secrets masked."""
    return redact.mask(str(error).strip().split("\n")[0][:600] or type(error).__name__)


def failure_reason(error: BaseException) -> str:
    """`error_line` with its remedy; an interrupt (KeyboardInterrupt, Dagster's
    DagsterExecutionInterruptedError: BaseExceptions, not Exceptions) said as what it means."""
    if not isinstance(error, Exception):
        return INTERRUPTED
    return with_remedy(error_line(error))


class Holding:
    """A run's hold on its connector (`holding`): its lease, the connector's state, and whether
    the run has committed (after which an error no longer makes it Failed)."""

    def __init__(self, lease: Lease, status: StatusStore) -> None:
        self.lease, self.status, self.committed = lease, status, False


@contextmanager
def holding(
    connector: Connector, store: Store, run_id: str, launched_by: str, wait: float | None, started: dt.datetime
) -> Iterator[Holding]:
    """The connector's lease for one run (sync or re-delivery). A holder that had died is recorded
    failed; this run, if it ends by an error before it committed, is recorded Failed with the
    error's reason; the lease is released however it ends. Raises ConnectorBusy if another run
    holds the connector past `wait`."""
    lease = store.lease(connector.name, run_id, launched_by, wait)
    held = Holding(lease, StatusStore(store, connector.name))
    try:
        if lease.took_over and lease.took_over.run_id != run_id:  # not this run's own step, handed out again
            held.status.died(lease.took_over, by=run_id)
        yield held
    except BaseException as error:
        if not isinstance(error, (GeneratorExit, LeaseLost)) and not held.committed:
            try:
                held.status.failed(run_id, started, failure_reason(error), lease)
            except Exception:  # noqa: BLE001 - the run's own error is what matters; the reaper records it later
                pass
        raise
    finally:
        lease.close()


def sync_steps(
    connector: Connector,
    store: Store,
    cycle: str,
    run_id: str,
    mode: str = "auto",
    launched_by: str = "bare",
    settings: ClientSettings | None = None,
    wait: float | None = None,
) -> Iterator[Started | Pulled | Built | Delivered]:
    """`mode` "baseline" always pulls users and groups in full; "auto" only when the cycle has
    had no completed baseline yet. Raises ConnectorBusy if another run holds the connector."""
    started = dt.datetime.now(dt.UTC)
    with holding(connector, store, run_id, launched_by, wait, started) as held:
        lease = held.lease
        full = mode == "baseline" or not BaselineCycles(connector, store).baseline_done(cycle)
        held.status.processing(lease, started, cycle, "baseline" if full else "delta")
        yield Started(lease, full)
        store.remove_uncommitted(connector.name)  # what killed runs wrote: nothing trusts it

        collection = collect(connector, store, settings, full=full)
        yield Pulled(collection)
        if all(report.error for report in collection.reports.values()):
            raise NothingFetched(connector.name, {n: r.error or "" for n, r in collection.reports.items()})

        built = build_records(connector, collection, store.folder(connector.name, "records"), new_token())
        yield Built(built)

        applied, skipped = deliver(connector, store, lease, built)
        committed = {
            entity: link
            for entity, link in collection.delta_links.items()
            if set(FEEDS_RECORDS[entity]) <= set(applied)
        }  # only now: the destination has the changes
        state = derive_state(
            {name: r.error for name, r in collection.reports.items() if r.error},
            {entity: len(r.rejected) for entity, r in built.items()},
            skipped,
        )
        checkpoint("delta:before-commit")
        store.commit_run(
            lease,
            connector.name,
            _commit(connector, run_id, cycle, full, started, lease, collection, built, set(applied), committed, state),
        )
        held.committed = True
        yield Delivered(applied, skipped, committed, state)


def _commit(
    connector: Connector,
    run_id: str,
    cycle: str,
    full: bool,
    started: dt.datetime,
    lease: Lease,
    collection: Collection,
    built: dict[str, EntityRecords],
    delivered: set[str],
    committed: dict[str, str],
    state: RunState,
) -> RunCommit:
    """A snapshot file becomes current with its entity's link; the app role assignments with the
    user and group records built from them (a delta run compares against them to find what
    changed); any other file (roles, service principals, ...) with the run; record files with
    their delivery."""
    snapshot_of: dict[str, set[str]] = {}
    for entity, names in SNAPSHOT_FILES.items():
        for name in names:
            snapshot_of.setdefault(name, set()).add(entity)
    # a link this run brought but does not commit holds back the files it was issued with
    held_back = set(collection.delta_links) - set(committed)
    files = [
        written
        for name, written in collection.files.items()
        if not snapshot_of.get(name, set()) & held_back
        and (name != "app_role_assignments" or {"users", "groups"} <= delivered)
    ]
    files += [result.file for entity, result in built.items() if entity in delivered and result.file]
    links = {
        entity: (link, collection.issued_at, {name: collection.files[name].token for name in SNAPSHOT_FILES[entity]})
        for entity, link in committed.items()
    }
    baseline = cycle if full and {"users", "groups"} <= set(committed) else None
    document = outcome_document(lease, started, state.state, state.reasons, cycle, "baseline" if full else "delta")
    return RunCommit(run_id, files, links, baseline, document)
