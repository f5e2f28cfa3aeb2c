"""The Dagster resources the connectors' assets, jobs, schedules and sensors are given.

One resource, `home`: the connector home folder (connectors.yaml, the store, the secret key),
which every definition reads instead of a path each factory closes over. The code location
configures it from the deployment's environment, as dagster-open-platform configures its
resources: `dg.EnvVar("ENTRA_PIPELINE_HOME")`, read where the resource is used (the daemon,
a run worker) and shown in the UI by name. The domain code stays plain Python: the resource
only hands it the folder and the store.

Graph and Qualys have no resource of their own: their settings (tenant, client, destination)
are each connector's, from connectors.yaml in this home, not the deployment's."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ..config import HOME_ENV, home_folder
from ..store import Store, open_store

HOME = "home"  # the resource key; the parameter name of every definition that takes it


class HomeResource(dg.ConfigurableResource):
    """The connector home folder ($ENTRA_PIPELINE_HOME, default ~/.entra-pipeline)."""

    path: str

    @classmethod
    def at(cls, home: Path) -> HomeResource:
        return cls(path=str(home))

    @classmethod
    def from_env(cls) -> HomeResource:
        """$ENTRA_PIPELINE_HOME as an EnvVar when it is set, else the default folder itself."""
        return cls(path=dg.EnvVar(HOME_ENV)) if os.environ.get(HOME_ENV) else cls.at(home_folder())

    def folder(self) -> Path:
        return home_folder(self.path)

    def store(self) -> Store:
        return open_store(self.folder())
