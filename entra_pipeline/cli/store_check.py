"""`entra-pipeline store check`: every row of every table, and every committed file, read the
way the pipeline reads them. Each problem names what is damaged and the remedy."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ..store.schema import (
    anchors,
    baselines,
    delta_links,
    qualys_delivered,
    qualys_progress,
    records,
    secret_expiry,
    snapshot_files,
    status,
)
from ..store.store import Store

FULL = "run `entra-pipeline sync --full --connector {c}`: it replaces it"


@dataclass
class Problem:
    connector: str
    where: str
    what: str
    remedy: str

    def line(self) -> str:
        return f"{self.connector}: {self.where}: {self.what}. Remedy: {self.remedy}"


def _aware(value: object) -> None:
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")


def check(store: Store) -> list[Problem]:
    from ..graph.secret_expiry import SecretExpiry
    from ..sync.status import ConnectorStatus

    problems: list[Problem] = []

    def problem(connector: str, where: str, what: str, remedy: str | None = None) -> None:
        problems.append(Problem(connector, where, what, remedy or FULL.format(c=connector)))

    for table, rows in store.tables():
        for row in rows:
            c = row.connector
            try:
                if table is snapshot_files:
                    _check_file(store, row)
                elif table is delta_links:
                    _aware(row.issued_at)
                    if not isinstance(json.loads(row.snapshot), dict) or not str(row.link).startswith("https://"):
                        raise ValueError("not a link with the snapshot it was issued for")
                elif table is baselines:
                    _aware(row.at)
                elif table is anchors:
                    dt.datetime.fromisoformat(str(row.anchor))
                elif table is status:
                    ConnectorStatus.model_validate_json(row.document)
                elif table is secret_expiry:
                    SecretExpiry.model_validate_json(row.document)
                elif table is records:
                    if not isinstance(json.loads(row.record), dict):
                        raise ValueError("not a JSON object")
                elif table is qualys_progress:
                    [int(i) for i in json.loads(row.accepted)]
                elif table is qualys_delivered:
                    json.loads(row.identity)
            except Exception as error:  # noqa: BLE001 - every kind of damage is reported, not raised
                key = "/".join(
                    str(row._mapping[col.name]) for col in table.primary_key.columns if col.name != "connector"
                )
                problem(c, f"{table.name} {key}".strip(), str(error).splitlines()[0][:300], _remedy(table.name, c))
    for connector in store.connectors():
        held, expired = store.lease_holder(connector)
        if held is not None and expired:
            problem(
                connector,
                "leases",
                f"held by {held.describe()}, which stopped heartbeating",
                "the next run takes the connector over (and marks that run failed)",
            )
    return problems


def _remedy(table: str, connector: str) -> str:
    if table == "records":
        return f"run `entra-pipeline sync --full --connector {connector}`: the record is delivered anew"
    if table == "qualys_delivered":
        return (
            f"run `entra-pipeline sync --connector {connector}`: the entity's next delivery replaces it "
            "(a removal for that identity cannot be sent)"
        )
    if table == "status":
        return f"run `entra-pipeline sync --connector {connector}`: it records the state anew"
    return FULL.format(c=connector)


def _check_file(store: Store, row: Any) -> None:
    if not isinstance(row.rows, int):
        raise ValueError(f"its row count {row.rows!r} is not a number")
    store.folder(row.connector, row.stage).verify(row.name, row.token, row.rows)
