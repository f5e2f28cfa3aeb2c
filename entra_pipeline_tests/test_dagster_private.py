"""Dagster's private names, all imported by entra_pipeline.dagster_private alone: an upgrade
that moves one fails here, naming it, and no other module reaches into `dagster._…`."""

import importlib
import re
from pathlib import Path

import dagster as dg

import entra_pipeline

PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+dagster\._", re.MULTILINE)
# Each private name we use, where this Dagster keeps it: a move shows up as "<module>.<name> moved".
USED = {
    "dagster._core.definitions.unresolved_asset_job_definition": ["UnresolvedAssetJobDefinition"],
    "dagster._core.execution.retries": ["RetryMode", "get_retries_config"],
    "dagster._core.remote_origin": ["RegisteredCodeLocationOrigin", "RemoteJobOrigin", "RemoteRepositoryOrigin"],
    "dagster._utils.schedules": ["cron_string_iterator", "is_valid_cron_string"],
}


def test_every_private_dagster_name_we_use_is_still_where_we_import_it_from():
    moved = []
    for module_name, names in USED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            moved += [f"{module_name}.{name} (module gone: {error})" for name in names]
            continue
        moved += [f"{module_name}.{name}" for name in names if not hasattr(module, name)]
    assert not moved, (
        f"Dagster {dg.__version__} moved private names entra_pipeline/dagster_private.py imports: "
        f"{', '.join(moved)}. Find their new place (or a public replacement) and change that "
        "module only."
    )
    from entra_pipeline import dagster_private

    assert sorted(dagster_private.__all__) == sorted(name for names in USED.values() for name in names)


def test_only_dagster_private_imports_dagsters_private_modules():
    package = Path(entra_pipeline.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if path.name != "dagster_private.py" and PRIVATE_IMPORT.search(path.read_text())
    ]
    assert not offenders, (
        f"{offenders} import Dagster's private modules (dagster._...): import the name from "
        "entra_pipeline.dagster_private, with a line there saying why it is needed"
    )


def test_our_cron_iterator_is_the_daemons():
    """The ticks of a cron in a timezone, across a DST change, as schedule.py reads them."""
    from entra_pipeline.dagster_private import cron_string_iterator, is_valid_cron_string

    ticks = cron_string_iterator(1772323200.0, "30 2 * * *", "Europe/Berlin")  # 2026-03-01 00:00 UTC
    first = [next(ticks).strftime("%m-%d %H:%M %Z") for _ in range(30)]
    # spring-forward day: the daemon moves 02:30, inside the gap, to 03:00 (docs/schedules.md)
    assert first[0] == "03-01 02:30 CET" and first[27:] == ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"]
    assert is_valid_cron_string("0 9 * * 1") and not is_valid_cron_string("every monday")
