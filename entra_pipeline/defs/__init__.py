"""Dagster wiring only: each configured connector becomes a group of assets and jobs that call
the domain code (`entra_pipeline.collect`, `entra_pipeline.graph.connection_test`)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..config import load_connectors
from .connection import test_connection_job
from .assets import connector_assets


def build_definitions(home: Path) -> dg.Definitions:
    connectors = load_connectors(home)
    return dg.Definitions(
        assets=[connector_assets(connector, home) for connector in connectors],
        jobs=[test_connection_job(connector, home) for connector in connectors],
    )
