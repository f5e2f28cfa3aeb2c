"""Running a connector's Dagster assets in-process, against the same Dagster instance the UI
reads (`<home>/dagster`), so a CLI sync is visible in the UI afterwards."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .config import Connector
from .defs import connector_assets

DAGSTER_YAML = """\
# Written by entra-pipeline: local SQLite storage under this folder, telemetry off.
telemetry:
  enabled: false
"""


def dagster_home(home: Path) -> Path:
    path = home / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
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


def sync(connector: Connector, home: Path, full: bool = False) -> SyncOutcome:
    with instance(home) as dagster_instance:
        result = dg.materialize([connector_assets(connector, home)], instance=dagster_instance, raise_on_error=False,
                                tags={"entra/connector": connector.dagster_name, "entra/trigger": "cli"},
                                run_config={
                                    "ops": {f"{connector.dagster_name}__sync": {"config": {"full": full}}},
                                    # the full event log stays in the instance (and the UI); the console gets warnings
                                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        materialized = {}
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            materialized["/".join(materialization.asset_key.path[1:])] = {
                key: value.value for key, value in materialization.metadata.items()}
        warnings = [entry.user_message for entry in dagster_instance.all_logs(result.run_id)
                    if entry.level >= logging.WARNING and not entry.is_dagster_event]
        upload = materialized.get("upload", {})
        state = upload.get("state", "Failed") if result.success else "Failed"
        return SyncOutcome(result.success, result.run_id, materialized, warnings, state)
