"""The connector wizard as an operator meets it: driven in a pseudo-terminal against the
simulator over HTTPS (the cloud question and the advanced settings, schedules in the past, the
minimum interval, a Review that goes back, Ctrl-C), and from flags, refused before Test
Connection makes a single request."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import select
import signal
import sys
import time
import zoneinfo

import yaml

from entra_pipeline.cli.wizard import edit
from entra_pipeline.config import ConfigError, Schedule, find_connector, parse_connectors
from entra_pipeline.dagster_private import cron_string_iterator
from entra_pipeline.sync.schedule import tick_cron

from .conftest import connector_for
from .helpers import Script, cli, flags

CALCUTTA = zoneinfo.ZoneInfo("Asia/Calcutta")
NOW_IN_CALCUTTA = r"now \d{4}-\d\d-\d\d \d\d:\d\d in Asia/Calcutta"


class Session:
    """`entra-pipeline ...` on a pseudo-terminal of its own, as from a shell: what it prints is
    read up to an expected text, answers are typed, Ctrl-C is the terminal's own (SIGINT)."""

    def __init__(self, home, *args: str) -> None:
        argv = [sys.executable, "-m", "entra_pipeline.cli", *args, "--home", str(home)]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a session with the pty as its controlling terminal
            # A shell starts a foreground command with the signals of Ctrl-C and Ctrl-Backslash at their
            # defaults. The test process may hold them ignored for a moment (libc's system(),
            # in another thread, ignores both while it waits), and an ignored signal stays
            # ignored across exec: the wizard would never see Ctrl-C.
            for number in (signal.SIGINT, signal.SIGQUIT):
                signal.signal(number, signal.SIG_DFL)
            # faulthandler: a wizard that hangs is sent SIGABRT and prints where each thread is
            os.execve(sys.executable, argv, {**os.environ, "PYTHONFAULTHANDLER": "1"})
        self.output, self.read_to = "", 0

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Wait until `text` is printed after what was expected last; returns what came before it."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self.read_to)) < 0:
            assert time.monotonic() < deadline, f"no {text!r} after {self.output[self.read_to :]!r}"
            if select.select([self.fd], [], [], 0.5)[0]:
                try:
                    self.output += os.read(self.fd, 4096).decode(errors="replace").replace("\r\n", "\n")
                except OSError:  # the child ended and closed the terminal
                    assert text in self.output[self.read_to :], f"no {text!r} in {self.output[self.read_to :]!r}"
        before, self.read_to = self.output[self.read_to : found], found + len(text)
        return before

    def answer(self, prompt: str, text: str) -> None:
        self.expect(prompt)
        self.expect(": ")  # the end of the prompt line: the program is reading now
        os.write(self.fd, (text + "\n").encode())

    def interrupt(self, prompt: str) -> None:
        self.expect(prompt)
        self.expect(": ")
        os.write(self.fd, b"\x03")

    def exit_code(self) -> int:
        try:
            while select.select([self.fd], [], [], 10)[0]:
                self.output += os.read(self.fd, 4096).decode(errors="replace").replace("\r\n", "\n")
        except OSError:
            pass
        deadline = time.monotonic() + 60  # a wizard that does not end fails here, with what it printed
        while (ended := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGABRT)
                try:
                    while select.select([self.fd], [], [], 5)[0]:
                        self.output += os.read(self.fd, 65536).decode(errors="replace").replace("\r\n", "\n")
                except OSError:  # the child ended and closed the terminal
                    pass
                os.waitpid(self.pid, 0)
                raise AssertionError(f"the wizard did not end; it printed:\n{self.output[-6000:]}")
            time.sleep(0.1)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(ended[1])


