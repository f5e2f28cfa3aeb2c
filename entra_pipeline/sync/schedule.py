"""When a connector runs: the spec's Single Occurrence and Recurring schedules, in their
timezone, as (a) a cron the Dagster daemon ticks on and (b) a rule saying which ticks are runs.

Cron cannot say "every 45 minutes" or "every 3 days" from an arbitrary start, so such
intervals tick on the finest cron that contains them (every minute / hour / day) and the rule
keeps the ticks that are a whole number of intervals from the start. Choices (docs/schedules.md):
- minutes and hours are elapsed time: "every 6h" stays 6 hours apart across a DST change;
- days are calendar days: "every 1d" from 02:00 runs at 02:00 local time every day;
- start and end compare as local wall-clock times, so a run Dagster moves out of a DST gap
  (02:30 -> 03:00 on spring-forward day) still counts as on time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

from ..config import INTERVAL, MIN_INTERVAL, TIME_FORMAT, Connector, Schedule

# Dagster's own cron iterator: the exact ticks the daemon will evaluate, DST rules included.
from ..dagster_private import cron_string_iterator, is_valid_cron_string

UNIT = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1)}
CONFIRMATION_FORMAT = "%b %d, %Y %I:%M %p"  # "May 04, 2026 03:26 PM", as in the spec


def zone(schedule: Schedule) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(schedule.timezone)


def localize(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A local wall-clock time as an instant; a time inside a DST gap moves forward by the gap."""
    return naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def interval(schedule: Schedule) -> tuple[int, str] | None:
    match = INTERVAL.match(schedule.every.strip()) if schedule.every else None
    return (int(match.group(1)), match.group(2)) if match else None


def _marks(first: int, step: int, size: int) -> str:
    """The cron field for every `step` from `first` within 0..size-1, written as simply as cron
    allows (the UI shows it): '*' for every one, '*/15' from zero, else the list ('10,40')."""
    if step == 1:
        return "*"
    if first == 0:
        return f"*/{step}"
    return ",".join(str(mark) for mark in range(first, size, step))


def tick_cron(schedule: Schedule) -> str:
    """The cron Dagster ticks on (in the schedule's timezone)."""
    start = schedule.start
    if schedule.occurs == "single":
        return f"{start.minute} {start.hour} {start.day} {start.month} *"
    if schedule.cron:
        return schedule.cron
    count, unit = interval(schedule)  # type: ignore[misc]
    if unit == "m":
        if 60 % count == 0:
            return f"{_marks(start.minute % count, count, 60)} * * * *"
        return "* * * * *"
    if unit == "h":
        if 24 % count == 0:
            return f"{start.minute} {_marks(start.hour % count, count, 24)} * * *"
        return f"{start.minute} * * * *"
    if count == 7:
        return f"{start.minute} {start.hour} * * {start.isoweekday() % 7}"
    return f"{start.minute} {start.hour} * * *"


def skip_reason(schedule: Schedule, tick: dt.datetime) -> str | None:
    """None if the tick (aware, any zone) is a run of this schedule, else why it is not."""
    local = tick.astimezone(zone(schedule))
    wall = local.replace(tzinfo=None)
    if wall < schedule.start:
        return f"before the schedule's start ({schedule.start:%Y-%m-%d %H:%M} {schedule.timezone})"
    if schedule.end is not None and wall > schedule.end:
        return f"after the schedule's end ({schedule.end:%Y-%m-%d %H:%M} {schedule.timezone})"
    if schedule.occurs == "single":
        if wall.date() != schedule.start.date():
            return f"single occurrence was {schedule.start:%Y-%m-%d %H:%M} {schedule.timezone}"
        return None
    every = interval(schedule)
    if every is None:
        return None
    count, unit = every
    if unit == "d":
        return None if (wall.date() - schedule.start.date()).days % count == 0 else f"not a run day (every {count}d)"
    # In UTC: Python subtracts two times of the same zone as wall clocks, ignoring a DST change.
    elapsed = tick.astimezone(dt.UTC) - localize(schedule.start, zone(schedule)).astimezone(dt.UTC)
    steps, remainder = divmod(elapsed, UNIT[unit])
    return None if remainder == dt.timedelta(0) and steps % count == 0 else f"not a run time (every {count}{unit})"


def runs(schedule: Schedule, after: dt.datetime) -> Iterator[dt.datetime]:
    """The schedule's runs strictly after `after`, in order, as the daemon will fire them."""
    tz = zone(schedule)
    begin = max(after, localize(schedule.start, tz) - dt.timedelta(hours=3))  # a DST gap moves a run by <= 1h
    for tick in cron_string_iterator(begin.timestamp(), tick_cron(schedule), schedule.timezone):
        if tick <= after:
            continue
        wall = tick.astimezone(tz).replace(tzinfo=None)
        if schedule.end is not None and wall > schedule.end:
            return
        if schedule.occurs == "single" and wall.date() > schedule.start.date():
            return
        if skip_reason(schedule, tick) is None:
            yield tick


