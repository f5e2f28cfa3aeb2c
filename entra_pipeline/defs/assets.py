"""A connector's assets: `<connector>/raw_<entity>` (Graph objects), `<connector>/records_<entity>`
(Qualys records) and `<connector>/upload` (delivery), in one group. The stage is in the key's
last part because the UI labels a node with that part alone: `users` would be two nodes.

They are one multi-asset step: Dagster skips every downstream step when an upstream
skippable output is absent, so separate steps would let a 403 on applications stop users'
records and the upload too. Inside one step each asset is yielded only when its own data
arrived whole, and the lineage raw -> records -> upload stays visible in the asset graph.
"""

import os
import socket
import traceback
from typing import Literal

import dagster as dg

from .. import redact
from ..config import Connector
from ..destinations.protocol import DeliveryReport
from ..entities import ENTITIES, RAW_ASSETS, entities_for, raw_assets_for
from ..graph.collect import Collection
from ..graph.secret_expiry import SecretExpiry, days_left
from ..store import ConnectorBusy, LeaseLost, StoreError
from ..sync.dagster_runs import FAILED_TAG, SYNC_TAGS, ended_already, fail_dead_run, launched_by
from ..sync.outcome import PROCESSED
from ..sync.pipeline import Built, Delivered, NothingFetched, Pulled, Started, error_line, sync_steps
from .partitions import baseline_cycles
from .resources import HomeResource

PER_ENTITY, ENTITY_COLUMN = "per_entity", "entity"

STAGES = ("raw", "records")
# Ends every asset's description: the UI's "additional assets will be materialized" when one
# asset is launched says nothing about why, the description is where an operator reads it.
ONE_STEP = (
    "Materialized with the connector's other assets in one sync step: a delta run, the records built "
    "from it and their delivery must commit together (a delta link may advance only once the "
    "destination has its changes), and a separate step would be skipped when an upstream entity is not "
    "fetched instead of keeping its previous data."
)


def asset_key(connector: Connector, stage: str, entity: str = "") -> dg.AssetKey:
    """`[connector, "raw_users"]`, `[connector, "records_users"]`, `[connector, "upload"]`."""
    return dg.AssetKey([connector.name, f"{stage}_{entity}" if entity else stage])


def outcome_name(key: dg.AssetKey) -> str:
    """The name a sync's outcome gives an asset, without the connector: "raw/users",
    "records/users", "upload" (what the CLI and the tests read)."""
    stage, _, entity = key.path[-1].partition("_")
    return f"{stage}/{entity}" if stage in STAGES and entity else key.path[-1]


def _described(text: str) -> str:
    return f"{text} {ONE_STEP}"


def _specs(connector: Connector) -> list[dg.AssetSpec]:
    group, tags = connector.dagster_name, {"entra/connector": connector.dagster_name}
    raw, entities = raw_assets_for(connector.asset_types), entities_for(connector.asset_types)
    specs = [
        dg.AssetSpec(
            key=asset_key(connector, "raw", name),
            group_name=group,
            description=_described(RAW_ASSETS[name].description),
            skippable=True,
            kinds={"parquet"},
            tags=tags,
        )
        for name in raw
    ]
    specs += [
        dg.AssetSpec(
            key=asset_key(connector, "records", entity),
            group_name=group,
            skippable=True,
            deps=[asset_key(connector, "raw", name) for name in ENTITIES[entity].inputs if name in raw],
            description=_described(f"Qualys asset records for {entity}, per the spec's transformation map."),
            kinds={"parquet"},
            tags=tags,
        )
        for entity in entities
    ]
    specs.append(
        dg.AssetSpec(
            key=asset_key(connector, "upload"),
            group_name=group,
            skippable=True,
            deps=[asset_key(connector, "records", e) for e in entities],
            description=_described(
                f"Deliver the records to the {connector.destination.kind} "
                "destination; its check every_entity_processed fails "
                "(ERROR) when the run is Partially Processed."
            ),
            tags=tags,
        )
    )
    return specs


class SyncConfig(dg.Config):
    # "baseline" (the default, so launching or backfilling a cycle's partition in the UI re-runs
    # its baseline): users and groups in full. "auto" (schedules, CLI): in full only if this
    # cycle has had no baseline yet, else a delta run.
    mode: Literal["baseline", "auto"] = "baseline"
    # How long to wait for another run of the connector (its lease) before giving up; unset:
    # $ENTRA_PIPELINE_LEASE_WAIT, else 180 s (past one lease expiry, so a dead holder is replaced).
    wait_seconds: float | None = None


