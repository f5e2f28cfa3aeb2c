"""Sensors that keep each connector's state (entra_pipeline/status.py): a lifecycle sensor per
connector registers baseline cycles as they begin and moves Registered -> Scheduled; a
secret-expiry sensor per connector warns before its client secret expires; two run-status
sensors record how every sync run ended."""

import datetime as dt
import re
from pathlib import Path

import dagster as dg

from ..config import Connector
from ..cycles import BaselineCycles
from ..graph.secret_expiry import WARN_DAYS, secret_expiry_note
from ..schedule import next_run
from ..state import PARTIALLY_PROCESSED, PROCESSED, with_remedy
from ..status import FAILED, StatusStore
from .partitions import baseline_cycles
from .assets import SYNC_TAGS

OUTCOME_TAGS = {"processed": PROCESSED, "partially_processed": PARTIALLY_PROCESSED}


def lifecycle_sensor(connector: Connector, home: Path) -> dg.SensorDefinition:
    partitions = baseline_cycles(connector)

    @dg.sensor(name=f"{connector.dagster_name}__lifecycle", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Registers {connector.name!r}'s baseline cycles as partitions as they begin (so any "
                           "cycle can be backfilled) and records Registered / Scheduled.")
    def lifecycle(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        now = dt.datetime.now(dt.timezone.utc)
        missing = [cycle.key for cycle in BaselineCycles(connector, home).started(now)
                   if not context.instance.has_dynamic_partition(partitions.name, cycle.key)]
        StatusStore(home, connector.name).waiting(now, scheduled=next_run(connector, now) is not None)
        return dg.SensorResult(dynamic_partitions_requests=[partitions.build_add_request(missing)] if missing else [])

    return lifecycle


def secret_expiry_sensor(connector: Connector, home: Path) -> dg.SensorDefinition:
    @dg.sensor(name=f"{connector.dagster_name}__secret_expiry", minimum_interval_seconds=6 * 3600,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Reads when {connector.name!r}'s client secret expires (its application's "
                           f"passwordCredentials) and warns from {WARN_DAYS} days before, so it is rotated "
                           "before runs fail.")
    def secret_expiry(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        expiry, warning = secret_expiry_note(connector, home)
        if warning:
            context.log.warning(warning)
            return dg.SkipReason(f"WARNING: {warning}")
        if expiry is None or expiry.ends is None:
            return dg.SkipReason(expiry.detail if expiry else "expiry unknown")
        return dg.SkipReason(f"client secret valid until {expiry.ends:%Y-%m-%d %H:%M} UTC")

    return secret_expiry


def record_outcome(home: Path, connectors: dict[str, Connector], instance: dg.DagsterInstance,
                   run: dg.DagsterRun, failure: str | None = None) -> str | None:
    """Store how a sync run ended; returns the state written (None if not a sync run)."""
    connector = connectors.get(run.tags.get("entra/connector", ""))
    if connector is None or run.tags.get("entra/kind") != SYNC_TAGS["entra/kind"]:
        return None
    record = instance.get_run_record_by_id(run.run_id)
    started = dt.datetime.fromtimestamp(record.start_time or record.create_timestamp.timestamp(), dt.timezone.utc)
    ended = dt.datetime.fromtimestamp(record.end_time, dt.timezone.utc) if record.end_time else dt.datetime.now(dt.timezone.utc)
    if failure is not None:
        state, reasons = FAILED, [failure]
    else:
        state, reasons = OUTCOME_TAGS.get(run.tags.get("entra/state", ""), FAILED), _reasons(instance, run, connector)
    StatusStore(home, connector.name).outcome(run.run_id, started, state, reasons, ended,
                                              cycle=run.tags.get("dagster/partition"), pull=run.tags.get("entra/pull"))
    return state


def raised_error(event: dg.DagsterEvent):
    """What a failed step raised, unwrapped from Dagster's DagsterExecutionStepExecutionError."""
    error = event.step_failure_data.error if event.step_failure_data else None
    while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
        error = error.cause
    return error


QUALIFIED_NAME = re.compile(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: ")


def failure_message(step_failures: list[dg.DagsterEvent]) -> str:
    """The error a failed step raised (e.g. "nothing could be fetched ..."), not Dagster's summary."""
    for event in step_failures:
        error = raised_error(event)
        if error is not None:  # without the exception's module path ("entra_pipeline.qualys.csam.QualysError: ")
            return with_remedy(QUALIFIED_NAME.sub("", error.message.strip().split("\n")[0], count=1)[:600])
    return "the run failed before its sync step finished; see the run's logs"


def _reasons(instance: dg.DagsterInstance, run: dg.DagsterRun, connector: Connector) -> list[str]:
    upload = dg.AssetKey([connector.name, "upload"])
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.dagster_event.event_specific_data.materialization
        if materialization.asset_key == upload and "state_reasons" in materialization.metadata:
            return [line for line in materialization.metadata["state_reasons"].value.split("\n") if line]
    return []


def outcome_sensors(home: Path, connectors: dict[str, Connector]) -> list[dg.SensorDefinition]:
    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="entra_run_processed",
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Records Processed / Partially Processed when a connector's sync run succeeds.")
    def processed(context: dg.RunStatusSensorContext) -> None:
        state = record_outcome(home, connectors, context.instance, context.dagster_run)
        if state:
            context.log.info(f"run {context.dagster_run.run_id}: {state}")

    @dg.run_failure_sensor(name="entra_run_failed", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Records Failed when a connector's sync run fails.")
    def failed(context: dg.RunFailureSensorContext) -> None:
        record_outcome(home, connectors, context.instance, context.dagster_run,
                       failure=failure_message(context.get_step_failure_events()))

    return [processed, failed]
