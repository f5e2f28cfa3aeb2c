"""The Dagster code location: one group of assets and jobs per connector in the home folder
($ENTRA_PIPELINE_HOME, default ~/.entra-pipeline)."""

import dagster as dg

from .config import home_folder
from .defs import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(home_folder())
