"""Baseline cycles: the spec's Baseline Schedule (Weekly, Fortnightly, Triweekly, Monthly) as
consecutive cycles anchored at the schedule's start in its timezone. The first run in a cycle
pulls users and groups in full (the baseline); the cycle's other runs are delta runs.

A cycle is named by its first day ("2026-12-01"); in Dagster the names are the keys of a
dynamic partitions definition (docs/schedules.md says why not a time-window one). Which cycles
have had their baseline is recorded in the connector store's `baselines` table, by the run's
commit (the same transaction as the delta links of that baseline).
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass

from ..config import Connector
from ..store import Store
from .schedule import localize

CYCLE_DAYS = {"weekly": 7, "fortnightly": 14, "triweekly": 21}


@dataclass(frozen=True)
class Cycle:
    key: str
    start: dt.datetime  # aware, in the schedule's timezone
    end: dt.datetime  # exclusive


def _add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """The anchor's day and time `months` later; the 31st becomes the month's last day."""
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return anchor.replace(year=year, month=month, day=min(anchor.day, calendar.monthrange(year, month)[1]))


def _boundary(anchor: dt.datetime, frequency: str, index: int) -> dt.datetime:
    """Start of cycle `index` as a local wall-clock time (DST does not move cycle boundaries)."""
    if frequency == "monthly":
        return _add_months(anchor, index)
    return anchor + dt.timedelta(days=CYCLE_DAYS[frequency] * index)


class BaselineCycles:
    def __init__(self, connector: Connector, store: Store, read_only: bool = False) -> None:
        self.connector, self.store, self.read_only = connector, store, read_only
        self.frequency = connector.baseline
        schedule = connector.schedule
        self.tz = zoneinfo.ZoneInfo(schedule.timezone if schedule else "UTC")

    # ------------------------------------------------------------ ledger
    def anchor(self, now: dt.datetime) -> dt.datetime:
        """The schedule's start; a connector without one is anchored when first seen (run or sensor)."""
        if self.connector.schedule is not None:
            return self.connector.schedule.start
        found = self.store.anchor(self.connector.name)
        if found is None:
            found = now.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0).isoformat()
            if not self.read_only:
                found = self.store.set_anchor(self.connector.name, found)
        try:
            return dt.datetime.fromisoformat(found).replace(tzinfo=None)
        except (TypeError, ValueError):  # damaged: anchored anew (cycles restart from now; a baseline is due)
            fresh = now.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0)
            if not self.read_only:
                self.store.set_anchor(self.connector.name, fresh.isoformat(), replace=True)
            return fresh

    def baseline_done(self, key: str) -> bool:
        return key in self.store.baseline_runs(self.connector.name)

    # ------------------------------------------------------------ cycles
    def _cycle(self, anchor: dt.datetime, index: int) -> Cycle:
        start = _boundary(anchor, self.frequency, index)
        return Cycle(
            start.date().isoformat(),
            localize(start, self.tz),
            localize(_boundary(anchor, self.frequency, index + 1), self.tz),
        )

    def _index(self, anchor: dt.datetime, wall: dt.datetime) -> int:
        if self.frequency == "monthly":
            index = (wall.year - anchor.year) * 12 + wall.month - anchor.month
            return index - 1 if _add_months(anchor, index) > wall else index
        return (wall - anchor) // dt.timedelta(days=CYCLE_DAYS[self.frequency])

    def at(self, when: dt.datetime) -> Cycle:
        """The cycle a run at `when` belongs to; a run before the anchor belongs to the first cycle."""
        anchor = self.anchor(when)
        wall = when.astimezone(self.tz).replace(tzinfo=None)
        return self._cycle(anchor, max(0, self._index(anchor, wall)))

    def started(self, now: dt.datetime) -> list[Cycle]:
        """Every cycle from the anchor to the one `now` is in, ending at the schedule's end."""
        anchor, current = self.anchor(now), self.at(now)
        end = self.connector.schedule.end if self.connector.schedule else None
        cycles = []
        for index in range(self._index(anchor, current.start.replace(tzinfo=None)) + 1):
            cycle = self._cycle(anchor, index)
            if end is not None and cycle.start.replace(tzinfo=None) > end:
                break
            cycles.append(cycle)
        return cycles
