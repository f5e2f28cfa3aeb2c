"""A connector's schedule: its runs (Single Occurrence or Recurring, in its timezone) as a
Dagster schedule on the cron `entra_pipeline.sync.schedule` derives, keeping only the ticks that are
runs. Each run targets the baseline cycle it falls in; the asset decides baseline or delta."""

import datetime as dt

import dagster as dg

from ..config import Connector
from ..dagster_private import UnresolvedAssetJobDefinition
from ..sync.cycles import BaselineCycles
from ..sync.dagster_runs import SYNC_TAGS
from ..sync.schedule import confirmation, skip_reason, tick_cron
from .partitions import baseline_cycles
from .resources import HomeResource


def sync_job(connector: Connector, assets: dg.AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"{connector.dagster_name}__sync_job",
        selection=dg.AssetSelection.assets(assets),
        tags={"entra/connector": connector.dagster_name, **SYNC_TAGS},
        description=f"Sync connector {connector.name!r}; launch a baseline cycle's "
        "partition to re-run that cycle's baseline (full) pull.",
    )


def connector_schedule(connector: Connector, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition | None:
    """None when nothing may run automatically: no schedule, or Require Manual Sync."""
    schedule = connector.schedule
    if schedule is None or connector.require_manual_sync:
        return None
    partitions = baseline_cycles(connector)

    @dg.schedule(
        name=f"{connector.dagster_name}__schedule",
        cron_schedule=tick_cron(schedule),
        execution_timezone=schedule.timezone,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=confirmation(connector),
    )
    def evaluate(context: dg.ScheduleEvaluationContext, home: HomeResource):
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        reason = skip_reason(schedule, tick)
        if reason:
            return dg.SkipReason(reason)
        cycle = BaselineCycles(connector, home.store()).at(tick)
        # Schedules cannot return dynamic-partition requests; the cycle must exist before its run.
        if not context.instance.has_dynamic_partition(partitions.name, cycle.key):
            context.instance.add_dynamic_partitions(partitions.name, [cycle.key])
        return dg.RunRequest(
            run_key=f"{connector.dagster_name}-{tick.isoformat()}",
            partition_key=cycle.key,
            run_config={"ops": {f"{connector.dagster_name}__sync": {"config": {"mode": "auto"}}}},
            tags={"entra/trigger": "schedule"},
        )

    return evaluate
