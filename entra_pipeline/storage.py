"""Raw data on disk, under the home folder: one Parquet file per raw asset of a connector.

Entity objects are kept whole (`id` + the object's JSON, exactly as Graph sent it) so later
stages can apply the spec's maps to the source fields; relationship tables are columnar.
Files are replaced atomically: a reader sees the previous pull or the new one, never half.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MEMBERSHIP_SCHEMA = pa.schema([("container_id", pa.string()), ("container_type", pa.string()),
                               ("member_id", pa.string()), ("member_type", pa.string())])
ASSIGNMENT_SCHEMA = pa.schema([("id", pa.string()), ("appRoleId", pa.string()), ("principalId", pa.string()),
                               ("principalType", pa.string()), ("principalDisplayName", pa.string()),
                               ("resourceId", pa.string()), ("resourceDisplayName", pa.string())])
OBJECT_SCHEMA = pa.schema([("id", pa.string()), ("object", pa.string())])



def replace_file(path: Path, text: str) -> None:
    """Write a state file so that a crash leaves either the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:  # e.g. the disk is full: leave the old content and no half-written copy
        tmp.unlink(missing_ok=True)
        raise

class RawStore:
    """A connector's files of one stage: "raw" (Graph objects) or "records" (Qualys records)."""

    def __init__(self, home: Path, connector: str, stage: str = "raw") -> None:
        self.root = home / "data" / connector / stage

    def path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def _write(self, name: str, table: pa.Table) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(name)
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
        return path

    def write_objects(self, name: str, objects: list[dict]) -> Path:
        rows = {"id": [o["id"] for o in objects],
                "object": [json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in objects]}
        return self._write(name, pa.table(rows, schema=OBJECT_SCHEMA))

    def write_rows(self, name: str, rows: list[dict], schema: pa.Schema) -> Path:
        columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
        return self._write(name, pa.table(columns, schema=schema))

    def read_objects(self, name: str) -> list[dict]:
        table = pq.read_table(self.path(name), columns=["object"])
        return [json.loads(text) for text in table.column("object").to_pylist()]

    def read_rows(self, name: str) -> list[dict]:
        return pq.read_table(self.path(name)).to_pylist()

    def read_table(self, name: str) -> pa.Table:
        return pq.read_table(self.path(name))

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def write_manifest(self, manifest: dict) -> None:
        """What the last run of this stage did (which parts failed): read by the next stage."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "_manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        tmp.replace(self.root / "_manifest.json")

    def read_manifest(self) -> dict:
        path = self.root / "_manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}
