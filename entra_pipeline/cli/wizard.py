"""`connector create` / `edit` / `rotate-secret`: the spec's three setup steps as questions.

1. Profile & Connectivity: name, description, tenant, client id, client secret, the cloud and
   (behind one question) authority host, Graph endpoint and CA bundle; then Test Connection,
   and the flow does not go on until its five checks pass (the spec's rule).
2. Scope & Schedule: data to sync, the schedule, and the Advanced Settings; the schedule's
   confirmation message is shown before going on. A schedule that can never run (in the past)
   is refused here, not in connectors.yaml (docs/schedules.md).
3. Review & Confirm: every setting (secret masked); then save, go back to a step with every
   answer kept as its default, or cancel (asked twice: the answers would be lost).

The questions are data; each answer is checked at once by the same validation that loads
connectors.yaml, so a bad answer gets the same message and a second try. Answers can come
from flags (automation): a flag's value is checked like a typed one, and with no terminal a
bad or missing answer ends the flow with that message instead of a prompt.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import sys
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import TypeAdapter, ValidationError

from ..config import (
    CLOUDS,
    ConfigError,
    Connector,
    Schedule,
    SecretBox,
    dagster_name_of,
    end_problem,
    field_problems,
    load_connectors,
    save_connector,
)
from ..graph.connection_test import CheckResult, run_checks
from ..sync.schedule import confirmation, cron_problem, first_run_from, past_problem

MASK = "********"
YES, NO = ("y", "yes", "true", "1"), ("n", "no", "false", "0")


class Console(Protocol):
    interactive: bool

    def ask(self, prompt: str, secret: bool = False) -> str: ...

    def say(self, text: str) -> None: ...


class Terminal:
    """Prompts on the terminal; the secret is read without echo.

    Not `input()` or `getpass`: both block in one read(), and CPython runs a signal's handler
    only between its own steps, so a Ctrl-C that lands after the prompt is written and before
    the read starts is never acted on; the wizard would wait for Enter. Waiting in short
    selects returns to Python often enough for Ctrl-C to stop it, whenever it comes."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def ask(self, prompt: str, secret: bool = False) -> str:
        fd = sys.stdin.fileno()
        if not secret:
            return _read_line(fd, prompt)
        shown = termios.tcgetattr(fd)
        hidden = shown[:]
        hidden[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, hidden)  # before the prompt: type-ahead is not echoed
        try:
            return _read_line(fd, prompt)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, shown)
            sys.stdout.write("\n")  # the Enter that was not echoed
            sys.stdout.flush()

    def say(self, text: str) -> None:
        print(text, flush=True)


