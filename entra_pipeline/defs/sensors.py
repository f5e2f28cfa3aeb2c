"""Sensors that keep each connector's state (entra_pipeline/sync/status.py): a lifecycle sensor per
connector registers baseline cycles as they begin, moves Registered -> Scheduled and frees a
connector whose run died; a secret-expiry sensor per connector reads its client secret's end
date, keeps it for `status` and warns before it expires (it never requests a run); two
run-status sensors report how every sync run ended (the run itself commits its outcome; they
record Failed only for a run that could not, with entra_pipeline.sync.dagster_runs)."""

import datetime as dt
from pathlib import Path

import dagster as dg

from ..config import Connector
from ..graph.auth import without_reprs
from ..graph.secret_expiry import WARN_DAYS, secret_expiry_note
from ..sync.cycles import BaselineCycles
from ..sync.dagster_runs import FAILED_TAG, REDELIVER_TAGS, SYNC_TAGS, failure_message, reap_dead_run, record_failure
from ..sync.pipeline import error_line
from ..sync.schedule import next_run
from ..sync.status import StatusStore
from .partitions import baseline_cycles
from .resources import HomeResource


def lifecycle_sensor(connector: Connector) -> dg.SensorDefinition:
    partitions = baseline_cycles(connector)

    @dg.sensor(
        name=f"{connector.dagster_name}__lifecycle",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Registers the baseline cycles of connector {connector.name} as partitions as they begin (so any "
        "cycle can be backfilled), records Registered / Scheduled, and frees the connector "
        "from a run whose process died (its lease expired): that run is marked failed.",
    )
    def lifecycle(context: dg.SensorEvaluationContext, home: HomeResource) -> dg.SensorResult:
        now = dt.datetime.now(dt.UTC)
        store = home.store()
        reaped = reap_dead_run(store, connector, context.instance)
        if reaped:
            context.log.warning(f"{connector.name}: {reaped}")
        missing = [
            cycle.key
            for cycle in BaselineCycles(connector, store).started(now)
            if not context.instance.has_dynamic_partition(partitions.name, cycle.key)
        ]
        StatusStore(store, connector.name).waiting(now, scheduled=next_run(connector, now) is not None)
        return dg.SensorResult(dynamic_partitions_requests=[partitions.build_add_request(missing)] if missing else [])

    return lifecycle


def secret_expiry_sensor(connector: Connector) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{connector.dagster_name}__secret_expiry",
        minimum_interval_seconds=6 * 3600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reads when the client secret of connector {connector.name} expires (one Graph request "
        "for its application's passwordCredentials), keeps it in the store for `status`, and "
        f"warns from {WARN_DAYS} days before, so it is rotated before runs fail. It never "
        "launches a run: every tick is skipped, and its skip reason is what it found.",
    )
    def secret_expiry(context: dg.SensorEvaluationContext, home: HomeResource) -> dg.SkipReason:
        # A check on a timer, not a trigger: a sensor is how Dagster runs one between syncs without
        # a run of its own, and the tick's skip reason is where the UI shows its finding.
        # Never a failed tick: an unreachable Graph, a lost CA bundle or an unreadable secret is
        # said in the skip reason, with what to do, and read again at the next tick.
        problem = _ca_bundle_missing(connector)
        if problem:
            return dg.SkipReason(problem)
        try:
            expiry, warning = secret_expiry_note(connector, home.folder())
        except Exception as error:  # noqa: BLE001 - the tick says it; the next one tries again
            expiry, warning = None, f"client secret expiry not read: {error_line(error)}"
        if warning and warning.startswith(NOT_READ):
            return dg.SkipReason(_not_read(connector, warning))
        if warning:
            context.log.warning(warning)
            return dg.SkipReason(f"WARNING: {warning}")
        if expiry is None or expiry.ends is None:
            return dg.SkipReason(expiry.detail if expiry else "expiry unknown")
        return dg.SkipReason(f"client secret valid until {expiry.ends:%Y-%m-%d %H:%M} UTC")

    return secret_expiry


NOT_READ = "client secret expiry not read"


def _ca_bundle_missing(connector: Connector) -> str | None:
    bundle = connector.ca_bundle
    if bundle is None or Path(bundle).exists():
        return None
    return (
        f"client secret expiry not read: the CA bundle {bundle} of connector {connector.name} does not exist "
        f"(a demo's simulator that is no longer running?): start that simulator again, or point the connector at "
        f"an existing bundle (`entra-pipeline connector edit {connector.name}`)"
    )


def _not_read(connector: Connector, warning: str) -> str:
    detail = without_reprs(warning.removeprefix(NOT_READ).lstrip(": "))
    return (
        f"{NOT_READ} for connector {connector.name} (Graph or its identity platform not reachable, or the "
        f"secret refused): {detail}. Read again at the next tick; `entra-pipeline test-connection --connector "
        f"{connector.name}` shows which check fails"
    )


def outcome_sensors(connectors: dict[str, Connector]) -> list[dg.SensorDefinition]:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="entra_run_processed",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reports the Processed / Partially Processed state a connector's sync run committed.",
    )
    def processed(context: dg.RunStatusSensorContext, home: HomeResource) -> None:
        connector = connectors.get(context.dagster_run.tags.get("entra/connector", ""))
        if connector is not None:
            stored = StatusStore(home.store(), connector.name).read_or_none()
            if stored is not None and stored.run_id == context.dagster_run.run_id:
                context.log.info(
                    f"{connector.name}: run {stored.run_id} {stored.state}"
                    + "".join(f"; {reason}" for reason in stored.reasons)
                )

    @dg.run_failure_sensor(
        name="entra_run_failed",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records Failed when a connector's sync run failed without recording it (it "
        "failed before its step started, or its process died).",
    )
    def failed(context: dg.RunFailureSensorContext, home: HomeResource) -> None:
        run = context.dagster_run
        if run.tags.get("entra/kind") in (SYNC_TAGS["entra/kind"], REDELIVER_TAGS["entra/kind"]):
            context.instance.add_run_tags(run.run_id, {"entra/state": FAILED_TAG})
        record_failure(
            home.store(), connectors, context.instance, run, failure_message(context.get_step_failure_events())
        )

    return [processed, failed]
