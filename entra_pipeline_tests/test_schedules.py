"""Schedules and baseline cycles on a controlled clock: the daemon's own cron iterator gives the
ticks, each is evaluated by the connector's Dagster schedule, and the run requests say which
runs happen and which baseline cycle each belongs to. One test executes the requests against
the simulator to see baselines and delta runs really alternate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from entra_pipeline.config import Connector, Schedule, save_connector
from entra_pipeline.dagster_private import cron_string_iterator
from entra_pipeline.defs import build_definitions
from entra_pipeline.store import open_store
from entra_pipeline.sync.cycles import BaselineCycles
from entra_pipeline.sync.schedule import confirmation
from entra_pipeline.sync.status import REGISTERED, SCHEDULED, StatusStore

from .conftest import connector_for

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out

UTC = dt.UTC


def offline_connector(home: Path, **fields) -> Connector:
    """A connector that never reaches Graph: these tests only evaluate schedules."""
    connector = Connector(
        name="sched",
        tenant_id="contoso.onmicrosoft.com",
        client_id="00000000-0000-0000-0000-000000000001",
        client_secret_env="UNUSED",
        **fields,
    )
    save_connector(home, connector, replace=True)
    return connector


def scheduled_runs(
    home: Path, since: dt.datetime, until: dt.datetime, instance
) -> list[tuple[dt.datetime, dg.RunRequest]]:
    """Every tick the daemon would evaluate between since and until, and the run it requests."""
    defs = build_definitions(home)
    schedule, repository = defs.resolve_schedule_def("sched__schedule"), defs.get_repository_def()
    runs = []
    for tick in cron_string_iterator(since.timestamp(), schedule.cron_schedule, schedule.execution_timezone):
        if tick > until:
            return runs
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=repository, resources=defs.resources
        )
        # Like the daemon, a context opens the instance from its ref (0.15 s of schema checks each);
        # evaluating thousands of ticks, share the one already open.
        context._instance = instance
        result = schedule.evaluate_tick(context)
        runs += [(tick, request) for request in result.run_requests or []]
    return runs


def local(runs, zone: str = "UTC") -> list[str]:
    import zoneinfo

    return [tick.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M%z") for tick, _ in runs]


def test_confirmation_message_has_the_specs_form(home):
    connector = offline_connector(
        home, schedule=Schedule(occurs="single", start="2026-05-04 15:26", timezone="Asia/Calcutta")
    )
    assert confirmation(connector) == "The sync is scheduled for May 04, 2026 03:26 PM in Asia/Calcutta timezone."
    assert build_definitions(home).resolve_schedule_def("sched__schedule").description == confirmation(connector)
    recurring = offline_connector(
        home,
        baseline="monthly",
        schedule=Schedule(
            occurs="recurring", start="2026-12-01 02:00", end="2027-06-30 23:00", every="6h", timezone="Europe/London"
        ),
    )
    assert confirmation(recurring) == (
        "The sync is scheduled for Dec 01, 2026 02:00 AM in Europe/London timezone, "
        "then every 6h until Jun 30, 2027 11:00 PM (monthly baseline)."
    )


def test_a_single_occurrence_fires_exactly_once(home):
    offline_connector(home, schedule=Schedule(occurs="single", start="2026-05-04 15:26", timezone="Asia/Calcutta"))
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(home, dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC), instance)
    assert local(runs, "Asia/Calcutta") == ["2026-05-04 15:26+0530"]
    ((_, request),) = runs
    assert (
        request.partition_key == "2026-05-04" and request.run_config["ops"]["sched__sync"]["config"]["mode"] == "auto"
    )


def test_recurring_daily_respects_start_end_timezone_and_both_dst_changes(home):
    offline_connector(
        home,
        schedule=Schedule(
            occurs="recurring",
            start="2026-03-06 02:30",
            end="2026-03-10 02:29",
            every="1d",
            timezone="America/New_York",
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(home, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC), instance)
    # 02:30 does not exist on 8 March (clocks jump 02:00 -> 03:00): that day's run is at 03:00.
    # The 10 March run would be a minute after the end: none.
    assert local(runs, "America/New_York") == [
        "2026-03-06 02:30-0500",
        "2026-03-07 02:30-0500",
        "2026-03-08 03:00-0400",
        "2026-03-09 02:30-0400",
    ]
    offline_connector(
        home,
        schedule=Schedule(
            occurs="recurring",
            start="2026-10-30 01:30",
            end="2026-11-02 12:00",
            every="1d",
            timezone="America/New_York",
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(
            home, dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC), instance
        )
    # 01:30 happens twice on 1 November (clocks fall back 02:00 -> 01:00): one run, not two.
    assert local(runs, "America/New_York") == [
        "2026-10-30 01:30-0400",
        "2026-10-31 01:30-0400",
        "2026-11-01 01:30-0500",
        "2026-11-02 01:30-0500",
    ]


def test_hour_intervals_are_elapsed_time_across_a_dst_change(home):
    offline_connector(
        home,
        schedule=Schedule(
            occurs="recurring",
            start="2026-03-07 22:00",
            end="2026-03-08 12:00",
            every="5h",
            timezone="America/New_York",
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(home, dt.datetime(2026, 3, 7, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC), instance)
    assert local(runs) == ["2026-03-08 03:00+0000", "2026-03-08 08:00+0000", "2026-03-08 13:00+0000"]
    assert len({request.run_key for _, request in runs}) == 3


def test_minute_intervals_that_cron_cannot_express(home):
    offline_connector(
        home,
        schedule=Schedule(
            occurs="recurring", start="2026-12-01 10:10", end="2026-12-01 13:00", every="45m", timezone="UTC"
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(
            home, dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2026, 12, 2, tzinfo=UTC), instance
        )
    assert [t.strftime("%H:%M") for t, _ in runs] == ["10:10", "10:55", "11:40", "12:25"]


def test_cron_schedules_run_in_their_timezone(home):
    offline_connector(
        home,
        schedule=Schedule(
            occurs="recurring",
            start="2026-12-01 00:00",
            end="2026-12-15 00:00",
            cron="0 9 * * 1",
            timezone="Asia/Tokyo",
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(home, dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC), instance)
    assert local(runs, "Asia/Tokyo") == ["2026-12-07 09:00+0900", "2026-12-14 09:00+0900"]


def test_require_manual_sync_has_no_schedule_and_never_fires(home):
    connector = offline_connector(
        home,
        require_manual_sync=True,
        schedule=Schedule(
            occurs="recurring", start="2026-01-01 00:00", end="2027-01-01 00:00", every="1h", timezone="UTC"
        ),
    )
    defs = build_definitions(home)
    assert [s.name for s in defs.schedules or []] == []
    assert "runs only when launched by hand" in confirmation(connector)
    sensor = defs.resolve_sensor_def("sched__lifecycle")
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    assert not result.run_requests  # the lifecycle sensor registers cycles; it never launches runs
    assert StatusStore(open_store(home), connector.name).read().state == REGISTERED


BASELINES = {
    "weekly": [
        "2026-01-31",
        "2026-02-07",
        "2026-02-14",
        "2026-02-21",
        "2026-02-28",
        "2026-03-07",
        "2026-03-14",
        "2026-03-21",
        "2026-03-28",
        "2026-04-04",
    ],
    "fortnightly": ["2026-01-31", "2026-02-14", "2026-02-28", "2026-03-14", "2026-03-28"],
    "triweekly": ["2026-01-31", "2026-02-21", "2026-03-14", "2026-04-04"],
    # Monthly from the 31st: the last day of shorter months.
    "monthly": ["2026-01-31", "2026-02-28", "2026-03-31"],
}


@pytest.mark.parametrize("frequency", list(BASELINES))
def test_each_baseline_frequency_puts_the_baseline_at_the_first_run_of_each_cycle(home, frequency):
    connector = offline_connector(
        home,
        baseline=frequency,
        schedule=Schedule(
            occurs="recurring", start="2026-01-31 06:00", end="2026-04-09 06:00", every="1d", timezone="Europe/Paris"
        ),
    )
    with dg.instance_for_test() as instance:
        runs = scheduled_runs(home, dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 5, 1, tzinfo=UTC), instance)
        assert len(runs) == 69
        first_run_of_cycle: dict[str, str] = {}
        for run in runs:
            first_run_of_cycle.setdefault(run[1].partition_key, local([run], "Europe/Paris")[0][:10])
        assert list(first_run_of_cycle) == BASELINES[frequency]
        assert all(cycle == day for cycle, day in first_run_of_cycle.items())  # a cycle begins with its first run
        baselines = list(first_run_of_cycle)
        assert set(instance.get_dynamic_partitions("sched__baseline_cycles")) == set(baselines)
    # Cycle boundaries stay at 06:00 Paris time across the 29 March DST change.
    cycle = BaselineCycles(connector, open_store(home)).at(dt.datetime(2026, 3, 30, 12, tzinfo=UTC))
    assert cycle.start.strftime("%H:%M") == "06:00"


def test_scheduled_runs_are_baseline_then_delta_and_a_backfilled_cycle_reruns_its_baseline(make_sim, home):
    sim = make_sim(users=40, seed=5)
    connector_for(
        sim,
        home,
        name="sched",
        baseline="fortnightly",
        schedule=Schedule(
            occurs="recurring", start="2026-10-01 03:00", end="2026-11-10 03:00", every="3d", timezone="UTC"
        ),
    )
    defs = build_definitions(home)
    job = defs.resolve_job_def("sched__sync_job")
    modes = []
    with dg.instance_for_test() as instance:
        for tick, request in scheduled_runs(
            home, dt.datetime(2026, 9, 30, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC), instance
        ):
            sim.tenant.create_user(displayName=f"Joined {tick:%m-%d}")
            result = job.execute_in_process(
                run_config=request.run_config, partition_key=request.partition_key, instance=instance, tags=request.tags
            )
            assert result.success
            users = next(
                e.materialization.metadata
                for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["sched", "raw_users"])
            )
            modes.append((f"{tick:%m-%d}", request.partition_key, users["pull_mode"].value))
        assert modes == [
            ("10-01", "2026-10-01", "full"),
            ("10-04", "2026-10-01", "delta"),
            ("10-07", "2026-10-01", "delta"),
            ("10-10", "2026-10-01", "delta"),
            ("10-13", "2026-10-01", "delta"),
            ("10-16", "2026-10-15", "full"),
            ("10-19", "2026-10-15", "delta"),
            ("10-22", "2026-10-15", "delta"),
            ("10-25", "2026-10-15", "delta"),
            ("10-28", "2026-10-15", "delta"),
            ("10-31", "2026-10-29", "full"),
        ]
        # Launching (or backfilling) a cycle's partition from the UI uses the default config: a baseline.
        again = job.execute_in_process(partition_key="2026-10-15", instance=instance)
        users = next(
            e.materialization.metadata
            for e in again.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey(["sched", "raw_users"])
        )
        assert users["pull_mode"].value == "full" and users["count"].value == len(sim.truth()["users"])


def test_lifecycle_sensor_registers_started_cycles_and_marks_the_connector_scheduled(home):
    now = dt.datetime.now(UTC)
    start = (now - dt.timedelta(days=20)).replace(tzinfo=None, second=0, microsecond=0)
    connector = offline_connector(
        home, schedule=Schedule(occurs="recurring", start=start, end=start + dt.timedelta(days=60), every="1d")
    )
    defs = build_definitions(home)
    sensor = defs.resolve_sensor_def("sched__lifecycle")
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
        (request,) = result.dynamic_partitions_requests
        assert list(request.partition_keys) == [(start + dt.timedelta(days=d)).date().isoformat() for d in (0, 7, 14)]
    status = StatusStore(open_store(home), connector.name).read()
    assert status.state == SCHEDULED
