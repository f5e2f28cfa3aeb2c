"""What an operator reads: the last run and its counts, and a connector's log (the spec's
"Logs tab"), from the Dagster instance the runs were recorded in (`<home>/dagster`, or
$DAGSTER_HOME when the daemon runs elsewhere)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import dagster as dg

from ..config import Connector
from ..defs.assets import asset_key, outcome_name, per_entity
from ..graph.collect import requests_shown_with
from ..sync.dagster_runs import raised_error

RUN_EVENTS = (
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)
ENTITY_FIGURES = ("inserted", "updated", "unchanged", "deleted", "retained")


@dataclass
class RunSummary:
    run_id: str
    status: str
    started: dt.datetime | None
    duration_s: float | None
    pull: str  # baseline | delta | ? (a run that failed before it chose)
    cycle: str
    state: str  # the connector state the run left (entra/state tag), or the Dagster status


@dataclass
class LogLine:
    at: dt.datetime
    level: str
    message: str


def _when(timestamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp else None


def runs(instance: dg.DagsterInstance, connector: Connector, limit: int = 10) -> list[RunSummary]:
    """The connector's runs (syncs and Test Connection), newest first."""
    records = instance.get_run_records(dg.RunsFilter(tags={"entra/connector": connector.dagster_name}), limit=limit)
    summaries = []
    for record in records:
        run = record.dagster_run
        started, ended = _when(record.start_time), _when(record.end_time)
        summaries.append(
            RunSummary(
                run_id=run.run_id,
                status=run.status.value,
                started=started,
                duration_s=(ended - started).total_seconds() if started and ended else None,
                pull=run.tags.get("entra/pull", "test connection" if "test_connection" in run.job_name else "?"),
                cycle=run.tags.get("dagster/partition", "-"),
                state=run.tags.get("entra/state", run.status.value).replace("_", " "),
            )
        )
    return summaries


def last_counts(instance: dg.DagsterInstance, connector: Connector) -> dict[str, dict[str, int]]:
    """Per entity, what the last upload did: inserted / updated / unchanged / deleted / retained."""
    event = instance.get_latest_materialization_event(asset_key(connector, "upload"))
    if event is None or event.asset_materialization is None:
        return {}
    return per_entity(event.asset_materialization.metadata)


def run_log(instance: dg.DagsterInstance, run_id: str, debug: bool = False) -> list[LogLine]:
    """What the run said: our own messages (fetched, skipped, retried and why), step failures
    with their error, and the assets it materialized; Dagster's bookkeeping only with `debug`."""
    lines = []
    for entry in instance.all_logs(run_id):
        at = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC)
        level = logging.getLevelName(entry.level)
        event = entry.dagster_event
        if event is None:
            lines.append(LogLine(at, level, entry.user_message))
        elif event.is_step_failure and event.step_failure_data:
            error = raised_error(event)
            lines.append(LogLine(at, "ERROR", f"step failed: {error.message.strip() if error else event.message}"))
        elif event.is_step_materialization:
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key  # named as the CLI names it: <connector>/raw/users
            name = outcome_name(key)
            shared = requests_shown_with(name.removeprefix("raw/")) if name.startswith("raw/") else ()
            figures = {
                k: v.value
                for k, v in materialization.metadata.items()
                if k in ("count", "pull_mode")
                or k in ("graph_requests", "resource_units", "throttled_429")
                and not shared
            }
            lines.append(
                LogLine(
                    at,
                    "INFO",
                    f"materialized {key.path[0]}/{name} "
                    + " ".join(f"{k}={v}" for k, v in figures.items())
                    + (f" (requests with {', '.join(shared)})" if shared else ""),
                )
            )
        elif event.event_type in RUN_EVENTS or debug:
            lines.append(LogLine(at, level, event.message or event.event_type_value))
    return lines
