"""Re-delivery as a Dagster job (`<connector>__redeliver`): the UI's way to send the last
committed records to the destination again after an outage, without pulling the tenant.
The work is `entra_pipeline.sync.redeliver`; the job records on the upload asset what it
delivered, so the asset's history shows the re-delivery next to the syncs."""

import dagster as dg

from .. import redact
from ..config import Connector
from ..store import ConnectorBusy, LeaseLost, StoreError
from ..sync.dagster_runs import FAILED_TAG, REDELIVER_TAGS, fail_dead_run, launched_by
from ..sync.pipeline import Started, error_line
from ..sync.redeliver import Redelivered, redeliver_steps
from .assets import asset_key, delivery_metadata
from .partitions import baseline_cycles
from .resources import HomeResource


class RedeliverConfig(dg.Config):
    # How long to wait for another run of the connector (its lease); unset: as a sync waits.
    wait_seconds: float | None = None


def redeliver_job(connector: Connector) -> dg.JobDefinition:
    name = connector.dagster_name

    @dg.op(
        name=f"{name}__redeliver_records",
        description="Rebuild every record from the committed snapshot (no Graph request) and deliver them "
        "again; no delta link moves.",
    )
    def redeliver(context: dg.OpExecutionContext, config: RedeliverConfig, home: HomeResource) -> None:
        redact.install()
        run_id = context.run.run_id
        try:
            for step in redeliver_steps(
                connector, home.store(), run_id, launched_by(context.run), wait=config.wait_seconds
            ):
                if isinstance(step, Started) and step.took_over:
                    fail_dead_run(context.instance, step.took_over, run_id)
                elif isinstance(step, Redelivered):
                    _report(context, connector, step)
        except (ConnectorBusy, LeaseLost, StoreError) as error:
            context.instance.add_run_tags(run_id, {"entra/state": FAILED_TAG})
            raise dg.Failure(redact.mask(str(error))) from None
        except Exception as error:
            context.instance.add_run_tags(run_id, {"entra/state": FAILED_TAG})
            raise dg.Failure(error_line(error)) from None

    @dg.job(
        name=f"{name}__redeliver",
        tags={"entra/connector": name, **REDELIVER_TAGS},
        description=f"Deliver connector {connector.name}'s last committed records to the "
        f"{connector.destination.kind} destination again, without reading the tenant (after a "
        "destination outage, or an inventory restored from an old backup). Queued behind the "
        "connector's other runs.",
    )
    def job() -> None:
        redeliver()

    return job


def _report(context: dg.OpExecutionContext, connector: Connector, step: Redelivered) -> None:
    delivered = step.delivered
    state = delivered.state
    context.instance.add_run_tags(context.run.run_id, {"entra/state": state.tag, "entra/pull": "redelivery"})
    for entity, reason in delivered.skipped.items():
        context.log.warning(f"{entity} not delivered again, nothing removed: {reason}")
    (context.log.info if not state.reasons else context.log.warning)(
        f"{connector.name}: re-delivery {state.state}" + "".join(f"; {reason}" for reason in state.reasons)
    )
    # On the upload asset, in the snapshot's cycle: its history shows what was delivered last.
    partition = (
        step.cycle
        if step.cycle and context.instance.has_dynamic_partition(baseline_cycles(connector).name, step.cycle)
        else None
    )
    context.log_event(
        dg.AssetMaterialization(
            asset_key=asset_key(connector, "upload"),
            partition=partition,
            metadata={**delivery_metadata(connector, delivered), "redelivery": True, "cycle": step.cycle},
        )
    )
