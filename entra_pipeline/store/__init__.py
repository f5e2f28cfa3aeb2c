"""Everything a connector remembers between runs, in one transactional store (store.py), with
one run per connector at a time (lease.py) and snapshot data in versioned Parquet files
(files.py) in a local folder or an object store (storage.py). SQLite and `<home>/data` by
default; PostgreSQL and an object store in production (database.py, storage.py)."""

from .database import STORE_ENV, StoreDamaged, StoreError
from .files import DataFolder, SnapshotFileError, WrittenFile, new_token, to_json
from .lease import ConnectorBusy, Lease, LeaseInfo, LeaseLost
from .schema import secret_expiry, status
from .storage import DATA_ENV, DataUnavailable
from .store import CommittedFile, RunCommit, SnapshotBase, Store, forget_stores, open_store

__all__ = [
    "STORE_ENV",
    "DATA_ENV",
    "DataUnavailable",
    "StoreDamaged",
    "StoreError",
    "DataFolder",
    "SnapshotFileError",
    "WrittenFile",
    "new_token",
    "to_json",
    "ConnectorBusy",
    "Lease",
    "LeaseInfo",
    "LeaseLost",
    "secret_expiry",
    "status",
    "CommittedFile",
    "RunCommit",
    "SnapshotBase",
    "Store",
    "forget_stores",
    "open_store",
]