def processed_check(connector: Connector) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "every_entity_processed",
        asset=asset_key(connector, "upload"),
        description="Fails with ERROR severity when the run is Partially Processed (an entity "
        "not fetched, records rejected or an entity not delivered; the reasons name "
        "the remedy), so the state is seen on the asset and the run at a glance. "
        "It does not fail the run: what was delivered is committed and the data "
        "of what was not is kept.",
    )


def connector_assets(connector: Connector) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"{connector.dagster_name}__sync",
        specs=_specs(connector),
        can_subset=False,
        pool=f"msgraph_{connector.dagster_name}",
        partitions_def=baseline_cycles(connector),
        check_specs=[processed_check(connector)],
        description=f"Pull connector {connector.name!r} (tenant {connector.tenant_id}) from Microsoft "
        "Graph, transform with the spec's maps, deliver to the destination. Partitioned "
        f"by {connector.baseline} baseline cycle.",
    )
    def sync(context: dg.AssetExecutionContext, config: SyncConfig, home: HomeResource):
        redact.install()  # whichever process runs the step: its log lines mask the secrets it holds
        cycle, run_id = context.partition_key, context.run.run_id
        # Steps may run on any worker (Celery, Kubernetes): which one ran this is for the operator
        # reading a failure, and for the tests that prove steps moved between workers.
        worker = _worker()
        context.log.info(f"sync step on {worker}")
        ended = ended_already(context.instance, run_id)
        if ended:
            raise dg.Failure(ended)
        store = home.store()
        # The UI's Materialize and backfills launch the asset job without our job's tags: the step
        # adds them, so every run of the connector is found by its tags, however launched.
        context.instance.add_run_tags(run_id, {"entra/connector": connector.dagster_name, **SYNC_TAGS})
        expiry, pull = None, ""
        try:
            for step in sync_steps(
                connector, store, cycle, run_id, config.mode, launched_by(context.run), wait=config.wait_seconds
            ):
                if isinstance(step, Started):
                    pull = step.pull
                    context.instance.add_run_tags(run_id, {"entra/pull": pull})
                    if step.took_over:
                        fail_dead_run(context.instance, step.took_over, run_id)
                    context.log.info(f"cycle {cycle}: {'baseline (full) pull' if step.full else 'delta run'}")
                elif isinstance(step, Pulled):
                    expiry = step.collection.secret_expiry
                    yield from _raw_results(context, connector, step.collection)
                elif isinstance(step, Built):
                    yield from _record_results(context, connector, step)
                else:
                    context.instance.add_run_tags(run_id, {"entra/state": step.state.tag})
                    yield from _upload_results(context, connector, step, cycle, pull, expiry, worker)
        except NothingFetched as error:
            _tag_failed(context)
            raise dg.Failure(str(error), metadata=error.errors) from None
        except (ConnectorBusy, LeaseLost, StoreError) as error:
            _tag_failed(context)
            raise dg.Failure(redact.mask(str(error))) from None
        except Exception as error:
            _tag_failed(context)
            # Dagster keeps a step's exception (message, causes, traceback) in the run's event log
            # and shows it in the UI: what it keeps is masked, with the traceback for a bug report.
            raise dg.Failure(
                error_line(error),
                metadata={
                    "error": type(error).__name__,
                    "traceback": dg.MetadataValue.text(redact.mask(traceback.format_exc())),
                },
            ) from None

    return sync


def _tag_failed(context: dg.AssetExecutionContext) -> None:
    """The run's state tag, from the step itself: the runs list shows it without waiting for
    the failure sensor (which tags the runs that fail before their step)."""
    context.instance.add_run_tags(context.run.run_id, {"entra/state": FAILED_TAG})


def _worker() -> str:
    return f"host {socket.gethostname()} pid {os.getpid()} cwd {os.getcwd()}"


def _raw_results(context: dg.AssetExecutionContext, connector: Connector, collection: Collection):
    for name, report in collection.reports.items():
        if report.error:
            context.log.warning(f"{name} not fetched, previously ingested data kept: {report.error}")
            continue
        round_ = collection.rounds.get(name)
        if round_ and round_.mode == "resync":
            context.log.warning(f"{name}: full resync ({round_.reason})")
        delta = (
            {
                "pull_mode": round_.mode,
                "changes_in_round": round_.changes,
                **({"resync_reason": round_.reason} if round_.reason else {}),
            }
            if round_
            else {}
        )
        yield dg.MaterializeResult(
            asset_key=asset_key(connector, "raw", name),
            metadata={
                "count": report.count,
                **report.stats.as_metadata(),
                **delta,
                "pull_duration_seconds": round(collection.duration, 3),
            },
        )
    # The pull's total cost is in the run log already, in words (collect.py's "pull of" line).
    if collection.secret_expiry_warning:
        context.log.warning(collection.secret_expiry_warning)