def _read_line(fd: int, prompt: str) -> str:
    """One line typed on a terminal in canonical mode (the terminal edits the line; a read
    returns it whole), without its newline; EOFError for Ctrl-D on an empty line."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    typed = b""
    while not typed.endswith(b"\n"):
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            if typed:
                break
            raise EOFError
        typed += chunk
    return typed.decode(errors="replace").removesuffix("\n")


class SetupAborted(Exception):
    """The flow cannot finish: a bad answer with no terminal to ask again, or the user declined."""


def _always(_: dict) -> bool:
    return True


def _scheduled(answers: dict) -> bool:
    return not answers.get("require_manual_sync")


def _recurring(answers: dict) -> bool:
    return _scheduled(answers) and answers.get("schedule", {}).get("occurs") == "recurring"


@dataclass(frozen=True)
class Question:
    field: str  # connectors.yaml field; "schedule.x" for the schedule's
    prompt: str
    default: str | None = None  # None: an answer is required
    choices: tuple[str, ...] = ()
    secret: bool = False
    yes_no: bool = False
    when: Callable[[dict], bool] = _always


PROFILE = (
    Question("name", "Connector name"),
    Question("description", "Description (optional, up to 180 characters)", default=""),
    Question("tenant_id", "Tenant ID (directory id, or a verified domain)"),
    Question("client_id", "Client ID (application id)"),
    Question(
        "client_secret",
        "Client Secret (typed without echo)",
        secret=True,
        when=lambda answers: "client_secret_env" not in answers,
    ),
    Question(
        "cloud",
        "Cloud (global; usgov = US Government GCC High; usgov-dod = US Government DoD; china = operated by 21Vianet)",
        default="global",
        choices=tuple(CLOUDS),
    ),
)
# Behind one question: only a proxy, a private endpoint or the simulator needs them.
ADVANCED = (
    Question("authority_host", "Authority host (https:// origin; empty: the cloud's)", default=""),
    Question("graph_endpoint", "Graph endpoint (https:// origin; empty: the cloud's)", default=""),
    Question("ca_bundle", "CA bundle (PEM file of extra CAs to trust; empty: none)", default=""),
)
ADVANCED_PROMPT = "Advanced connectivity settings (authority host, Graph endpoint, CA bundle)?"
SCOPE = (
    Question(
        "asset_types",
        "Data to sync (Asset Types)",
        default="identities_only",
        choices=("identities_only", "identities_with_security_posture"),
    ),
    Question("require_manual_sync", "Require Manual Sync (no schedule)?", default="n", yes_no=True),
    Question("schedule.occurs", "Schedule", default="recurring", choices=("single", "recurring"), when=_scheduled),
    Question("schedule.timezone", "Timezone (IANA name)", default="UTC", when=_scheduled),
    Question("schedule.start", "Start (local time, YYYY-MM-DD HH:MM)", when=_scheduled),
    Question(
        "schedule.every",
        "Repeat every (e.g. 30m, 6h, 1d)",
        default="1d",
        when=lambda answers: _recurring(answers) and "cron" not in answers.get("schedule", {}),
    ),
    # Last, so that "end is not after start" is answered by asking for the end again.
    Question("schedule.end", "End (local time, YYYY-MM-DD HH:MM)", when=_recurring),
    Question(
        "baseline",
        "Baseline Schedule (full pull)",
        default="weekly",
        choices=("weekly", "fortnightly", "triweekly", "monthly"),
    ),
    Question("retain_previous_delta", "Retain Previously Ingested Delta?", default="n", yes_no=True),
)
# Asked again when Test Connection fails (the name and description cannot be why).
PROFILE_FIELDS = ("tenant_id", "client_id", "client_secret", "cloud")
# What Test Connection needs: the profile and where Graph is.
CONNECTIVITY = (
    "name",
    "description",
    "tenant_id",
    "client_id",
    "client_secret",
    "client_secret_env",
    "cloud",
    "authority_host",
    "graph_endpoint",
    "ca_bundle",
)
# Answers whose change means Test Connection must run again.
REACH = (
    "tenant_id",
    "client_id",
    "client_secret",
    "client_secret_env",
    "cloud",
    "authority_host",
    "graph_endpoint",
    "ca_bundle",
)
QUESTIONS = {question.field: question for question in PROFILE + ADVANCED + SCOPE}

# Stand-ins for answers not given yet, so one answer can be checked on its own.
_PLACEHOLDERS = {
    "name": "placeholder",
    "tenant_id": "00000000-0000-0000-0000-000000000000",
    "client_id": "00000000-0000-0000-0000-000000000000",
    "client_secret_env": "PLACEHOLDER",
}


def get_field(answers: dict, field: str):
    head, _, rest = field.partition(".")
    return answers.get(head, {}).get(rest) if rest else answers.get(head)


def set_field(answers: dict, field: str, value) -> None:
    head, _, rest = field.partition(".")
    if rest:
        answers.setdefault(head, {})[rest] = value
    else:
        answers[head] = value


def drop_field(answers: dict, field: str) -> None:
    head, _, rest = field.partition(".")
    if rest and head in answers:
        answers[head].pop(rest, None)
        if not answers[head]:
            del answers[head]
    elif not rest:
        answers.pop(head, None)


def _schedule_complete(answers: dict) -> bool:
    schedule = answers.get("schedule", {})
    needed = {"occurs", "timezone", "start"} | ({"end"} if schedule.get("occurs") == "recurring" else set())
    repeat = schedule.get("occurs") != "recurring" or "every" in schedule or "cron" in schedule
    return needed <= set(schedule) and repeat


def problems_with(answers: dict, field: str) -> list[str]:
    """What the connectors.yaml validation says about this one field, given the answers so far
    (field_problems names a schedule's problem on its field: end not after start is the end's)."""
    candidate = {**_PLACEHOLDERS, **answers}
    if "client_secret" in answers:
        del candidate["client_secret_env"]
    try:
        Connector.model_validate(candidate)
    except ValidationError as error:
        return [message for where, message in field_problems(error) if where == field]
    return []


def reach_of(answers: dict) -> dict:
    """The answers Test Connection depends on."""
    return {field: answers.get(field) for field in REACH}


_LOCAL_TIME = TypeAdapter(dt.datetime)  # a start or end as connectors.yaml reads it


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _normalise(question: Question, text: str):
    text = text.strip()
    if question.yes_no:
        if text.lower() in YES:
            return True
        if text.lower() in NO:
            return False
        raise ValueError("answer y or n")
    if question.choices and text not in question.choices:
        raise ValueError(f"choose one of: {', '.join(question.choices)}")
    return text or None


def _shown(question: Question, value) -> str:
    if value is None or value == "":
        return ""
    if question.secret:
        return MASK
    if isinstance(value, bool):
        return "y" if value else "n"
    return str(value)


class Wizard:
    def __init__(
        self,
        console: Console,
        home: Path,
        answers: dict,
        given: set[str],
        taken_names: frozenset[str] = frozenset(),
        flags: dict[str, str] | None = None,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.console, self.home = console, home
        self.answers = answers  # a connectors.yaml entry in the making
        self.given = given  # fields whose value came from flags
        self.taken_names = taken_names
        self.flags = flags or {}  # field -> the flag that sets it, to name it in messages
        self.now = now
        self.schedule_optional = False  # edit of a connector launched by hand only: keep it so
        self.kept_schedule: dict | None = None  # edit: the schedule as it was (not refused for being past)

    def label(self, field: str) -> str:
        """How a message names the field: by its flag when the operator could only have given it
        as one (no terminal) or did, else by its connectors.yaml name."""
        flag = self.flags.get(field)
        return flag if flag and (field in self.given or not self.console.interactive) else field

    def problems(self, field: str) -> list[str]:
        if field == "name" and dagster_name_of(str(self.answers.get("name", ""))).lower() in self.taken_names:
            return [
                f"a connector named {self.answers['name']!r} exists already: choose another name, or change "
                "that one with `entra-pipeline connector edit`"
            ]
        found = problems_with(self.answers, field)
        if not found and field.startswith("schedule.") and _schedule_complete(self.answers):
            found = self._whole_schedule(field)
        return found

    def _whole_schedule(self, field: str) -> list[str]:
        """What only a whole schedule can show: that it could never run (in the past), or a cron
        running more often than the minimum interval. An edit keeps a schedule it did not change
        (an old connector whose schedule ended stays as it is)."""
        if self.answers.get("schedule") == self.kept_schedule:
            return []
        try:
            schedule = Schedule.model_validate(self.answers["schedule"])
        except ValidationError:
            return []  # its own problems are named on their fields
        if field == "schedule.cron":
            problem = cron_problem(schedule)
            return [problem] if problem else []
        past = past_problem(schedule, self.now())
        return [past[1]] if past and f"schedule.{past[0]}" == field else []

    def _end_before_start(self) -> bool:
        schedule = self.answers.get("schedule", {})
        try:
            start, end = (_LOCAL_TIME.validate_python(schedule.get(part)) for part in ("start", "end"))
        except ValidationError:
            return False
        return end_problem(start, end) is not None

    def ask(self, question: Question, keep: bool = True) -> None:
        """Settle one answer: a flag's (or, with no terminal, the existing or default) value if it
        is valid, else a prompt until it is."""
        unscheduled = (
            self.schedule_optional and question.field.startswith("schedule.") and "schedule" not in self.answers
        )
        if unscheduled or not question.when(self.answers):
            drop_field(self.answers, question.field)
            return
        current = get_field(self.answers, question.field)
        interactive = self.console.interactive
        if (keep and question.field in self.given) or (current is not None and not interactive):
            outside = question.choices and current not in question.choices
            problems = [f"choose one of: {', '.join(question.choices)}"] if outside else self.problems(question.field)
            if not problems:
                return
            if not interactive:
                raise SetupAborted("\n".join(f"{self.label(question.field)}: {p}" for p in problems))
            self._tell(question, problems)
            if not self._window_again(question):
                drop_field(self.answers, question.field)
        elif not interactive:
            if question.default is None:
                raise SetupAborted(f"{self.label(question.field)}: required ({question.prompt}); give it as a flag")
            value = _normalise(question, question.default)
            if value is not None:
                set_field(self.answers, question.field, value)
            return
        self._prompt(question)

    def _prompt(self, question: Question) -> None:
        while True:
            current = get_field(self.answers, question.field)
            hint = f" [{'/'.join(question.choices)}]" if question.choices else " [y/n]" if question.yes_no else ""
            shown = _shown(question, current) or (question.default or "")
            clears = " (- clears)" if question.default == "" and current is not None else ""
            text = self.console.ask(
                f"  {question.prompt}{hint}{f' ({shown})' if shown else ''}{clears}: ", secret=question.secret
            )
            if clears and text.strip() == "-":
                drop_field(self.answers, question.field)
                return
            if not text.strip() and current is None:
                if question.default is None:
                    self.console.say(f"    {question.prompt}: an answer is required.")
                    continue
                text = question.default
            if text.strip():  # else Enter keeps the current value, checked again below
                try:
                    value = _normalise(question, text)
                except ValueError as error:
                    self.console.say(f"    {question.prompt}: {error}.")
                    continue
                if value is None:
                    drop_field(self.answers, question.field)
                    return
                set_field(
                    self.answers, question.field, SecretBox(self.home).encrypt(value) if question.secret else value
                )
            problems = self.problems(question.field)
            if not problems:
                return
            self._tell(question, problems)
            if not self._window_again(question):
                drop_field(self.answers, question.field)

    def _window_again(self, question: Question) -> bool:
        """An end not after the start may be the start's mistake: say so and ask the start again
        (its answer the default), then the end. False when the problem is not that one."""
        if question.field != "schedule.end" or not self.console.interactive or not self._end_before_start():
            return False
        self.console.say("    Change Start or End (Enter keeps an answer):")
        drop_field(self.answers, "schedule.end")
        self._prompt(QUESTIONS["schedule.start"])
        return True

    def _tell(self, question: Question, problems: list[str]) -> None:
        for problem in problems:
            self.console.say(f"    {question.prompt}: {problem}")

    def check_given(self) -> None:
        """Every flag checked before anything is asked or tried, so a bad one is named at once
        (by its flag), before Test Connection makes a request."""
        for field in sorted(self.given):
            question = QUESTIONS.get(field)
            value = get_field(self.answers, field)
            outside = question is not None and question.choices and value not in question.choices
            problems = [f"choose one of: {', '.join(question.choices)}"] if outside else self.problems(field)
            if not problems:
                continue
            if not self.console.interactive or question is None:
                raise SetupAborted("\n".join(f"{self.label(field)}: {p}" for p in problems))
            self._tell(question, problems)
            drop_field(self.answers, field)
            self.given.discard(field)

    def advanced(self, keep: bool = True) -> None:
        """The cloud's hosts overridden, behind one question; flags given for any of them answer it."""
        fields = [question.field for question in ADVANCED]
        wanted = keep and any(field in self.given for field in fields)
        if not wanted and self.console.interactive:
            wanted = ask_yes_no(
                self.console,
                f"  {ADVANCED_PROMPT}",
                default=any(self.answers.get(field) is not None for field in fields),
            )
        if wanted or not self.console.interactive:
            for question in ADVANCED:
                self.ask(question, keep)

    def profile(self, questions: tuple[Question, ...], keep: bool = True) -> None:
        for question in questions:
            self.ask(question, keep)
        self.advanced(keep)

    def reach(self) -> dict:
        return reach_of(self.answers)

    def connector(self) -> Connector:
        return Connector.model_validate(self.answers)

    def connectivity(self) -> Connector:
        return Connector.model_validate({k: v for k, v in self.answers.items() if k in CONNECTIVITY})


