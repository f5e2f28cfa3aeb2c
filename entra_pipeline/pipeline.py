"""One sync run of a connector, outside Dagster: pull, records, delivery, delta commit, state.

`sync_steps` yields each step's result as it ends, so the Dagster asset (defs/assets.py) can
report the raw assets after the pull, the record sets after the transform and the upload at
the end; the benchmarks and the kill campaign run the same steps with nothing around them.

The order is what keeps data safe: the delta links the pull brought are committed only after
the destination confirmed the changes they carry, and a cycle's baseline counts as done only
once users' and groups' links from its full pull are committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .collect import SNAPSHOT_FILES, Collection, collect, commit_delta
from .config import Connector
from .cycles import BaselineCycles
from .graph.client import ClientSettings
from .qualys.deliver import deliver
from .qualys.records import EntityRecords, build_records
from .state import RunState, derive_state


class NothingFetched(Exception):
    """Every part of the pull failed: the run fails, nothing downstream runs, nothing changes."""

    def __init__(self, connector: str, errors: dict[str, str]) -> None:
        super().__init__(f"nothing could be fetched for connector {connector!r}")
        self.errors = errors


@dataclass
class Pulled:
    collection: Collection


@dataclass
class Built:
    records: dict[str, EntityRecords]


@dataclass
class Delivered:
    applied: dict[str, object]  # entity -> what the destination applied
    skipped: dict[str, str]  # entity -> why it was not delivered
    committed: dict[str, str]  # delta entity -> the link the next run starts from
    state: RunState


def pulls_in_full(connector: Connector, home: Path, cycle: str, mode: str) -> bool:
    """'baseline' always pulls in full; 'auto' only when the cycle has no completed baseline yet."""
    return mode == "baseline" or not BaselineCycles(connector, home).baseline_done(cycle)


def sync_steps(connector: Connector, home: Path, cycle: str, run_id: str, full: bool,
               settings: ClientSettings | None = None) -> Iterator[Pulled | Built | Delivered]:
    collection = collect(connector, home, settings, full=full)
    yield Pulled(collection)
    if all(report.error for report in collection.reports.values()):
        raise NothingFetched(connector.name, {name: report.error or "" for name, report in collection.reports.items()})

    built = build_records(connector, home)
    yield Built(built)

    applied, skipped = deliver(connector, home)
    committed = commit_delta(connector, home, set(applied))  # only now: the destination has the changes
    if full and set(SNAPSHOT_FILES) <= set(committed):
        BaselineCycles(connector, home).record_baseline(cycle, run_id, dt.datetime.now(dt.timezone.utc))
    state = derive_state({name: r.error for name, r in collection.reports.items() if r.error},
                         {entity: len(r.rejected) for entity, r in built.items()}, skipped)
    yield Delivered(applied, skipped, committed, state)
