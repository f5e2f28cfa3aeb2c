"""A connector's assets: `<connector>/raw/<entity>` (Graph objects), `<connector>/records/<entity>`
(Qualys records) and `<connector>/upload` (delivery), in one group.

They are one multi-asset step: Dagster skips every downstream step when an upstream
skippable output is absent, so separate steps would let a 403 on applications stop users'
records and the upload too. Inside one step each asset is yielded only when its own data
arrived whole, and the lineage raw -> records -> upload stays visible in the asset graph.
"""

import datetime as dt
from pathlib import Path
from typing import Literal

import dagster as dg

from ..collect import SNAPSHOT_FILES, collect, commit_delta, raw_assets_for
from ..config import Connector
from ..cycles import BaselineCycles
from ..graph.secret_expiry import days_left, secret_expiry_note
from ..qualys.deliver import deliver
from ..qualys.records import INPUTS, build_records, record_entities
from ..state import PROCESSED, derive_state
from ..status import StatusStore
from .partitions import baseline_cycles

# Tags every sync run carries (the sensors and the per-connector run limit select on them).
SYNC_TAGS = {"entra/kind": "sync"}

RAW_DESCRIPTIONS = {
    "users": "Entra ID users (spec: Users), with the properties the Users transformation map reads.",
    "groups": "Entra ID groups (spec: Groups), with the properties the Groups transformation map reads.",
    "roles": "Role definitions (spec: Roles, GET /roleManagement/directory/roleDefinitions), always pulled in full.",
    "role_assignments": "Active directory role assignments (roleManagement/directory/roleAssignments).",
    "role_eligibility_schedules": "Eligible (PIM) role assignments (roleManagement/directory/roleEligibilitySchedules).",
    "directory_roles": "Activated directory roles: the roles a user's or group's memberOf can name.",
    "administrative_units": "Administrative units: the units a user's or group's memberOf can name.",
    "memberships": "Direct memberships (group, directory role, administrative unit -> user, group, service "
                   "principal), from which every memberOf is derived without a call per user.",
    "app_role_assignments": "App role assignments of every service principal (appRoleAssignedTo), from which "
                            "users' and groups' appRoleAssignments are derived.",
    "applications": "Applications (spec: Applications, Identities with Security Posture).",
    "service_principals": "Service principals (spec: Service Principals, Identities with Security Posture).",
    "tenant": "The organization (spec: Tenant, Identities with Security Posture).",
}


def _specs(connector: Connector) -> list[dg.AssetSpec]:
    group, tags = connector.dagster_name, {"entra/connector": connector.dagster_name}
    raw = raw_assets_for(connector)
    specs = [dg.AssetSpec(key=[connector.name, "raw", name], group_name=group, description=RAW_DESCRIPTIONS[name],
                          skippable=True, kinds={"parquet"}, tags=tags) for name in raw]
    specs += [dg.AssetSpec(key=[connector.name, "records", entity], group_name=group, skippable=True,
                           deps=[[connector.name, "raw", name] for name in INPUTS[entity] if name in raw],
                           description=f"Qualys asset records for {entity}, per the spec's transformation map.",
                           kinds={"parquet"}, tags=tags) for entity in record_entities(connector)]
    specs.append(dg.AssetSpec(key=[connector.name, "upload"], group_name=group, skippable=True,
                              deps=[[connector.name, "records", e] for e in record_entities(connector)],
                              description=f"Deliver the records to the {connector.destination.kind} destination.",
                              tags=tags))
    return specs


class SyncConfig(dg.Config):
    # "baseline" (the default, so launching or backfilling a cycle's partition in the UI re-runs
    # its baseline): users and groups in full. "auto" (schedules, CLI): in full only if this
    # cycle has had no baseline yet, else a delta run.
    mode: Literal["baseline", "auto"] = "baseline"


def processed_check(connector: Connector) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("every_entity_processed", asset=[connector.name, "upload"],
                             description="WARN when the run is Partially Processed: an entity not fetched, records "
                                         "rejected or an entity not delivered (the reasons name the remedy).")


