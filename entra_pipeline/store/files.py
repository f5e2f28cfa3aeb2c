"""Snapshot and record data as Parquet files, written under versioned names.

A run writes `<home>/data/<connector>/<stage>/<name>.<token>.parquet` (owner-only, fsynced,
renamed into place) and the file's token is also written into its Parquet metadata. Only the
store's commit makes a file part of the connector's snapshot (`snapshot_files`), so a reader
never sees half a file and a crashed run leaves files nothing trusts (they are removed by the
next run). A file whose token does not match the committed row (restored from a backup,
replaced, truncated) is refused by `read`: the run pulls that entity in full instead.

Entity objects are kept whole (`id` + the object's JSON, exactly as Graph sent it) so later
stages can apply the spec's maps to the source fields; relationship tables are columnar.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .database import owner_only_folder

MEMBERSHIP_SCHEMA = pa.schema([("container_id", pa.string()), ("container_type", pa.string()),
                               ("member_id", pa.string()), ("member_type", pa.string())])
ASSIGNMENT_SCHEMA = pa.schema([("id", pa.string()), ("appRoleId", pa.string()), ("principalId", pa.string()),
                               ("principalType", pa.string()), ("principalDisplayName", pa.string()),
                               ("resourceId", pa.string()), ("resourceDisplayName", pa.string())])
OBJECT_SCHEMA = pa.schema([("id", pa.string()), ("object", pa.string())])
RECORD_SCHEMA = pa.schema([("vendor_asset_id", pa.string()), ("record", pa.string())])
TOKEN_KEY = b"entra.token"


class SnapshotFileError(Exception):
    """A committed file that cannot be used as it is: missing, unreadable, or not the one committed."""


@dataclass(frozen=True)
class WrittenFile:
    stage: str
    name: str
    token: str
    rows: int


def new_token() -> str:
    return uuid.uuid4().hex[:16]


def to_json(value: object) -> str:
    """The one way the project writes JSON for storage: compact, non-ASCII kept (text from Graph
    is valid Unicode: graph/decode.py repairs what is not on the way in)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class DataFolder:
    """A connector's files of one stage: "raw" (Graph objects) or "records" (Qualys records)."""

    def __init__(self, home: Path, connector: str, stage: str) -> None:
        self.root = home / "data" / connector / stage
        self.stage = stage

    def path(self, name: str, token: str) -> Path:
        return self.root / f"{name}.{token}.parquet"

    def write_table(self, name: str, token: str, table: pa.Table) -> WrittenFile:
        owner_only_folder(self.root)
        path = self.path(name, token)
        tmp = path.with_suffix(".tmp")
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), TOKEN_KEY: token.encode()})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                pq.write_table(table, handle, compression="zstd")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return WrittenFile(self.stage, name, token, table.num_rows)

    def write_objects(self, name: str, token: str, objects: list[dict]) -> WrittenFile:
        rows = {"id": [o["id"] for o in objects], "object": [to_json(o) for o in objects]}
        return self.write_table(name, token, pa.table(rows, schema=OBJECT_SCHEMA))

    def write_rows(self, name: str, token: str, rows: list[dict], schema: pa.Schema) -> WrittenFile:
        columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
        return self.write_table(name, token, pa.table(columns, schema=schema))

    def read_table(self, name: str, token: str, rows: int | None = None) -> pa.Table:
        """The committed file, checked: it exists, is Parquet, carries the committed token (and row count)."""
        path = self.path(name, token)
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            raise SnapshotFileError(f"{self.stage} file {path} is missing") from None
        except (pa.ArrowException, OSError) as error:
            raise SnapshotFileError(f"{self.stage} file {path} is not readable Parquet ({error})") from None
        _same(path, self.stage, table.schema.metadata, table.num_rows, token, rows)
        return table

    def verify(self, name: str, token: str, rows: int) -> None:
        """What `read_table` checks, from the file's footer alone (for `store check`)."""
        path = self.path(name, token)
        try:
            meta = pq.ParquetFile(path).metadata
        except FileNotFoundError:
            raise SnapshotFileError(f"{self.stage} file {path} is missing") from None
        except (pa.ArrowException, OSError) as error:
            raise SnapshotFileError(f"{self.stage} file {path} is not readable Parquet ({error})") from None
        _same(path, self.stage, meta.metadata, meta.num_rows, token, rows)

    def read_objects(self, name: str, token: str, rows: int | None = None) -> list[dict]:
        table = self.read_table(name, token, rows)
        try:
            return [json.loads(text) for text in table.column("object").to_pylist()]
        except (KeyError, ValueError, TypeError) as error:
            raise SnapshotFileError(f"{self.stage} file {self.path(name, token)} holds no objects ({error})") from None

    def remove_all_but(self, keep: set[Path]) -> None:
        """Files no committed row names: older versions, and what crashed runs left."""
        if not self.root.exists():
            return
        for path in self.root.iterdir():
            if path not in keep:
                path.unlink(missing_ok=True)


def _same(path: Path, stage: str, metadata: dict | None, found_rows: int, token: str, rows: int | None) -> None:
    found = (metadata or {}).get(TOKEN_KEY, b"").decode()
    if found != token or (rows is not None and found_rows != rows):
        raise SnapshotFileError(f"{stage} file {path} is not the one committed (token {found or 'none'}, "
                                f"{found_rows} rows; committed {token}, {rows} rows)")