def next_at(hour: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The next time of day `hour`:00 in `zone` after now."""
    now = dt.datetime.now(zone)
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + dt.timedelta(days=1)


def test_create_asks_the_cloud_and_the_advanced_settings_refuses_the_past_and_goes_back_at_review(sim, home):
    info = sim.info
    wizard = Session(home, "connector", "create")
    for prompt, text in (
        ("Connector name", "wiz"),
        ("Description", ""),
        ("Tenant ID", info.tenant_id),
        ("Client ID", info.client_id),
        ("Client Secret", info.client_secret),
        ("Cloud", "mars"),
    ):
        wizard.answer(prompt, text)
    wizard.expect("choose one of: global, usgov, usgov-dod, china.")
    wizard.answer("Cloud", "")  # global, the default
    wizard.answer("Advanced connectivity settings (authority host, Graph endpoint, CA bundle)? [y/N]", "y")
    wizard.answer("Authority host", info.authority_host)
    wizard.answer("Graph endpoint", info.graph_endpoint)
    wizard.answer("CA bundle", str(info.ca_bundle))
    wizard.expect("All five checks passed.")
    for prompt, text in (
        ("Data to sync", ""),
        ("Require Manual Sync", "n"),
        ("Schedule [single/recurring]", ""),
        ("Timezone", "Asia/Calcutta"),
        ("Start", "2025-01-01 02:00"),
        ("Repeat every", "5m"),
    ):
        wizard.answer(prompt, text)
    wizard.expect("interval '5m' is shorter than the minimum of 15m")
    wizard.answer("Repeat every", "1d")
    wizard.answer("End", "2025-06-01 00:00")
    refused = wizard.expect("give a later end, or choose Require Manual Sync\n")
    assert re.search(
        r"\n    End \(local time, YYYY-MM-DD HH:MM\): 2025-06-01 00:00 is in the past \(" + NOW_IN_CALCUTTA + r"\): $",
        refused,
    ), refused
    wizard.answer("End", "tomorrow")
    wizard.expect("'tomorrow' is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. 2026-12-01 02:00")
    wizard.answer("End", "2030-01-01 00:00")
    wizard.answer("Baseline Schedule", "")
    wizard.answer("Retain Previously", "")
    wizard.expect(
        "The sync is scheduled for Jan 01, 2025 02:00 AM in Asia/Calcutta timezone, then every 1d until "
        "Jan 01, 2030 12:00 AM (weekly baseline)."
    )
    first = next_at(2, CALCUTTA).strftime("%b %d, %Y %I:%M %p")
    wizard.expect(f"The start is in the past: the first run will be at {first} in Asia/Calcutta timezone.")
    review = wizard.expect(
        "Create this connector? [save / 1 edit Profile & Connectivity / 2 edit Scope & Schedule / cancel]"
    )
    assert "Client Secret        ********" in review and "Cloud                global" in review
    wizard.expect(": ")
    os.write(wizard.fd, b"2\n")
    for prompt in (
        "Data to sync",
        "Require Manual Sync",
        "Schedule [single/recurring] (recurring)",
        "Timezone (IANA name) (Asia/Calcutta)",
        "Start (local time, YYYY-MM-DD HH:MM) (2025-01-01 02:00)",
    ):
        wizard.answer(prompt, "")  # every answer kept as the default
    wizard.answer("Repeat every (e.g. 30m, 6h, 1d) (1d)", "6h")
    for prompt in ("End (local time, YYYY-MM-DD HH:MM) (2030-01-01 00:00)", "Baseline Schedule", "Retain Previously"):
        wizard.answer(prompt, "")
    wizard.expect("then every 6h until Jan 01, 2030 12:00 AM (weekly baseline).")
    wizard.answer("Create this connector?", "save")
    wizard.expect("Connector 'wiz' created: Registered.")
    assert wizard.exit_code() == 0, wizard.output
    assert info.client_secret not in wizard.output and "Traceback" not in wizard.output
    assert wizard.output.count("Test Connection:") == 1  # going back to step 2 does not test again
    [entry] = yaml.safe_load((home / "connectors.yaml").read_text())["connectors"]
    assert (entry["cloud"], entry["authority_host"], entry["graph_endpoint"]) == (
        "global",
        info.authority_host,
        info.graph_endpoint,
    )
    assert entry["schedule"] == {
        "occurs": "recurring",
        "start": "2025-01-01T02:00:00",
        "end": "2030-01-01T00:00:00",
        "every": "6h",
        "timezone": "Asia/Calcutta",
    }
    assert find_connector(home, "wiz").secret(home).get_secret_value() == info.client_secret


def test_cancel_at_review_is_confirmed_and_going_back_to_step_1_tests_the_connection_again(sim, home):
    info = sim.info
    wizard = Session(
        home,
        "connector",
        "create",
        "--name",
        "back",
        "--tenant-id",
        info.tenant_id,
        "--client-id",
        info.client_id,
        "--require-manual-sync",
    )
    wizard.answer("Description", "")
    wizard.answer("Client Secret", info.client_secret)
    wizard.answer("Cloud", "")
    wizard.answer("Advanced connectivity settings", "y")
    wizard.answer("Authority host", info.authority_host)
    wizard.answer("Graph endpoint", info.graph_endpoint)
    wizard.answer("CA bundle", str(info.ca_bundle))
    for prompt in ("Data to sync", "Baseline Schedule", "Retain Previously"):
        wizard.answer(prompt, "")
    wizard.answer("Create this connector?", "n")
    wizard.answer("Discard every answer, the client secret too? [y/N]", "n")
    wizard.answer("Create this connector?", "1")
    wizard.answer("Connector name (back)", "")
    wizard.answer("Description", "")
    wizard.answer(f"Tenant ID (directory id, or a verified domain) ({info.tenant_id})", "")
    wizard.answer("Client ID", "")
    wizard.answer("Client Secret (typed without echo) (********)", "")  # the secret kept, shown masked
    wizard.answer("Cloud", "")
    wizard.answer("Advanced connectivity settings (authority host, Graph endpoint, CA bundle)? [Y/n]", "")
    wizard.answer("Authority host", "")
    wizard.answer("Graph endpoint", "")
    wizard.answer("CA bundle", "-")  # cleared: a connectivity answer changed, so Test Connection again
    wizard.expect("Test Connection:")
    wizard.expect("FAIL")  # the simulator's own CA is no longer trusted
    wizard.interrupt("Tenant ID")
    assert wizard.exit_code() == 130
    assert wizard.output.count("Test Connection:") == 2 and "Traceback" not in wizard.output
    assert "connector create cancelled: nothing saved" in wizard.output
    assert not (home / "connectors.yaml").exists()

    cancelled = Session(
        home,
        "connector",
        "create",
        "--name",
        "gone",
        "--tenant-id",
        info.tenant_id,
        "--client-id",
        info.client_id,
        "--require-manual-sync",
        *flags(sim)[4:],
    )
    cancelled.answer("Description", "")
    cancelled.answer("Client Secret", info.client_secret)
    cancelled.answer("Cloud", "")
    for prompt in ("Data to sync", "Baseline Schedule", "Retain Previously"):
        cancelled.answer(prompt, "")
    cancelled.answer("Create this connector?", "cancel")
    cancelled.answer("Discard every answer, the client secret too?", "y")
    assert cancelled.exit_code() == 2
    assert "entra-pipeline connector: cancelled: nothing saved" in cancelled.output
    assert not (home / "connectors.yaml").exists()


def test_ctrl_c_at_the_secret_prompt_leaves_with_one_line_and_saves_nothing(home):
    wizard = Session(home, "connector", "create")
    wizard.answer("Connector name", "nope")
    wizard.answer("Description", "")
    wizard.answer("Tenant ID", "contoso.onmicrosoft.com")
    wizard.answer("Client ID", "00000000-0000-0000-0000-000000000001")
    wizard.interrupt("Client Secret")
    assert wizard.exit_code() == 130
    after = wizard.output[wizard.read_to :].strip().splitlines()
    assert after == ["connector create cancelled: nothing saved"], after
    assert "Traceback" not in wizard.output and "KeyboardInterrupt" not in wizard.output
    assert not (home / "connectors.yaml").exists()
    # After the secret was typed (and encrypted with a key made for it): nothing is left either.
    typed = Session(home, "connector", "create")
    for prompt, text in (
        ("Connector name", "nope"),
        ("Description", ""),
        ("Tenant ID", "contoso.onmicrosoft.com"),
        ("Client ID", "00000000-0000-0000-0000-000000000001"),
        ("Client Secret", "s3cret"),
    ):
        typed.answer(prompt, text)
    typed.interrupt("Cloud")
    assert typed.exit_code() == 130
    assert "s3cret" not in typed.output, "the secret is typed without echo"
    assert sorted(p.name for p in home.iterdir()) == [], "a cancelled create leaves no file, not even a key"
    ended = Session(home, "connector", "create")
    ended.expect("Connector name")
    ended.expect(": ")
    os.write(ended.fd, b"\x04")  # Ctrl-D: the end of input
    assert ended.exit_code() == 2
    assert ended.output[ended.read_to :].strip().splitlines() == [
        "connector create cancelled (input ended): nothing saved"
    ]
    assert "Traceback" not in ended.output and not (home / "connectors.yaml").exists()


def test_bad_flags_are_refused_by_flag_before_any_graph_request(sim, home):
    base = [
        "connector",
        "create",
        "--no-input",
        "--yes",
        "--name",
        "flagged",
        *flags(sim),
        "--client-secret-stdin",
        "--timezone",
        "Asia/Calcutta",
    ]
    recurring = ["--occurs", "recurring", "--start", "2026-12-01 02:00", "--every", "6h"]
    cases = [
        (
            [*recurring, "--end", "tomorrow"],
            "--end: 'tomorrow' is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. 2026-12-01 02:00",
        ),
        ([*recurring, "--end", "2026-11-01 00:00"], "--end: end 2026-11-01 00:00 is not after start 2026-12-01 02:00"),
        (
            [*recurring, "--end", "2026-01-01 00:00", "--start", "2025-01-01 00:00"],
            "--end: 2026-01-01 00:00 is in the past (now ",
        ),
        (recurring, "--end: required (End (local time, YYYY-MM-DD HH:MM)); give it as a flag"),
        (
            ["--occurs", "recurring", "--start", "2026-12-01 02:00", "--end", "2030-01-01 00:00", "--every", "5m"],
            "--every: interval '5m' is shorter than the minimum of 15m",
        ),
        (["--occurs", "single", "--start", "2025-03-01 09:30"], "--start: 2025-03-01 09:30 is in the past (now "),
        (["--cloud", "mars"], "--cloud: choose one of: global, usgov, usgov-dod, china"),
        (
            [
                "--occurs",
                "recurring",
                "--start",
                "2026-12-01 02:00",
                "--end",
                "2030-01-01 00:00",
                "--cron",
                "*/5 * * * *",
            ],
            "--cron: cron '*/5 * * * *' runs 5 minutes apart (02:00 and 02:05): less than the minimum of 15 minutes",
        ),
        (
            [
                "--occurs",
                "recurring",
                "--start",
                "2026-12-01 02:00",
                "--end",
                "2030-01-01 00:00",
                "--cron",
                "61 * * * *",
            ],
            "--cron: cron '61 * * * *' is not a cron schedule: five fields",
        ),
    ]
    for extra, message in cases:
        before = sim.stats()["http_requests"]
        result = cli(home, *base, *extra, stdin=sim.info.client_secret + "\n")
        assert result.returncode == 2 and message in result.stderr, (extra, result.stderr)
        assert "schedule." not in result.stderr and "Input should" not in result.stderr
        assert "Test Connection" not in result.stdout and sim.stats()["http_requests"] == before, extra
    assert not (home / "connectors.yaml").exists()
    # A recurring start in the past is fine when the end is ahead: the first run is from now on.
    started = cli(
        home,
        *base,
        "--occurs",
        "recurring",
        "--start",
        "2025-01-01 02:00",
        "--end",
        "2030-01-01 00:00",
        "--every",
        "1d",
        stdin=sim.info.client_secret + "\n",
    )
    assert started.returncode == 0, started.stderr
    first = next_at(2, CALCUTTA).strftime("%b %d, %Y %I:%M %p")
    assert f"The start is in the past: the first run will be at {first} in Asia/Calcutta timezone." in started.stdout


def test_a_failed_rotate_secret_says_the_old_secret_is_kept_and_keeps_it(sim, home):
    connector_for(sim, home, name="keep")
    before = (home / "connectors.yaml").read_text()
    piped = cli(home, "connector", "rotate-secret", "keep", "--client-secret-stdin", stdin="not-the-secret\n")
    assert piped.returncode == 2 and "AADSTS7000215" in piped.stdout
    assert (
        "entra-pipeline connector: Test Connection failed; the new secret was not saved: the old secret is kept"
        in piped.stderr
    )
    typed = Session(home, "connector", "rotate-secret", "keep")
    typed.answer("Client Secret", "still-not-the-secret")
    typed.expect("AADSTS7000215")
    typed.interrupt("Client Secret (typed without echo)")  # asked again; the operator gives up
    assert typed.exit_code() == 130
    assert "connector rotate-secret cancelled: the old secret is kept" in typed.output
    assert (home / "connectors.yaml").read_text() == before
    assert find_connector(home, "keep").secret(home).get_secret_value() == sim.info.client_secret


def test_edit_shows_the_current_cloud_and_advanced_settings_as_defaults(sim, home):
    connector_for(sim, home, name="ed")
    console = Script([""] * 13)  # Enter at every question
    edit(console, home, find_connector(home, "ed"), {}, set(), assume_yes=True)
    shown = console.text()
    assert (
        "Cloud (global; usgov = US Government GCC High; usgov-dod = US Government DoD; china = operated by "
        "21Vianet) [global/usgov/usgov-dod/china] (global): " in shown
    )
    assert "Advanced connectivity settings (authority host, Graph endpoint, CA bundle)? [Y/n]: " in shown
    assert f"Authority host (https:// origin; empty: the cloud's) ({sim.info.authority_host}) (- clears): " in shown
    assert "Test Connection" not in shown  # nothing it depends on changed
    assert find_connector(home, "ed").authority_host == sim.info.authority_host


def test_the_minimum_interval_is_enforced_in_connectors_yaml_and_an_ended_schedule_still_loads():
    entry = {
        "name": "old",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "00000000-0000-0000-0000-000000000001",
        "client_secret_env": "SECRET",
    }
    ended = {"occurs": "recurring", "start": "2024-01-01 00:00", "end": "2025-01-01 00:00", "every": "1d"}
    [connector] = parse_connectors({"connectors": [{**entry, "schedule": ended}]})
    assert connector.schedule.end == dt.datetime(2025, 1, 1)
    for every in ("1m", "14m", "0m"):
        try:
            parse_connectors({"connectors": [{**entry, "schedule": {**ended, "every": every}}]})
        except ConfigError as error:
            assert f"field 'schedule.every': interval '{every}' is shorter than the minimum of 15m" in str(error)
        else:
            raise AssertionError(f"every {every} accepted")
    assert parse_connectors({"connectors": [{**entry, "schedule": {**ended, "every": "15m"}}]})


def _expanded(schedule: Schedule) -> str:
    """The cron as it was written before: every mark listed ('40 0,1,...,23 * * *')."""
    start, count, unit = schedule.start, int(schedule.every[:-1]), schedule.every[-1]
    if unit == "m":
        return f"{','.join(str(m) for m in range(start.minute % count, 60, count))} * * * *"
    return f"{start.minute} {','.join(str(h) for h in range(start.hour % count, 24, count))} * * *"


def test_the_tick_cron_is_the_simplest_with_the_same_ticks():
    expected = {
        ("1h", "00:40"): "40 * * * *",
        ("6h", "00:00"): "0 */6 * * *",
        ("6h", "02:00"): "0 2,8,14,20 * * *",
        ("15m", "00:00"): "*/15 * * * *",
        ("20m", "00:50"): "10,30,50 * * * *",
        ("2h", "01:05"): "5 1,3,5,7,9,11,13,15,17,19,21,23 * * *",
        ("30m", "09:30"): "*/30 * * * *",
        ("1h", "00:00"): "0 * * * *",
    }
    since = dt.datetime(2026, 3, 7, tzinfo=dt.UTC).timestamp()  # a DST change in New York inside
    for (every, at), cron in expected.items():
        schedule = Schedule(
            occurs="recurring",
            start=f"2026-03-07 {at}",
            end="2026-03-10 00:00",
            every=every,
            timezone="America/New_York",
        )
        assert tick_cron(schedule) == cron
        ticks = [iter(cron_string_iterator(since, form, "America/New_York")) for form in (cron, _expanded(schedule))]
        assert [next(ticks[0]) for _ in range(200)] == [next(ticks[1]) for _ in range(200)], every
