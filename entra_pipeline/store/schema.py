"""The store's tables: everything a connector remembers between runs, in one database.

Who writes each (docs/architecture.md has the picture):
- `leases`: the run holding the connector (pipeline.sync_steps through store.lease); its heartbeat.
- `snapshot_files`, `delta_links`, `baselines`, `status` (outcome): the run's commit, one transaction
  after the destination confirmed; `status` also Processing (run start), Failed (run end or
  the reaper) and Registered/Scheduled (the lifecycle sensor).
- `records`: the local inventory, per entity in one transaction each (destinations/local.py).
- `qualys_progress`, `qualys_delivered`: the Qualys destination, per accepted batch / set.
- `secret_expiry`: the pull and Test Connection; `anchors`: the baseline cycles' anchor.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 1

metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text, nullable=False)
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),  # a token per acquisition: the fence
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("launched_by", sa.String(64), nullable=False),  # cli | schedule | ui | backfill | bare ...
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    # the holder's process as this kernel knows it (boot, pid namespace, pid, start time), so a run
    # on the same machine sees at once that a holder was killed instead of waiting for the TTL
    sa.Column("process", sa.String(255), nullable=False),
    sa.Column("acquired_at", sa.Float, nullable=False),  # epoch seconds, the database's clock
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("ttl", sa.Float, nullable=False),
)

# The files of a connector's committed snapshot (stage "raw") and last records (stage "records"):
# one row per name, pointing at a file written under a versioned name.
snapshot_files = sa.Table(
    "snapshot_files",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("stage", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),  # also in the file's Parquet metadata
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("written_at", sa.Text, nullable=False),
)

delta_links = sa.Table(
    "delta_links",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("link", sa.Text, nullable=False),
    sa.Column("issued_at", sa.Text, nullable=False),  # ISO 8601 with offset
    sa.Column("snapshot", sa.Text, nullable=False),  # JSON: raw file name -> token the link was issued with
)

baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("cycle", sa.String(16), primary_key=True),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("at", sa.Text, nullable=False),
)

anchors = sa.Table(
    "anchors",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("anchor", sa.Text, nullable=False),
)

status = sa.Table(
    "status",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),  # ConnectorStatus as JSON
)

secret_expiry = sa.Table(
    "secret_expiry",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("vendor_asset_id", sa.String(255), primary_key=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

qualys_progress = sa.Table(
    "qualys_progress",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(128), nullable=False),
    sa.Column("accepted", sa.Text, nullable=False),  # JSON list of batch indexes
    sa.Column("total", sa.Integer, nullable=False),
)

qualys_delivered = sa.Table(
    "qualys_delivered",
    metadata,
    sa.Column("connector", sa.String(128), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("vendor_asset_id", sa.String(255), primary_key=True),
    sa.Column("identity", sa.Text, nullable=False),  # JSON: what a removal must name
)

# Tables holding a row (or rows) per connector: `forget` and `store check` walk them.
PER_CONNECTOR = (
    leases,
    snapshot_files,
    delta_links,
    baselines,
    anchors,
    status,
    secret_expiry,
    records,
    qualys_progress,
    qualys_delivered,
)
