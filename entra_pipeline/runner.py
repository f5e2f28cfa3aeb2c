"""Running a connector's Dagster assets in-process, against the same Dagster instance the UI
reads (`<home>/dagster`), so a CLI sync is visible in the UI afterwards."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .config import Connector
from .cycles import BaselineCycles
from .defs.assets import connector_assets
from .defs.partitions import baseline_cycles
from .defs.assets import SYNC_TAGS
from .defs.sensors import OUTCOME_TAGS, failure_message, record_outcome

DAGSTER_HOME_ENV = "ENTRA_PIPELINE_DAGSTER_HOME"
DAGSTER_YAML = """\
# Written by entra-pipeline: local SQLite storage under this folder, telemetry off.
telemetry:
  enabled: false
# Our own log lines (what was fetched, retried and why, skipped) go into Dagster's event log:
# the connector's Logs tab (`entra-pipeline logs`, the run's page in the UI).
python_logs:
  managed_python_loggers: [entra_pipeline]
  python_log_level: INFO
# One run per connector at a time (schedule, backfill and UI launches queue behind each other):
# its delta links, cycle ledger and inventory are written by one run at once.
concurrency:
  runs:
    tag_concurrency_limits:
      - key: entra/connector
        value: {applyLimitPerUniqueValue: true}
        limit: 1
"""


def dagster_home(home: Path) -> Path:
    """The Dagster instance the CLI records its runs in and reads status and logs from:
    $ENTRA_PIPELINE_DAGSTER_HOME (in production the daemon's $DAGSTER_HOME, e.g. on PostgreSQL,
    used as it is), else `<home>/dagster` with the defaults above."""
    explicit = os.environ.get(DAGSTER_HOME_ENV)
    if explicit:
        return Path(explicit)
    path = home / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or config.read_text().startswith("# Written by entra-pipeline") and \
            config.read_text() != DAGSTER_YAML:  # ours, from an older version: refreshed
        config.write_text(DAGSTER_YAML)
    return path


def instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home(home)))


@dataclass
class SyncOutcome:
    success: bool
    run_id: str
    materialized: dict[str, dict]  # raw asset -> metadata
    warnings: list[str]
    state: str  # Processed | Partially Processed | Failed
    cycle: str = ""
    failure: str | None = None  # why the run failed, in one message


def sync(connector: Connector, home: Path, full: bool = False) -> SyncOutcome:
    """One run in the current baseline cycle: a baseline pull if `full` or the cycle has had none
    yet, else a delta run (what the schedule launches)."""
    cycle = BaselineCycles(connector, home).at(dt.datetime.now(dt.timezone.utc)).key
    with instance(home) as dagster_instance:
        partitions = baseline_cycles(connector)
        if not dagster_instance.has_dynamic_partition(partitions.name, cycle):
            dagster_instance.add_dynamic_partitions(partitions.name, [cycle])
        result = dg.materialize([connector_assets(connector, home)], instance=dagster_instance, raise_on_error=False,
                                partition_key=cycle,
                                tags={"entra/connector": connector.dagster_name, "entra/trigger": "cli", **SYNC_TAGS},
                                run_config={
                                    "ops": {f"{connector.dagster_name}__sync": {
                                        "config": {"mode": "baseline" if full else "auto"}}},
                                    # the full event log stays in the instance (and the UI); the console gets warnings
                                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        materialized = {}
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            materialized["/".join(materialization.asset_key.path[1:])] = {
                key: value.value for key, value in materialization.metadata.items()}
        warnings = [entry.user_message for entry in dagster_instance.all_logs(result.run_id)
                    if entry.level >= logging.WARNING and not entry.is_dagster_event]
        failure = None if result.success else failure_message(
            [event for event in result.all_events if event.is_step_failure])
        run = dagster_instance.get_run_by_id(result.run_id)
        # The run-status sensors record the same outcome when a daemon runs; writing it here too
        # keeps the state true for CLI runs without one (the write is idempotent).
        try:
            state = record_outcome(home, {connector.dagster_name: connector}, dagster_instance, run, failure)
        except OSError as error:  # e.g. the disk is full: the run's own outcome is still reported
            state = None if failure else OUTCOME_TAGS.get(run.tags.get("entra/state", ""))
            warnings.append(f"the connector's state could not be recorded: {error}")
        return SyncOutcome(result.success, result.run_id, materialized, warnings, state or "Failed", cycle, failure)
