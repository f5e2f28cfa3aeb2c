"""Dagster wiring only: each configured connector becomes a group of assets and jobs that call
the domain code (`entra_pipeline.collect`, `entra_pipeline.graph.connection_test`)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..config import load_connectors
from .connection import test_connection_job
from .raw import raw_assets
from .records import records_assets, upload_asset


def connector_assets(connector, home: Path) -> list[dg.AssetsDefinition]:
    """raw -> records -> upload, one group per connector."""
    return [raw_assets(connector, home), records_assets(connector, home), upload_asset(connector, home)]


def build_definitions(home: Path) -> dg.Definitions:
    connectors = load_connectors(home)
    return dg.Definitions(
        assets=[asset for connector in connectors for asset in connector_assets(connector, home)],
        jobs=[test_connection_job(connector, home) for connector in connectors],
    )
