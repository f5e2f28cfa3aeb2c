"""Everything a connector remembers between runs, in one transactional store (store.py), with
one run per connector at a time (lease.py) and snapshot data in versioned Parquet files
(files.py). SQLite in the home folder by default, PostgreSQL in production (database.py)."""

from .database import STORE_ENV, StoreDamaged, StoreError
from .files import DataFolder, SnapshotFileError, WrittenFile, new_token, to_json
from .lease import ConnectorBusy, Lease, LeaseInfo, LeaseLost
from .schema import secret_expiry, status
from .store import CommittedFile, RunCommit, SnapshotBase, Store, forget_stores, open_store

__all__ = ["STORE_ENV", "StoreDamaged", "StoreError", "DataFolder", "SnapshotFileError", "WrittenFile", "new_token",
           "to_json", "ConnectorBusy", "Lease", "LeaseInfo", "LeaseLost", "secret_expiry", "status", "CommittedFile",
           "RunCommit", "SnapshotBase", "Store", "forget_stores", "open_store"]
