"""Every name this project takes from Dagster's private modules (`dagster._…`), imported here
only, each for a job Dagster's public API does not do. A Dagster upgrade that moves one fails
test_dagster_private.py, which names what moved, instead of an import error somewhere deep in
a sync. Nothing else in entra_pipeline may import `dagster._…` (that test checks it too).

- `cron_string_iterator`, `is_valid_cron_string` (schedule.py): the exact ticks the daemon
  evaluates for a cron in a timezone, DST rules included, and whether Dagster accepts a cron
  at all. Dagster no longer depends on croniter and has no public iterator; ours must agree
  with the daemon's to the minute, so it is the daemon's own.
- `UnresolvedAssetJobDefinition` (defs/schedules.py): only the type `dg.define_asset_job`
  returns, which Dagster does not export.
- `RetryMode`, `get_retries_config` (defs/executor.py): the `retries` config every Dagster
  executor takes, for our Celery executor (dagster-celery's own executor imports them from
  here too).
- `RegisteredCodeLocationOrigin`, `RemoteRepositoryOrigin`, `RemoteJobOrigin`
  (defs/code_location.py): the origin that places a run the CLI executes in-process in the
  code location; the public API cannot give an in-process run an origin.
"""

from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string

__all__ = [
    "RegisteredCodeLocationOrigin",
    "RemoteJobOrigin",
    "RemoteRepositoryOrigin",
    "RetryMode",
    "UnresolvedAssetJobDefinition",
    "cron_string_iterator",
    "get_retries_config",
    "is_valid_cron_string",
]
