"""A connector's state in the spec's terms, stored durably in `<home>/state/<connector>/status.json`:

    Registered -> Scheduled -> Processing -> Processed | Partially Processed | Failed

Registered and Scheduled are written by the connector's lifecycle sensor, Processing by the
sync step when it starts, the outcome by the run-status sensors when a run ends (and by the
CLI for runs it launched itself). Writing is idempotent: the same run's outcome written twice
is the same file, and an outcome never overwrites a newer run's Processing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel

from .config import Connector
from .schedule import describe, next_run
from .storage import replace_file

REGISTERED, SCHEDULED, PROCESSING, FAILED = "Registered", "Scheduled", "Processing", "Failed"


class ConnectorStatus(BaseModel):
    state: str
    since: dt.datetime
    run_id: str | None = None
    run_started: dt.datetime | None = None
    reasons: list[str] = []
    cycle: str | None = None
    pull: str | None = None  # "baseline" | "delta"


class StatusStore:
    def __init__(self, home: Path, connector: str) -> None:
        self.path = home / "state" / connector / "status.json"

    def read(self) -> ConnectorStatus | None:
        return ConnectorStatus.model_validate_json(self.path.read_text()) if self.path.exists() else None

    def write(self, status: ConnectorStatus) -> None:
        replace_file(self.path, status.model_dump_json(indent=1))

    def processing(self, run_id: str, started: dt.datetime, cycle: str | None, pull: str) -> None:
        self.write(ConnectorStatus(state=PROCESSING, since=started, run_id=run_id, run_started=started,
                                   cycle=cycle, pull=pull))

    def outcome(self, run_id: str, started: dt.datetime, state: str, reasons: list[str], ended: dt.datetime,
                cycle: str | None = None, pull: str | None = None) -> bool:
        """Record how a run ended, unless a run that started later is already recorded."""
        current = self.read()
        if current and current.run_id != run_id and current.run_started and current.run_started > started:
            return False
        if current and current.run_id == run_id:
            cycle, pull = cycle or current.cycle, pull or current.pull
        self.write(ConnectorStatus(state=state, since=ended, run_id=run_id, run_started=started, reasons=reasons,
                                   cycle=cycle, pull=pull))
        return True

    def waiting(self, now: dt.datetime, scheduled: bool) -> bool:
        """Registered -> Scheduled (or back) for a connector with no run yet; True if it changed."""
        current = self.read()
        if current is not None and current.state not in (REGISTERED, SCHEDULED):
            return False
        state = SCHEDULED if scheduled else REGISTERED
        if current is not None and current.state == state:
            return False
        self.write(ConnectorStatus(state=state, since=now))
        return True


def current_status(connector: Connector, home: Path, now: dt.datetime) -> tuple[ConnectorStatus, str | None]:
    """The stored state (Registered/Scheduled derived when nothing is stored yet) and the next
    automatic run, in the spec's confirmation wording."""
    upcoming = next_run(connector, now)
    stored = StatusStore(home, connector.name).read()
    status = stored or ConnectorStatus(state=SCHEDULED if upcoming else REGISTERED, since=now)
    return status, describe(upcoming, connector.schedule) if upcoming and connector.schedule else None


