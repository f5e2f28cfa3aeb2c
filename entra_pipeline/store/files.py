"""Snapshot and record data as Parquet files, written under versioned names.

A run writes `<connector>/<stage>/<name>.<token>.parquet` in the data location (storage.py: a
local folder, owner-only, or an object store; whole or not at all) and the file's token is also
written into its Parquet metadata. Only the
store's commit makes a file part of the connector's snapshot (`snapshot_files`), so a reader
never sees half a file and a crashed run leaves files nothing trusts (they are removed by the
next run). A file whose token does not match the committed row (restored from a backup,
replaced, truncated) is refused by `read`: the run pulls that entity in full instead.

Entity objects are kept whole (`id` + the object's JSON, exactly as Graph sent it) so later
stages can apply the spec's maps to the source fields; relationship tables are columnar.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..jsontext import json_text
from .storage import LocalStorage, Storage

MEMBERSHIP_SCHEMA = pa.schema(
    [
        ("container_id", pa.string()),
        ("container_type", pa.string()),
        ("member_id", pa.string()),
        ("member_type", pa.string()),
    ]
)
ASSIGNMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("appRoleId", pa.string()),
        ("principalId", pa.string()),
        ("principalType", pa.string()),
        ("principalDisplayName", pa.string()),
        ("resourceId", pa.string()),
        ("resourceDisplayName", pa.string()),
    ]
)
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
    return json_text(value, sort_keys=False)


class DataFolder:
    """A connector's files of one stage: "raw" (Graph objects) or "records" (Qualys records),
    in the data location (storage.py): `<connector>/<stage>/<name>.<token>.parquet`."""

    def __init__(self, storage: Storage, connector: str, stage: str) -> None:
        self.storage, self.prefix, self.stage = storage, f"{connector}/{stage}", stage

    def key(self, name: str, token: str) -> str:
        return f"{self.prefix}/{name}.{token}.parquet"

    def describe(self, name: str, token: str) -> str:
        return self.storage.describe(self.key(name, token))

    def path(self, name: str, token: str) -> Path:
        """The file on disk, for a local data folder (tests and `store check` damage it there)."""
        assert isinstance(self.storage, LocalStorage), "only a local data folder has paths"
        return self.storage.path(self.key(name, token))

    def exists(self, name: str, token: str) -> bool:
        return self.storage.exists(self.key(name, token))

    def write_table(self, name: str, token: str, table: pa.Table) -> WrittenFile:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), TOKEN_KEY: token.encode()})
        with self.storage.writer(self.key(name, token)) as handle:
            pq.write_table(table, handle, compression="zstd")
        return WrittenFile(self.stage, name, token, table.num_rows)

    def write_objects(self, name: str, token: str, objects: list[dict[str, Any]]) -> WrittenFile:
        rows = {"id": [o["id"] for o in objects], "object": [to_json(o) for o in objects]}
        return self.write_table(name, token, pa.table(rows, schema=OBJECT_SCHEMA))

    def write_rows(self, name: str, token: str, rows: list[dict[str, Any]], schema: pa.Schema) -> WrittenFile:
        columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
        return self.write_table(name, token, pa.table(columns, schema=schema))

    def read_table(self, name: str, token: str, rows: int | None = None) -> pa.Table:
        """The committed file, checked: it exists, is Parquet, carries the committed token (and row count)."""
        with self._open(name, token) as handle:
            try:
                table = pq.read_table(handle)
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as error:
                raise self._unreadable(name, token, error) from None
        _same(self.describe(name, token), self.stage, table.schema.metadata, table.num_rows, token, rows)
        return table

    def verify(self, name: str, token: str, rows: int) -> None:
        """What `read_table` checks, from the file's footer alone (for `store check`)."""
        with self._open(name, token) as handle:
            try:
                meta = pq.ParquetFile(handle).metadata
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as error:
                raise self._unreadable(name, token, error) from None
        _same(self.describe(name, token), self.stage, meta.metadata, meta.num_rows, token, rows)

    def read_objects(self, name: str, token: str, rows: int | None = None) -> list[dict[str, Any]]:
        table = self.read_table(name, token, rows)
        try:
            return [json.loads(text) for text in table.column("object").to_pylist()]
        except (KeyError, ValueError, TypeError) as error:
            raise SnapshotFileError(
                f"{self.stage} file {self.describe(name, token)} holds no objects ({error})"
            ) from None

    def remove_all_but(self, keep: set[str]) -> None:
        """Files no committed row names (`keep`: their keys): older versions, what crashed runs left."""
        self.storage.remove([key for key in self.storage.keys(self.prefix) if key not in keep])

    @contextmanager
    def _open(self, name: str, token: str) -> Iterator[str | BinaryIO]:
        try:
            with self.storage.reader(self.key(name, token)) as handle:
                yield handle
        except FileNotFoundError:
            raise SnapshotFileError(f"{self.stage} file {self.describe(name, token)} is missing") from None

    def _unreadable(self, name: str, token: str, error: Exception) -> SnapshotFileError:
        return SnapshotFileError(f"{self.stage} file {self.describe(name, token)} is not readable Parquet ({error})")


def _same(
    where: str, stage: str, metadata: dict[bytes, bytes] | None, found_rows: int, token: str, rows: int | None
) -> None:
    found = (metadata or {}).get(TOKEN_KEY, b"").decode()
    if found != token or (rows is not None and found_rows != rows):
        raise SnapshotFileError(
            f"{stage} file {where} is not the one committed (token {found or 'none'}, "
            f"{found_rows} rows; committed {token}, {rows} rows)"
        )