def _record_results(context: dg.AssetExecutionContext, connector: Connector, built: Built):
    for entity, result in built.records.items():
        if result.skipped:
            context.log.warning(f"{entity} records not rebuilt: {result.skipped}")
            continue
        for object_id, reason in result.rejected[:50]:
            context.log.warning(f"{entity} {object_id} not sent: {reason}")
        yield dg.MaterializeResult(
            asset_key=asset_key(connector, "records", entity),
            metadata={
                "count": result.count,
                "rejected": len(result.rejected),
                "rebuilt": len(result.rows),
                "incremental": result.incremental,
            },
        )


def _upload_results(
    context: dg.AssetExecutionContext,
    connector: Connector,
    delivered: Delivered,
    cycle: str,
    pull: str,
    expiry: SecretExpiry | None,
    worker: str,
):
    for entity, reason in delivered.skipped.items():
        context.log.warning(f"{entity} not delivered, nothing removed: {reason}")
    if delivered.committed:
        context.log.info(f"delta links committed for {', '.join(sorted(delivered.committed))}")
    state = delivered.state
    (context.log.info if not state.reasons else context.log.warning)(
        f"{connector.name}: {state.state}" + "".join(f"; {reason}" for reason in state.reasons)
    )
    left = days_left(expiry)
    yield dg.MaterializeResult(
        asset_key=asset_key(connector, "upload"),
        metadata={
            **delivery_metadata(connector, delivered),
            "cycle": cycle,
            "pull": pull,
            "worker": worker,
            **({"client_secret_days_left": left} if left is not None else {}),
        },
    )
    yield processed_result(connector, delivered)


def delivery_metadata(connector: Connector, delivered: Delivered) -> dict[str, object]:
    """What a delivery did, for the upload's materialization (a sync's or a re-delivery's):
    the per-entity figures as one table, their totals as flat numbers (the UI plots only
    numbers), the state and its reasons."""
    state = delivered.state
    return {
        "destination": connector.destination.kind,
        "entities_delivered": len(delivered.applied),
        "entities_skipped": len(delivered.skipped),
        "state": state.state,
        "state_reasons": "\n".join(state.reasons),
        **figures_metadata(delivered.applied),
    }


def figures_metadata(applied: dict[str, DeliveryReport]) -> dict[str, object]:
    """`per_entity` (a table: entity and one column per figure the destination reports —
    inserted, updated, unchanged, deleted, retained for the local inventory) and the totals
    `records_<figure>`."""
    rows = {entity: result.counts() for entity, result in applied.items()}
    figures = list(next(iter(rows.values()))) if rows else []
    schema = dg.TableSchema(
        columns=[dg.TableColumn(ENTITY_COLUMN, "string"), *(dg.TableColumn(what, "int") for what in figures)]
    )
    table = dg.MetadataValue.table(
        [dg.TableRecord({ENTITY_COLUMN: entity, **values}) for entity, values in rows.items()], schema=schema
    )
    return {PER_ENTITY: table, **{f"records_{what}": sum(values[what] for values in rows.values()) for what in figures}}


def per_entity(metadata: dict[str, object]) -> dict[str, dict[str, int]]:
    """The upload's table read back: entity -> figure -> count (report.last_counts, the runner)."""
    table = metadata.get(PER_ENTITY)  # a TableMetadataValue, if any
    records = getattr(table, "records", None) or []
    # The figures in the table's column order (the destination's): a stored record's keys come back sorted.
    columns = getattr(getattr(table, "schema", None), "columns", None) or []
    order = [column.name for column in columns if column.name != ENTITY_COLUMN]
    return {
        record.data[ENTITY_COLUMN]: {
            k: int(record.data[k]) for k in (order or sorted(record.data)) if k in record.data and k != ENTITY_COLUMN
        }
        for record in records
    }


def processed_result(connector: Connector, delivered: Delivered) -> dg.AssetCheckResult:
    state = delivered.state
    return dg.AssetCheckResult(
        check_name="every_entity_processed",
        asset_key=asset_key(connector, "upload"),
        passed=state.state == PROCESSED,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"state": state.state, "reasons": "\n".join(state.reasons) or "none"},
    )
