"""The code location's Definitions, as a plain listing compared with a committed snapshot
(data/definitions_snapshot.json), as dagster-open-platform does: a change to what the UI and
the daemon see (an asset key, a check, a job, a schedule's cron, a sensor, a resource) shows
up in review as a change to that file. Regenerate it with

    UPDATE_SNAPSHOTS=1 ./dev test --quick entra_pipeline_tests/test_definitions_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from entra_pipeline.config import Connector, Schedule, save_connector
from entra_pipeline.defs import build_definitions

SNAPSHOT = Path(__file__).parent / "data" / "definitions_snapshot.json"
UPDATE_ENV = "UPDATE_SNAPSHOTS"


def _connectors(home: Path) -> None:
    """One connector with security posture on a schedule, one identities-only and manual."""
    common = dict(
        tenant_id="contoso.onmicrosoft.com",
        client_id="00000000-0000-0000-0000-000000000001",
        client_secret_env="UNUSED",
    )
    save_connector(
        home,
        Connector(
            name="contoso-prod",
            asset_types="identities_with_security_posture",
            **common,
            schedule=Schedule(
                occurs="recurring",
                start="2026-01-01 02:00",
                end="2099-01-01 00:00",  # far off: the listing never depends on the date it runs
                every="6h",
                timezone="Europe/Berlin",
            ),
        ),
    )
    save_connector(home, Connector(name="fabrikam", asset_types="identities_only", **common))


def listing(defs: dg.Definitions) -> dict:
    """What the definitions hold, per connector (by its asset group and its names' prefix), and
    what all connectors share."""
    assets = [spec for assets_def in defs.assets or [] for spec in assets_def.specs]
    checks = [check for assets_def in defs.assets or [] for check in assets_def.check_specs]
    jobs = list(defs.resolve_all_job_defs())
    schedules = list(defs.schedules or [])
    sensors = list(defs.sensors or [])
    groups = sorted({spec.group_name for spec in assets})
    per_connector = {}
    for group in groups:
        mine = [spec for spec in assets if spec.group_name == group]
        keys = {spec.key for spec in mine}
        prefix = f"{group}__"
        (step,) = [a for a in defs.assets or [] if any(spec.group_name == group for spec in a.specs)]
        per_connector[group] = {
            "sync_step": {"name": step.op.name, "partitions": step.partitions_def.name, "pool": step.op.pool},
            "assets": {
                spec.key.to_user_string(): sorted(dep.asset_key.to_user_string() for dep in spec.deps)
                for spec in sorted(mine, key=lambda s: s.key.to_user_string())
            },
            "asset_checks": sorted(
                f"{check.asset_key.to_user_string()}:{check.name}" for check in checks if check.asset_key in keys
            ),
            "jobs": {
                job.name: dict(sorted(job.tags.items()))
                for job in sorted(jobs, key=lambda j: j.name)
                if job.name.startswith(prefix)
            },
            "schedules": {
                s.name: {
                    "cron": s.cron_schedule,
                    "timezone": s.execution_timezone,
                    "job": s.job_name,
                    "default_status": s.default_status.value,
                }
                for s in sorted(schedules, key=lambda s: s.name)
                if s.name.startswith(prefix)
            },
            "sensors": {s.name: _sensor(s) for s in sorted(sensors, key=lambda s: s.name) if s.name.startswith(prefix)},
        }
    owned = {
        name for listed in per_connector.values() for kind in ("jobs", "schedules", "sensors") for name in listed[kind]
    }
    return {
        "connectors": per_connector,
        "shared": {
            "jobs": sorted(job.name for job in jobs if job.name not in owned),
            "sensors": {s.name: _sensor(s) for s in sorted(sensors, key=lambda s: s.name) if s.name not in owned},
            "resources": {key: type(resource).__name__ for key, resource in sorted((defs.resources or {}).items())},
        },
    }


def _sensor(sensor: dg.SensorDefinition) -> dict:
    return {
        "type": sensor.sensor_type.value,
        "minimum_interval_seconds": sensor.minimum_interval_seconds,
        "default_status": sensor.default_status.value,
    }


def test_the_definitions_match_the_committed_snapshot(home):
    _connectors(home)
    actual = json.dumps(listing(build_definitions(home)), indent=2, sort_keys=True) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else "(no snapshot yet)\n"
    assert actual == expected, (
        f"The Definitions changed (assets, checks, jobs, schedules, sensors or resources). If the change is meant, "
        f"regenerate {SNAPSHOT.relative_to(Path(__file__).parent.parent)} with `{UPDATE_ENV}=1 ./dev test --quick "
        f"entra_pipeline_tests/test_definitions_snapshot.py` and commit it with the change."
    )
