"""How a run ended, as the Dagster instance and the store record it: the tags a run carries,
how it was launched, what its failed step raised, and recording Failed for a run that could
not (its process died, or it failed before its step). Domain code the CLI (sync/runner.py,
cli/report.py) and the Dagster layer (defs/) both read, so neither imports the other's modules."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg

from .. import redact
from ..config import Connector
from ..store import LeaseInfo, Store
from .outcome import with_remedy
from .pipeline import INTERRUPTED
from .status import PROCESSING, StatusStore

# Tags every sync / re-delivery run carries (the sensors and the per-connector run limit select on them).
SYNC_TAGS = {"entra/kind": "sync"}
REDELIVER_TAGS = {"entra/kind": "redeliver"}
FAILED_TAG = "failed"  # entra/state of a failed run (the others are the state's own tag)

FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def launched_by(run: dg.DagsterRun) -> str:
    tags = run.tags
    if tags.get("entra/trigger"):
        return tags["entra/trigger"]
    if "dagster/backfill" in tags:
        return "backfill"
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return "ui"


def fail_dead_run(instance: dg.DagsterInstance, dead: LeaseInfo, by: str | None = None) -> bool:
    """Mark the run of an expired lease failed in this instance, unless it already ended (or
    belongs to another instance): a STARTED run nobody finishes would hold the connector's
    run-queue slot forever. Not the taking run itself: a step Celery hands to another worker
    after its first worker was lost takes over its own run's lease, and that run goes on."""
    run = instance.get_run_by_id(dead.run_id)
    if run is None or run.status in FINISHED or dead.run_id == by:
        return False
    instance.report_run_failed(run, message=f"the run failed: {dead.died(by)}")
    return True


def ended_already(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """Why a step must not run: its run already ended. A broker hands a lost worker's step to
    another worker after its visibility timeout, by which time the run was marked failed (its
    lease expired) and the connector may have synced since."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status not in FINISHED:
        return None
    return (
        f"run {run_id} already ended ({run.status.value}): this step was handed out again after the worker "
        "that had it was lost, and is not run; the connector's next run starts from its last commit"
    )


def raised_error(event: dg.DagsterEvent):
    """What a failed step raised, unwrapped from Dagster's DagsterExecutionStepExecutionError."""
    error = event.step_failure_data.error if event.step_failure_data else None
    while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
        error = error.cause
    return error


QUALIFIED_NAME = re.compile(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: ")


INTERRUPTS = {"DagsterExecutionInterruptedError", "KeyboardInterrupt", "Interrupted"}  # the last: interrupts.py


def failure_message(step_failures: list[dg.DagsterEvent]) -> str:
    """The error a failed step raised (e.g. "nothing could be fetched ..."), not Dagster's summary."""
    for event in step_failures:
        error = raised_error(event)
        if error is not None and error.cls_name in INTERRUPTS:
            return INTERRUPTED
        if (
            error is not None
        ):  # without the exception's module path ("entra_pipeline.destinations.qualys.csam.QualysError: ")
            text = QUALIFIED_NAME.sub("", error.message.strip().split("\n")[0], count=1)[:600]
            return with_remedy(redact.mask(text))
    return "the run failed before its sync step finished; see the run's logs"


def record_failure(
    store: Store, connectors: dict[str, Connector], instance: dg.DagsterInstance, run: dg.DagsterRun, failure: str
) -> bool:
    """A sync run that failed without recording it (its process died after it recorded
    Processing, or it failed before its step): record Failed — never over another run's state
    (a run refused because another held the connector leaves the holder's state alone)."""
    connector = connectors.get(run.tags.get("entra/connector", ""))
    if connector is None or run.tags.get("entra/kind") != SYNC_TAGS["entra/kind"]:
        return False
    status = StatusStore(store, connector.name)
    current = status.read_or_none()
    if current is not None and current.run_id == run.run_id:
        return current.state == PROCESSING and status.failed(run.run_id, current.run_started, failure)
    record = instance.get_run_record_by_id(run.run_id)
    started = dt.datetime.fromtimestamp(record.start_time or record.create_timestamp.timestamp(), dt.UTC)
    held, expired = store.lease_holder(connector.name)
    if (held is not None and not expired) or (
        current is not None and (current.state == PROCESSING or current.since >= started)
    ):
        return False
    return status.failed(run.run_id, started, failure)


def reap_dead_run(store: Store, connector: Connector, instance: dg.DagsterInstance) -> str | None:
    """If the connector's lease expired (its run's process died), record that run Failed in the
    store and the instance and free the connector; returns what was done."""
    held, expired = store.lease_holder(connector.name)
    if held is None or not expired or not store.release_expired(connector.name, held):
        return None
    StatusStore(store, connector.name).died(held)
    marked = fail_dead_run(instance, held)
    return f"run {held.run_id}: {held.died()}: recorded Failed" + (", and marked failed in Dagster" if marked else "")
