"""Where the connector's jobs live in the deployment: the code location `entra_pipeline`
(workspace.yaml) and its one repository. A run the CLI executes in its own process is created
with this origin, so the UI places it in the code location (the overview timeline, the job's
runs page) like a run the daemon or the UI launched; without it Dagster shows the run as
an ephemeral job no code location owns.

Dagster's public API has no way to give an in-process run an origin: the classes it takes are
private (entra_pipeline.dagster_private; test_dagster_private.py fails when they move)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from ..dagster_private import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

LOCATION_NAME = "entra_pipeline"  # workspace.yaml's location_name
REPOSITORY_NAME = "__repository__"  # the repository @dg.definitions makes


def job_origin(job_name: str):
    """The origin the code location gives a run of `job_name` (what the webserver matches on)."""
    return RemoteJobOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin(LOCATION_NAME), REPOSITORY_NAME), job_name
    )


@contextmanager
def runs_in_code_location(instance: dg.DagsterInstance) -> Iterator[dg.DagsterInstance]:
    """`instance`, creating the runs of `execute_in_process` with the code location's origin
    (execute_in_process creates its run through create_run_for_job, without one)."""
    create = instance.create_run_for_job

    @functools.wraps(create)
    def with_origin(job_def, *args, **kwargs):
        kwargs["remote_job_origin"] = kwargs.get("remote_job_origin") or job_origin(job_def.name)
        return create(job_def, *args, **kwargs)

    instance.create_run_for_job = with_origin  # type: ignore[method-assign]
    try:
        yield instance
    finally:
        del instance.create_run_for_job  # the class's own method again