def test_connection(
    wizard: Wizard,
    run: Callable[[Connector, Path], list[CheckResult]] = run_checks,
    again: tuple[str, ...] = PROFILE_FIELDS,
    failed: str = "the connector was not saved",
) -> None:
    """Run the five checks; on a failure, ask the Profile & Connectivity answers again (`again`,
    and the advanced settings when the whole profile is asked)."""
    while True:
        results = run(wizard.connectivity(), wizard.home)
        wizard.console.say("  Test Connection:")
        for result in results:
            wizard.console.say("    " + result.line().replace("\n", "\n    "))
        if all(r.passed for r in results):
            wizard.console.say("  All five checks passed.")
            return
        if not wizard.console.interactive:
            raise SetupAborted(f"Test Connection failed; {failed}")
        wizard.console.say("  Correct the Profile & Connectivity answers (Enter keeps a value):")
        for question in PROFILE:
            if question.field in again:
                wizard.ask(question, keep=False)
        if again == PROFILE_FIELDS:
            wizard.advanced(keep=False)


def review(connector: Connector) -> list[str]:
    """Every setting, the secret masked: step 3 and `connector show`."""
    secret = MASK if connector.client_secret else f"from ${connector.client_secret_env}"
    lines = [
        "Profile & Connectivity",
        f"  Name                 {connector.name}",
        f"  Description          {connector.description or '-'}",
        "  Authentication       OAuth 2.0 (Client Credentials - Microsoft Graph API)",
        f"  Tenant ID            {connector.tenant_id}",
        f"  Client ID            {connector.client_id}",
        f"  Client Secret        {secret}",
        f"  Cloud                {connector.cloud}",
        f"  Graph                {connector.graph_host} (login {connector.login_host})",
        "Scope & Schedule",
        f"  Asset Types          {connector.asset_types}",
        f"  Schedule             {confirmation(connector)}",
        "Advanced Settings",
        f"  Baseline Schedule    {connector.baseline}",
        f"  Retain Previously Ingested Delta  {'yes' if connector.retain_previous_delta else 'no'}",
        f"  Require Manual Sync  {'yes' if connector.require_manual_sync else 'no'}",
        f"  Destination          {connector.destination.kind}",
    ]
    if connector.ca_bundle:
        lines.insert(9, f"  Extra CA bundle      {connector.ca_bundle}")
    return lines