def first_run(schedule: Schedule) -> dt.datetime | None:
    return next(runs(schedule, localize(schedule.start, zone(schedule)) - dt.timedelta(hours=3)), None)


def next_run(connector: Connector, now: dt.datetime) -> dt.datetime | None:
    """The next automatic run, or None (manual sync, no schedule, or past its end)."""
    if connector.schedule is None or connector.require_manual_sync:
        return None
    return next(runs(connector.schedule, now), None)


def past_problem(schedule: Schedule, now: dt.datetime) -> tuple[str, str] | None:
    """(field, why) when a schedule can never run again as of `now`: a single occurrence in the
    past, or a recurring schedule whose end is. The wizard and its flags refuse such a schedule;
    connectors.yaml still loads one (an old connector whose schedule ended stays a connector:
    docs/schedules.md)."""
    local_now = now.astimezone(zone(schedule)).replace(tzinfo=None, second=0, microsecond=0)
    field, when = ("start", schedule.start) if schedule.occurs == "single" else ("end", schedule.end)
    if when is None or when > local_now:
        return None
    later = "a later start" if field == "start" else "a later end"
    return field, (
        f"{when:{TIME_FORMAT}} is in the past (now {local_now:{TIME_FORMAT}} in {schedule.timezone}): "
        f"give {later}, or choose Require Manual Sync"
    )


def cron_problem(schedule: Schedule) -> str | None:
    """Why a recurring schedule's cron cannot be used: not a cron Dagster reads, or two runs
    closer than the minimum interval (looked for in its first eight days: every cron repeats
    within a week, and a month's day-of-month pattern would only space runs further apart)."""
    if schedule.cron is None:
        return None
    if not is_valid_cron_string(schedule.cron):
        return (
            f"cron {schedule.cron!r} is not a cron schedule: five fields, minute hour day-of-month month "
            "day-of-week, e.g. '0 2 * * *' (02:00 every day)"
        )
    begin = localize(schedule.start, zone(schedule))
    previous = None
    for tick in cron_string_iterator(begin.timestamp(), schedule.cron, schedule.timezone):
        if previous is not None and tick - previous < MIN_INTERVAL:
            gap = int((tick - previous).total_seconds() // 60)
            return (
                f"cron {schedule.cron!r} runs {gap} minutes apart ({previous:%H:%M} and {tick:%H:%M}): less "
                f"than the minimum of {MIN_INTERVAL.seconds // 60} minutes between runs (docs/schedules.md)"
            )
        if tick - begin > dt.timedelta(days=8):
            return None
        previous = tick
    return None


def first_run_from(connector: Connector, now: dt.datetime) -> str | None:
    """For a schedule whose start is past: when its first run from now is, in the confirmation's
    words (runs before now are not made up). None when the start is still ahead."""
    schedule = connector.schedule
    if schedule is None or connector.require_manual_sync or localize(schedule.start, zone(schedule)) > now:
        return None
    upcoming = next_run(connector, now)
    if upcoming is None:
        return "The schedule has no run left: the connector will not run automatically."
    return f"The start is in the past: the first run will be at {describe(upcoming, schedule)}."


def describe(at: dt.datetime, schedule: Schedule) -> str:
    return f"{at.astimezone(zone(schedule)).strftime(CONFIRMATION_FORMAT)} in {schedule.timezone} timezone"


def confirmation(connector: Connector) -> str:
    """The spec's schedule confirmation, e.g. "The sync is scheduled for May 04, 2026 03:26 PM in
    Asia/Calcutta timezone", followed by how it repeats."""
    schedule = connector.schedule
    if schedule is None:
        return "No schedule is configured: the connector runs only when launched by hand."
    if connector.require_manual_sync:
        return (
            "Require Manual Sync is on: the connector does not run on its schedule and runs only when launched by hand."
        )
    first = first_run(schedule)
    if first is None:
        return "The schedule has no run between its start and end: the connector will not run automatically."
    message = f"The sync is scheduled for {describe(first, schedule)}"
    if schedule.occurs == "recurring":
        every = f"every {schedule.every}" if schedule.every else f"on cron '{schedule.cron}'"
        message += (
            f", then {every} until {schedule.end.strftime(CONFIRMATION_FORMAT)}"  # type: ignore[union-attr]
            f" ({connector.baseline} baseline)"
        )
    return message + "."
