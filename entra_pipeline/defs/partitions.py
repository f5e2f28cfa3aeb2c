"""Baseline cycles as partitions. Dynamic, because Fortnightly and Triweekly cycles are not
expressible in cron and every connector has its own anchor (docs/schedules.md); the keys are
the cycles' first days, added by the connector's schedule and lifecycle sensor as cycles begin."""

import dagster as dg

from ..config import Connector


def baseline_cycles(connector: Connector) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=f"{connector.dagster_name}__baseline_cycles")
