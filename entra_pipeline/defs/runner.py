"""Running a connector's sync job in-process, against the same Dagster instance the UI reads
(`<home>/dagster`), so a CLI sync is a run of the connector's job in the UI afterwards."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ..config import Connector
from ..store import StoreError, open_store
from ..store.database import owner_only_folder
from ..sync.cycles import BaselineCycles
from ..sync.dagster_runs import FAILED_TAG, SYNC_TAGS, failure_message
from ..sync.outcome import with_remedy
from ..sync.status import StatusStore
from .assets import PER_ENTITY, connector_assets, outcome_name, per_entity
from .code_location import runs_in_code_location
from .partitions import baseline_cycles
from .resources import HOME, HomeResource
from .schedules import sync_job

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
# Schedule, backfill and UI launches of one connector queue behind each other (the connector's
# lease in the store is what guarantees one run at a time, however launched).
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
    owner_only_folder(path)
    config = path / "dagster.yaml"
    if (
        not config.exists()
        or config.read_text().startswith("# Written by entra-pipeline")
        and config.read_text() != DAGSTER_YAML
    ):  # ours, from an older version: refreshed
        config.write_text(DAGSTER_YAML)
        config.chmod(0o600)
    return path


def instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home(home)))


@dataclass
class SyncOutcome:
    success: bool
    run_id: str
    # "raw/users", "records/users", "upload" -> the materialization's metadata; the upload's
    # per-entity table also flat, as `<entity>_<figure>` (what the CLI prints)
    materialized: dict[str, dict]
    warnings: list[str]
    state: str  # Processed | Partially Processed | Failed
    cycle: str = ""
    failure: str | None = None  # why the run failed, in one message
    per_entity: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # entity -> figure -> count (the upload's table)
    pull: str = ""  # baseline | delta, as the run chose it (its entra/pull tag); "" if it failed before


def sync(connector: Connector, home: Path, full: bool = False, wait: float | None = None) -> SyncOutcome:
    """One run in the current baseline cycle: a baseline pull if `full` or the cycle has had none
    yet, else a delta run (what the schedule launches). A run of the connector's sync job in
    this process, recorded in the Dagster instance like a launched one (the UI's timeline, the
    run-queue limits); it waits up to `wait` seconds for another run of the connector."""
    try:
        store = open_store(home)
        cycle = BaselineCycles(connector, store).at(dt.datetime.now(dt.UTC)).key
    except StoreError as error:  # before any run: nothing was read or written
        return SyncOutcome(False, "-", {}, [], "Failed", "", with_remedy(str(error)))
    assets = connector_assets(connector)
    job = dg.Definitions(
        assets=[assets], jobs=[sync_job(connector, assets)], resources={HOME: HomeResource.at(home)}
    ).resolve_job_def(f"{connector.dagster_name}__sync_job")
    with instance(home) as dagster_instance:
        partitions = baseline_cycles(connector)
        if not dagster_instance.has_dynamic_partition(partitions.name, cycle):
            dagster_instance.add_dynamic_partitions(partitions.name, [cycle])
        config = {"mode": "baseline" if full else "auto", **({"wait_seconds": wait} if wait is not None else {})}
        with runs_in_code_location(dagster_instance):
            result = job.execute_in_process(
                instance=dagster_instance,
                raise_on_error=False,
                partition_key=cycle,
                tags={"entra/connector": connector.dagster_name, "entra/trigger": "cli", **SYNC_TAGS},
                run_config={
                    "ops": {f"{connector.dagster_name}__sync": {"config": config}},
                    # The full event log stays in the instance (the UI, `logs`); the caller prints the
                    # outcome, its warnings and reason: Dagster's console copy would repeat them,
                    # a failed step's with its stack trace.
                    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
                },
            )
        materialized, figures = {}, {}
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            name = outcome_name(materialization.asset_key)
            if name == "upload":
                figures = per_entity(materialization.metadata)
            materialized[name] = _flat(materialization.metadata, figures if name == "upload" else {})
        warnings = [
            entry.user_message
            for entry in dagster_instance.all_logs(result.run_id)
            if entry.level >= logging.WARNING and not entry.is_dagster_event
        ]
        failure = (
            None if result.success else failure_message([event for event in result.all_events if event.is_step_failure])
        )
        if not result.success:
            dagster_instance.add_run_tags(result.run_id, {"entra/state": FAILED_TAG})
        run = dagster_instance.get_run_by_id(result.run_id)
        pull = run.tags.get("entra/pull", "") if run else ""
    try:
        stored = StatusStore(store, connector.name).read_or_none()
    except Exception as error:  # noqa: BLE001 - e.g. a full disk: the run's own outcome is still reported
        stored = None
        warnings.append(f"the connector's state could not be read back: {str(error).splitlines()[0][:300]}")
    # The run's own outcome, from its upload: once it released the lease the next run of the
    # connector may already have written the shared state (Processing) before this line reads it.
    committed = materialized.get("upload", {}).get("state")
    if not result.success:
        state = "Failed"
    elif committed:
        state = committed
    else:
        state = stored.state if stored and stored.run_id == result.run_id else "Failed"
    return SyncOutcome(result.success, result.run_id, materialized, warnings, state, cycle, failure, figures, pull)


def _flat(metadata: dict, figures: dict[str, dict[str, int]]) -> dict:
    """Plain values by key; the upload's table as `<entity>_<figure>` in place of the table and
    its `records_<figure>` totals (the CLI reads `<entity>_<figure>` keys)."""
    plain = {
        key: value.value
        for key, value in metadata.items()
        if key != PER_ENTITY and not (figures and key.startswith("records_"))
    }
    return {**plain, **{f"{entity}_{what}": n for entity, values in figures.items() for what, n in values.items()}}
