"""Which executor runs the code location's steps, chosen by the deployment's environment.

Unset (or `multiprocess`), Dagster's default multiprocess executor: every step in a process of
the run's own, on the machine that launched the run (the one-machine shape). With
`ENTRA_PIPELINE_EXECUTOR=celery`, dagster-celery's executor: the run's process submits each
step to a Celery queue and a worker elsewhere runs it (docs/deploy.md, Celery workers).

The broker and result backend come from the environment, never from run config: run config
is stored in the run and shown in the UI, and a Redis URL may carry a password. The worker
app (`entra_pipeline.defs.celery_app`) reads the same variables, so the side that submits and
the side that consumes cannot disagree.

A run tagged `dagster-celery/queue` sends its steps to that queue: dagster-celery reads the tag
only from op tags, which are fixed at definition time, and our sync job is one step, so the
run is the natural unit to route (a tenant pinned to a region's workers, a test alternating
workers). Without the tag steps go to `ENTRA_PIPELINE_CELERY_QUEUE`, else `dagster`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from .. import redact
from ..config import ConfigError
from ..dagster_private import RetryMode, get_retries_config

EXECUTOR_ENV = "ENTRA_PIPELINE_EXECUTOR"
BROKER_ENV, BACKEND_ENV = "ENTRA_PIPELINE_CELERY_BROKER", "ENTRA_PIPELINE_CELERY_BACKEND"
QUEUE_ENV, VISIBILITY_ENV = "ENTRA_PIPELINE_CELERY_QUEUE", "ENTRA_PIPELINE_CELERY_VISIBILITY_TIMEOUT"
QUEUE_TAG = "dagster-celery/queue"  # dagster-celery's own tag name, read here from the run too
DEFAULT_QUEUE = "dagster"
# Longer than any sync step: Redis hands an unacknowledged task to another worker once this
# passes, so a shorter one would run a healthy long step twice. It is also how long a step
# whose whole worker was lost (machine gone) waits before another worker runs it again.
DEFAULT_VISIBILITY_TIMEOUT = 4 * 3600


def selected_executor() -> dg.ExecutorDefinition | None:
    """None for Dagster's default (multiprocess); the Celery executor when the deployment says so."""
    kind = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if kind in ("", "multiprocess"):
        return None
    if kind != "celery":
        raise ConfigError(
            f"{EXECUTOR_ENV}={kind!r} is not an executor this code location knows: use "
            "'multiprocess' (the default) or 'celery'"
        )
    return celery_executor()


def _url(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default or "").strip()
    if not value:
        raise ConfigError(f"{EXECUTOR_ENV}=celery needs {name}: the broker's URL, e.g. redis://:PASSWORD@redis:6379/0")
    redact.remember(urlsplit(value).password)  # masked in every log line and error of this process
    return value


def celery_settings() -> dict[str, Any]:
    """The Celery app's configuration, the same for the run's process (it submits) and the workers."""
    broker = _url(BROKER_ENV)
    visibility = float(os.environ.get(VISIBILITY_ENV) or DEFAULT_VISIBILITY_TIMEOUT)
    return {
        "broker": broker,
        "backend": _url(BACKEND_ENV, broker),
        "config_source": {
            "task_default_queue": os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE,
            # Acknowledged when the step ends, not when a worker takes it: a worker lost with its
            # machine leaves the task in Redis, which gives it to another worker after the
            # visibility timeout, so the run goes on instead of waiting forever for a result that
            # no process will send (dagster-celery has no other way to notice a lost worker).
            "task_acks_late": True,
            # But a step process killed under a live worker (out of memory) fails the step, and with
            # it the run: requeued, a step that is killed every time would be retried forever.
            "task_reject_on_worker_lost": False,
            "worker_prefetch_multiplier": 1,  # a worker takes one step at a time, not a batch
            # Each step in a fresh process, as the multiprocess executor does: its memory goes back to
            # the machine, and nothing a tenant's step left in a module reaches the next tenant's.
            "worker_max_tasks_per_child": 1,
            "broker_transport_options": {"visibility_timeout": visibility},
            "result_backend_transport_options": {"visibility_timeout": visibility},
            "broker_connection_retry_on_startup": True,
        },
    }


def celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery.executor import CeleryExecutor

    class RoutedCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context, execution_plan):
            queue = plan_context.dagster_run.tags.get(QUEUE_TAG)
            if queue:  # the loop takes a step's queue from its op tags, else the app's default queue
                self.config_source.task_default_queue = queue
            return super().execute(plan_context, execution_plan)

    @dg.executor(
        name="celery",
        config_schema={"retries": get_retries_config()},
        requirements=dg.multiple_process_executor_requirements(),
    )
    def routed_celery_executor(init_context: dg.InitExecutorContext) -> CeleryExecutor:
        settings = celery_settings()
        return RoutedCeleryExecutor(
            retries=RetryMode.from_config(init_context.executor_config["retries"]),
            broker=settings["broker"],
            backend=settings["backend"],
            config_source=settings["config_source"],
        )

    return routed_celery_executor


def worker_app():
    """The Celery app a worker runs (`celery -A entra_pipeline.defs.celery_app worker`), with the
    task that executes one step, configured like the executor that submits it."""
    from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    settings = celery_settings()
    app = make_app(
        {
            "broker": settings["broker"],
            "backend": settings["backend"],
            "include": [],
            "config_source": dict_wrapper({**DEFAULT_CONFIG, **settings["config_source"]}),
        }
    )
    create_task(app)
    return app
