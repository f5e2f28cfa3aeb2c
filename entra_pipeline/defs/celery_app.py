"""The Celery app a worker runs: `celery -A entra_pipeline.defs.celery_app worker -Q dagster`.

Configured from the same environment as the code location's executor (ENTRA_PIPELINE_CELERY_BROKER,
..._BACKEND, ..._VISIBILITY_TIMEOUT): see `entra_pipeline.defs.executor`. The worker loads the
code location itself (entra_pipeline.definitions, from ENTRA_PIPELINE_HOME) for each step."""

import os

from .. import redact
from .executor import worker_app

os.umask(0o077)  # what the worker writes (Parquet, compute logs, its Celery state) stays owner-only
redact.install()
app = worker_app()
