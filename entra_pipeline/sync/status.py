"""A connector's state in the spec's terms, kept in the connector store (`status` table):

    Registered -> Scheduled -> Processing -> Processed | Partially Processed | Failed

Processing is written by the run when it holds the connector's lease, its outcome by the
run's commit (the same transaction as its delta links) or, when it fails, by the run itself;
a run whose process died is recorded Failed by whoever finds its lease expired (the next run,
the lifecycle sensor). Registered and Scheduled are written by the lifecycle sensor while
the connector has had no run. One writer per state, no mirror copies.
"""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ValidationError

from ..config import Connector
from ..store import Lease, LeaseInfo, Store, StoreDamaged
from ..store import status as table
from .schedule import describe, next_run

REGISTERED, SCHEDULED, PROCESSING, FAILED = "Registered", "Scheduled", "Processing", "Failed"
NOT_LOADED = (
    "its schedule runs once the Dagster daemon has loaded the connector (`dagster dev -w workspace.yaml` "
    "with this home, or the deployment's daemon): then it is Scheduled"
)


class ConnectorStatus(BaseModel):
    state: str
    since: AwareDatetime
    run_id: str | None = None
    run_started: AwareDatetime | None = None
    reasons: list[str] = []
    cycle: str | None = None
    pull: str | None = None  # "baseline" | "delta"
    launched_by: str | None = None


class StatusStore:
    def __init__(self, store: Store, connector: str) -> None:
        self.store, self.connector = store, connector

    def read(self) -> ConnectorStatus | None:
        document = self.store.document(table, self.connector)
        if document is None:
            return None
        try:
            return ConnectorStatus.model_validate_json(document)
        except ValidationError as error:
            first = error.errors()[0]
            raise StoreDamaged(
                f"the stored state of connector {self.connector!r} is damaged ({'.'.join(map(str, first['loc']))}: "
                f"{first['msg']}). Remedy: run `entra-pipeline sync --connector {self.connector}`: its run "
                "records the state anew"
            ) from None

    def processing(self, lease: Lease, started: dt.datetime, cycle: str | None, pull: str) -> None:
        self.store.put_document(
            table,
            self.connector,
            ConnectorStatus(
                state=PROCESSING,
                since=started,
                run_id=lease.run_id,
                run_started=started,
                cycle=cycle,
                pull=pull,
                launched_by=lease.info.launched_by,
            ).model_dump_json(),
            lease,
        )

    def failed(self, run_id: str, started: dt.datetime | None, reason: str, lease: Lease | None = None) -> bool:
        """Record that a run failed, unless a later run is already recorded (False then)."""
        current = self.read_or_none()
        if (
            current
            and current.run_id not in (None, run_id)
            and current.run_started
            and started
            and current.run_started > started
        ):
            return False
        cycle, pull, launched = (
            (current.cycle, current.pull, current.launched_by)
            if current and current.run_id == run_id
            else (None, None, None)
        )
        now = dt.datetime.now(dt.UTC)
        self.store.put_document(
            table,
            self.connector,
            ConnectorStatus(
                state=FAILED,
                since=now,
                run_id=run_id,
                run_started=started or now,
                reasons=[reason],
                cycle=cycle,
                pull=pull,
                launched_by=launched,
            ).model_dump_json(),
            lease,
        )
        return True

    def died(self, dead: LeaseInfo, by: str | None = None) -> bool:
        """Record Failed for a run whose lease expired because its process died."""
        return self.failed(dead.run_id, dt.datetime.fromtimestamp(dead.acquired_at, dt.UTC), dead.died(by))

    def waiting(self, now: dt.datetime, scheduled: bool) -> bool:
        """Registered -> Scheduled (or back) for a connector with no run yet; True if it changed."""
        current = self.read_or_none()
        if current is not None and current.state not in (REGISTERED, SCHEDULED):
            return False
        state = SCHEDULED if scheduled else REGISTERED
        if current is not None and current.state == state:
            return False
        self.store.put_document(table, self.connector, ConnectorStatus(state=state, since=now).model_dump_json())
        return True

    def read_or_none(self) -> ConnectorStatus | None:
        try:
            return self.read()
        except StoreDamaged:
            return None  # about to be written anew


def outcome_document(lease: Lease, started: dt.datetime, state: str, reasons: list[str], cycle: str, pull: str) -> str:
    return ConnectorStatus(
        state=state,
        since=dt.datetime.now(dt.UTC),
        run_id=lease.run_id,
        run_started=started,
        reasons=reasons,
        cycle=cycle,
        pull=pull,
        launched_by=lease.info.launched_by,
    ).model_dump_json()


def current_status(connector: Connector, store: Store, now: dt.datetime) -> tuple[ConnectorStatus, str | None]:
    """The stored state (Registered when nothing is stored yet) and the next
    automatic run, in the spec's confirmation wording."""
    upcoming = next_run(connector, now)
    stored = StatusStore(store, connector.name).read()
    # Scheduled is said only once Dagster has the schedule: its lifecycle sensor writes it (the
    # daemon has loaded the code location). Before that the connector is Registered, and the
    # reason says what makes its schedule run.
    status = stored or ConnectorStatus(state=REGISTERED, since=now, reasons=[NOT_LOADED] if upcoming else [])
    return status, describe(upcoming, connector.schedule) if upcoming and connector.schedule else None
