"""The Dagster code location: one group of assets and jobs per connector in the home folder
($ENTRA_PIPELINE_HOME, default ~/.entra-pipeline)."""

import os

import dagster as dg

from . import redact
from .config import home_folder
from .defs import build_definitions
from .defs.resources import HomeResource


@dg.definitions
def defs() -> dg.Definitions:
    os.umask(0o077)  # run workers load this too: their state, Parquet and compute logs stay owner-only
    redact.install()  # and every log line they write has the secrets they hold masked
    return build_definitions(home_folder(), HomeResource.from_env())