def ask_yes_no(console: Console, prompt: str, default: bool | None = None) -> bool:
    """A y/n question; Enter takes the default when there is one ([Y/n], [y/N])."""
    hint = "[y/n]" if default is None else "[Y/n]" if default else "[y/N]"
    while True:
        answer = console.ask(f"{prompt} {hint}: ").strip().lower()
        if not answer and default is not None:
            return default
        if answer in YES or answer in NO:
            return answer in YES


def confirm(console: Console, prompt: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not console.interactive:
        raise SetupAborted(f"{prompt}: no terminal to ask; pass --yes to confirm")
    return ask_yes_no(console, prompt)


SAVE, CANCEL = ("save", "s", "y", "yes"), ("cancel", "c", "n", "no")
STEPS = "save / 1 edit Profile & Connectivity / 2 edit Scope & Schedule / cancel"


def _choice(console: Console, prompt: str) -> str:
    """Review's question: 'save', '1', '2' or 'cancel' (a cancel confirmed: the answers would be lost)."""
    while True:
        answer = console.ask(f"{prompt} [{STEPS}] (save): ").strip().lower() or "save"
        if answer in SAVE:
            return "save"
        if answer in ("1", "2"):
            return answer
        if answer in CANCEL:
            if ask_yes_no(console, "  Discard every answer, the client secret too?", default=False):
                return "cancel"
            continue
        console.say(f"    choose one of: {STEPS}")


def _finish(
    wizard: Wizard,
    prompt: str,
    assume_yes: bool,
    profile: tuple[Question, ...],
    run: Callable[[Connector, Path], list[CheckResult]],
) -> Connector:
    """Review & Confirm; going back to a step asks it again with every answer as the default, and
    Test Connection runs again if an answer it depends on changed."""
    while True:
        connector = wizard.connector()
        wizard.console.say("Step 3 of 3 - Review & Confirm")
        for line in review(connector):
            wizard.console.say("  " + line)
        if assume_yes:
            break
        if not wizard.console.interactive:
            raise SetupAborted(f"{prompt}: no terminal to ask; pass --yes to confirm")
        step = _choice(wizard.console, prompt)
        if step == "save":
            break
        if step == "cancel":
            raise SetupAborted("cancelled: nothing saved")
        if step == "1":
            before = wizard.reach()
            wizard.console.say("Step 1 of 3 - Profile & Connectivity (Enter keeps a value)")
            wizard.profile(profile, keep=False)
            if wizard.reach() != before:
                test_connection(wizard, run)
        else:
            _scope(wizard, keep=False)
    try:
        save_connector(wizard.home, connector, replace=True)
    except ConfigError as error:
        raise SetupAborted(str(error)) from None
    return connector


def _settle_scope(wizard: Wizard, keep: bool = True) -> None:
    for question in SCOPE:
        wizard.ask(question, keep)


def _scope(wizard: Wizard, keep: bool = True) -> None:
    wizard.console.say("Step 2 of 3 - Scope & Schedule")
    _settle_scope(wizard, keep)
    connector = wizard.connector()
    wizard.console.say(f"  {confirmation(connector)}")
    first = first_run_from(connector, wizard.now())
    if first:
        wizard.console.say(f"  {first}")


def _settle_first(wizard: Wizard) -> None:
    """With no terminal every answer is known already: settle them all before Test Connection
    makes its first request, so a bad or missing one ends the flow at once."""
    if not wizard.console.interactive:
        _settle_scope(wizard)


def create(
    console: Console,
    home: Path,
    answers: dict,
    given: set[str],
    *,
    assume_yes: bool = False,
    run: Callable[[Connector, Path], list[CheckResult]] = run_checks,
    flags: dict[str, str] | None = None,
) -> Connector:
    """The three steps for a new connector; returns it once saved."""
    taken = frozenset(c.dagster_name.lower() for c in load_connectors(home))  # '-' and '_' count as one
    wizard = Wizard(console, home, answers, given, taken_names=taken, flags=flags)
    wizard.check_given()
    console.say("Step 1 of 3 - Profile & Connectivity")
    wizard.profile(PROFILE)
    _settle_first(wizard)
    test_connection(wizard, run)
    _scope(wizard)
    return _finish(wizard, "Create this connector?", assume_yes, PROFILE, run)


def edit(
    console: Console,
    home: Path,
    existing: Connector,
    changes: dict,
    given: set[str],
    *,
    assume_yes: bool = False,
    run: Callable[[Connector, Path], list[CheckResult]] = run_checks,
    flags: dict[str, str] | None = None,
) -> Connector:
    """The same steps over an existing connector, its values as defaults. The name stays (state
    and inventory are kept under it); Test Connection runs again if the profile changed."""
    answers = {**existing.model_dump(mode="json", exclude_none=True), **changes}
    for one, other in (("client_secret", "client_secret_env"), ("client_secret_env", "client_secret")):
        if one in changes:  # a new secret replaces the old way of giving it
            answers.pop(other, None)
    wizard = Wizard(console, home, answers, given, flags=flags)
    wizard.schedule_optional = existing.schedule is None
    wizard.kept_schedule = existing.model_dump(mode="json", exclude_none=True).get("schedule")
    wizard.check_given()
    console.say(f"Step 1 of 3 - Profile & Connectivity ({existing.name}; Enter keeps a value)")
    wizard.profile(PROFILE[1:])
    _settle_first(wizard)
    if wizard.reach() != reach_of(existing.model_dump(mode="json", exclude_none=True)):
        test_connection(wizard, run)
    _scope(wizard)
    return _finish(wizard, "Save these settings?", assume_yes, PROFILE[1:], run)


SECRET_KEPT = "the old secret is kept"


def rotate_secret(
    console: Console,
    home: Path,
    existing: Connector,
    new_secret: str | None,
    *,
    run: Callable[[Connector, Path], list[CheckResult]] = run_checks,
) -> Connector:
    """A new client secret, saved only once Test Connection passes with it; until then (a failure,
    a cancel) connectors.yaml is not touched and the old secret stays in use."""
    answers = existing.model_dump(mode="json", exclude_none=True)
    answers.pop("client_secret_env", None)
    answers.pop("client_secret", None)
    given = set()
    if new_secret is not None:
        answers["client_secret"] = SecretBox(home).encrypt(new_secret)
        given.add("client_secret")
    wizard = Wizard(console, home, answers, given)
    wizard.ask(QUESTIONS["client_secret"])
    test_connection(wizard, run, again=("client_secret",), failed=f"the new secret was not saved: {SECRET_KEPT}")
    connector = wizard.connector()
    save_connector(home, connector, replace=True)
    return connector