def connector_assets(connector: Connector, home: Path) -> dg.AssetsDefinition:
    @dg.multi_asset(name=f"{connector.dagster_name}__sync", specs=_specs(connector), can_subset=False, pool=f"msgraph_{connector.dagster_name}",
                    partitions_def=baseline_cycles(connector), check_specs=[processed_check(connector)],
                    description=f"Pull connector {connector.name!r} (tenant {connector.tenant_id}) from Microsoft "
                                "Graph, transform with the spec's maps, deliver to the destination. Partitioned "
                                f"by {connector.baseline} baseline cycle.")
    def sync(context: dg.AssetExecutionContext, config: SyncConfig):
        cycles, cycle, run_id = BaselineCycles(connector, home), context.partition_key, context.run.run_id
        full = config.mode == "baseline" or not cycles.baseline_done(cycle)
        started = dt.datetime.now(dt.timezone.utc)
        StatusStore(home, connector.name).processing(run_id, started, cycle, "baseline" if full else "delta")
        # The UI's Materialize and backfills launch the asset job without our job's tags: the step
        # adds them, so the run-status sensors record every run's outcome, however launched.
        context.instance.add_run_tags(run_id, {"entra/connector": connector.dagster_name, **SYNC_TAGS,
                                               "entra/pull": "baseline" if full else "delta"})
        context.log.info(f"cycle {cycle}: {'baseline (full) pull' if full else 'delta run'}")
        collection = collect(connector, home, full=full)
        for name, report in collection.reports.items():
            if report.error:
                context.log.warning(f"{name} not fetched, previously ingested data kept: {report.error}")
                continue
            round_ = collection.rounds.get(name)
            if round_ and round_.mode == "resync":
                context.log.warning(f"{name}: full resync ({round_.reason})")
            delta = {"pull_mode": round_.mode, "changes_in_round": round_.changes,
                     **({"resync_reason": round_.reason} if round_.reason else {})} if round_ else {}
            yield dg.MaterializeResult(asset_key=[connector.name, "raw", name], metadata={
                "count": report.count, **report.stats.as_metadata(), **delta,
                "pull_duration_seconds": round(collection.duration, 3)})
        context.log.info(f"pull of {connector.name}: {collection.total.as_metadata()} in {collection.duration:.1f}s")
        expiry, expiry_warning = secret_expiry_note(connector, home)
        if expiry_warning:
            context.log.warning(expiry_warning)
        if all(report.error for report in collection.reports.values()):
            raise dg.Failure(f"nothing could be fetched for connector {connector.name!r}",
                             metadata={name: report.error or "" for name, report in collection.reports.items()})

        built = build_records(connector, home)
        for entity, result in built.items():
            if result.skipped:
                context.log.warning(f"{entity} records not rebuilt: {result.skipped}")
                continue
            for object_id, reason in result.rejected[:50]:
                context.log.warning(f"{entity} {object_id} not sent: {reason}")
            yield dg.MaterializeResult(asset_key=[connector.name, "records", entity],
                                       metadata={"count": result.count, "rejected": len(result.rejected)})

        applied, skipped = deliver(connector, home)
        for entity, reason in skipped.items():
            context.log.warning(f"{entity} not delivered, nothing removed: {reason}")
        metadata = {f"{entity}_{what}": value for entity, result in applied.items()
                    for what, value in vars(result).items()}
        committed = commit_delta(connector, home, set(applied))  # only now: the destination has the changes
        if committed:
            context.log.info(f"delta links committed for {', '.join(sorted(committed))}")
        if full and set(SNAPSHOT_FILES) <= set(committed):
            cycles.record_baseline(cycle, run_id, dt.datetime.now(dt.timezone.utc))
        state = derive_state({n: r.error for n, r in collection.reports.items() if r.error},
                             {e: len(r.rejected) for e, r in built.items()}, skipped)
        context.instance.add_run_tags(context.run.run_id, {"entra/state": state.tag})
        (context.log.info if not state.reasons else context.log.warning)(
            f"{connector.name}: {state.state}" + "".join(f"; {reason}" for reason in state.reasons))
        yield dg.MaterializeResult(asset_key=[connector.name, "upload"], metadata={
            "destination": connector.destination.kind, "entities_delivered": len(applied),
            "entities_skipped": len(skipped), "state": state.state, "state_reasons": "\n".join(state.reasons),
            "cycle": cycle, "pull": "baseline" if full else "delta", **metadata,
            **({"client_secret_days_left": days_left(expiry)} if days_left(expiry) is not None else {})})
        yield dg.AssetCheckResult(check_name="every_entity_processed", asset_key=[connector.name, "upload"],
                                  passed=state.state == PROCESSED, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"state": state.state, "reasons": "\n".join(state.reasons) or "none"})

    return sync
