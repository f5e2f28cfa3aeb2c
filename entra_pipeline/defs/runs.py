"""What the Dagster layer knows about runs: how a run was launched, what a failed step raised,
and marking a run whose process died as failed (a lease that expired names it)."""

from __future__ import annotations

import re

import dagster as dg

from .. import redact
from ..pipeline import INTERRUPTED
from ..state import with_remedy
from ..store import LeaseInfo

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
    return (f"run {run_id} already ended ({run.status.value}): this step was handed out again after the worker "
            "that had it was lost, and is not run; the connector's next run starts from its last commit")


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
        if error is not None:  # without the exception's module path ("entra_pipeline.qualys.csam.QualysError: ")
            text = QUALIFIED_NAME.sub("", error.message.strip().split("\n")[0], count=1)[:600]
            return with_remedy(redact.mask(text))
    return "the run failed before its sync step finished; see the run's logs"
