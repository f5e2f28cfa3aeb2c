"""Dagster wiring only: each configured connector becomes a group of assets (partitioned by
baseline cycle), a sync job, a schedule (unless manual), lifecycle and secret-expiry sensors,
a Test Connection job and a re-delivery job; two run-status sensors record every connector's state. The work itself is
domain code (`entra_pipeline.graph.collect`, `.qualys`, `.schedule`, `.cycles`, `.status`)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..config import load_connectors
from .assets import connector_assets
from .connection import test_connection_job
from .executor import selected_executor
from .redeliver import redeliver_job
from .resources import HOME, HomeResource
from .schedules import connector_schedule, sync_job
from .sensors import lifecycle_sensor, outcome_sensors, secret_expiry_sensor


def build_definitions(home: Path, resource: HomeResource | None = None) -> dg.Definitions:
    """The connectors of `home`, each definition given the home as the `home` resource: `resource`
    (the code location's, from the environment) or one at `home`."""
    connectors = load_connectors(home)
    assets, jobs, schedules, sensors = [], [], [], []
    for connector in connectors:
        sync = connector_assets(connector)
        job = sync_job(connector, sync)
        schedule = connector_schedule(connector, job)
        assets.append(sync)
        jobs += [job, test_connection_job(connector), redeliver_job(connector)]
        schedules += [schedule] if schedule else []
        sensors += [lifecycle_sensor(connector), secret_expiry_sensor(connector)]
    if connectors:
        sensors += outcome_sensors({c.dagster_name: c for c in connectors})
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={HOME: resource or HomeResource.at(home)},
        executor=selected_executor(),
    )
