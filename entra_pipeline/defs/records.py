"""Qualys records per entity, `<connector>/records/<entity>`, built from the raw assets with
the spec's transformation maps; an upload asset delivers them to the destination."""

from pathlib import Path

import dagster as dg

from ..collect import raw_assets_for
from ..config import Connector
from ..qualys.deliver import deliver
from ..qualys.records import INPUTS, build_records, record_entities


def records_assets(connector: Connector, home: Path) -> dg.AssetsDefinition:
    raw = set(raw_assets_for(connector))
    specs = [
        dg.AssetSpec(key=[connector.name, "records", entity], group_name=connector.dagster_name, skippable=True,
                     deps=[[connector.name, "raw", name] for name in INPUTS[entity] if name in raw],
                     description=f"Qualys asset records for {entity}, per the spec's {entity} transformation map.",
                     kinds={"parquet"}, tags={"entra/connector": connector.dagster_name})
        for entity in record_entities(connector)
    ]

    @dg.multi_asset(name=f"{connector.dagster_name}__records", specs=specs, can_subset=False)
    def transform(context: dg.AssetExecutionContext):
        for entity, result in build_records(connector, home).items():
            if result.skipped:
                context.log.warning(f"{entity} records not rebuilt, previously delivered records kept: {result.skipped}")
                continue
            for object_id, reason in result.rejected[:50]:
                context.log.warning(f"{entity} {object_id} not sent: {reason}")
            yield dg.MaterializeResult(asset_key=[connector.name, "records", entity],
                                       metadata={"count": result.count, "rejected": len(result.rejected)})

    return transform


def upload_asset(connector: Connector, home: Path) -> dg.AssetsDefinition:
    @dg.asset(key=[connector.name, "upload"], group_name=connector.dagster_name,
              deps=[[connector.name, "records", entity] for entity in record_entities(connector)],
              description=f"Deliver the records to the {connector.destination.kind} destination.",
              tags={"entra/connector": connector.dagster_name})
    def upload(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        applied, skipped = deliver(connector, home)
        for entity, reason in skipped.items():
            context.log.warning(f"{entity} not delivered, nothing removed: {reason}")
        metadata = {}
        for entity, result in applied.items():
            metadata.update({f"{entity}_inserted": result.inserted, f"{entity}_updated": result.updated,
                             f"{entity}_deleted": result.deleted, f"{entity}_unchanged": result.unchanged})
        return dg.MaterializeResult(metadata={"destination": connector.destination.kind,
                                              "entities_delivered": len(applied), "entities_skipped": len(skipped),
                                              **metadata})

    return upload
