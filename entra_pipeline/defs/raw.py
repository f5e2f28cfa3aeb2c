"""The raw Entra assets of one connector: `<connector>/raw/<entity>`, materialized together by
one Graph pull (a single multi-asset step), each with its own count and Graph cost."""


from pathlib import Path

import dagster as dg

from ..collect import collect, raw_assets_for
from ..config import Connector

DESCRIPTIONS = {
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


def raw_assets(connector: Connector, home: Path) -> dg.AssetsDefinition:
    names = raw_assets_for(connector)
    specs = [
        dg.AssetSpec(key=[connector.name, "raw", name], group_name=connector.dagster_name,
                     description=DESCRIPTIONS[name], skippable=True, kinds={"parquet"},
                     tags={"entra/connector": connector.dagster_name})
        for name in names
    ]

    @dg.multi_asset(name=f"{connector.dagster_name}__raw", specs=specs, can_subset=False, pool="msgraph",
                    description=f"Pull connector {connector.name!r} from Microsoft Graph (tenant {connector.tenant_id}).")
    def pull(context: dg.AssetExecutionContext):
        collection = collect(connector, home)
        failed = []
        for name, report in collection.reports.items():
            if report.error:
                failed.append(name)
                context.log.warning(f"{name} not fetched, previously ingested data kept: {report.error}")
                continue
            yield dg.MaterializeResult(
                asset_key=[connector.name, "raw", name],
                metadata={"count": report.count, **report.stats.as_metadata(),
                          "pull_duration_seconds": round(collection.duration, 3)})
        context.log.info(f"pull of {connector.name}: {collection.total.as_metadata()} in {collection.duration:.1f}s")
        if failed and len(failed) == len(collection.reports):
            raise dg.Failure(f"nothing could be fetched for connector {connector.name!r}",
                             metadata={name: collection.reports[name].error or "" for name in failed})

    return pull
