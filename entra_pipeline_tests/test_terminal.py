"""Terminal output and search (issue #15): tenant text printed by the CLI cannot clear the
screen, set the title, reverse text or forge lines; the name filter's wildcards are linear in
the value, where the former regex took minutes on a 1 MB display name."""

from __future__ import annotations

import io
import itertools
import json
import logging
import operator
import re
import resource
import subprocess
import sys
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from entra_pipeline.cli.commands import _PrintableLiveLine
from entra_pipeline.cli.terminal import json_line, printable, printable_lines
from entra_pipeline.config import Connector, save_connector
from entra_pipeline.defs.runner import sync
from entra_pipeline.destinations.local import LocalInventory, parse_search, wildcard_match
from entra_pipeline.store import open_store
from entra_pipeline.sync.status import StatusStore

from .conftest import connector_for

# The policy, stated apart from terminal.py's table: what must never reach the terminal raw.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
# Screen clear, window title (OSC ... BEL), CR and a forged line, CSI as C1, bidi override and
# isolate, DEL, tab: each kind within the 40 characters the search table shows of a name.
HOSTILE = "Zq9Mallory\x1b[2J\x1b]0;owned\x07\r\nFORGED\x9b1m\u202eZ\u2066\x7f\t"
SHOWN = r"Zq9Mallory\x1b[2J\x1b]0;owned\x07\r\nFORGED\x9b1m\u202eZ\u2066\x7f\t"
GUID = "11111111-2222-4333-8444-555555555555"


def cli(home: Path, *args: str, **limits) -> subprocess.CompletedProcess:
    """The real command. Bytes, decoded strictly: text mode would turn a raw CR into a newline."""
    done = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", *args, "--home", str(home)],
        capture_output=True,
        timeout=300,
        check=False,
        **limits,
    )
    done.stdout, done.stderr = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    return done


def raw_controls(text: str) -> list[str]:
    """Unsafe characters in the output, the line breaks between lines aside."""
    return UNSAFE.findall(text.replace("\n", ""))


def strings(document: object) -> list[str]:
    if isinstance(document, dict):
        return [s for value in document.values() for s in strings(value)]
    if isinstance(document, list):
        return [s for value in document for s in strings(value)]
    return [document] if isinstance(document, str) else []


# --- the CLI, on records a real sync wrote --------------------------------------------------


def test_inventory_search_shows_a_hostile_display_name_escaped_on_one_line(make_sim, home):
    sim = make_sim(users=20, seed=5)
    sim.tenant.create_user(displayName=HOSTILE, userPrincipalName="mallory@contoso.com")
    connector = connector_for(sim, home)
    assert sync(connector, home).success

    found = cli(home, "inventory", "search", 'name:"zq9mallory*" entity:users')
    assert found.returncode == 0, found.stderr
    assert raw_controls(found.stdout) == []
    lines = found.stdout.split("\n")
    assert len(lines) == 4 and lines[-1] == "" and lines[2] == "1 record(s)", lines  # header, row, count
    assert SHOWN in lines[1]
    assert not any(line.startswith("FORGED") for line in lines)

    # Export stays exact JSON: the same value, every unsafe character written as \uNNNN.
    export = cli(home, "inventory", "export", "--connector", connector.name, "--entity", "users")
    assert export.returncode == 0 and raw_controls(export.stdout) == []
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(records) == 21 and sum(HOSTILE in strings(r) for r in records) == 1


def test_status_and_connector_show_print_tenant_text_escaped_and_json_stays_exact(home):
    save_connector(
        home,
        Connector(
            name="hostile", description=HOSTILE, tenant_id=GUID, client_id=GUID, client_secret_env="UNUSED_SECRET"
        ),
    )
    reason = f"users not fetched: 400 Request_BadRequest: '{HOSTILE}' is not a valid filter"
    StatusStore(open_store(home), "hostile").failed("run-1", None, reason)

    status = cli(home, "status")
    assert status.returncode == 0, status.stderr
    assert (
        raw_controls(status.stdout) == []
        and f"  ! users not fetched: 400 Request_BadRequest: '{SHOWN}'" in status.stdout.split("\n")[1]
    )
    as_json = cli(home, "status", "--json")
    assert raw_controls(as_json.stdout) == [] and json.loads(as_json.stdout)["reasons"] == [reason]

    show = cli(home, "connector", "show", "hostile")
    assert show.returncode == 0 and raw_controls(show.stdout) == []
    assert f"  Description          {SHOWN}" in show.stdout.split("\n")
    listing = cli(home, "connector", "list")
    assert listing.returncode == 0 and raw_controls(listing.stdout) == []


def test_sync_progress_prints_messages_escaped_and_leaves_the_record_alone():
    stream = io.StringIO()
    record = logging.LogRecord(
        "entra_pipeline", logging.WARNING, __file__, 1, "skipped user %s: %s", ("42", HOSTILE + "\nsecond line"), None
    )
    _PrintableLiveLine(stream, live=False).handle(record)
    printed = stream.getvalue()
    # A message's own line breaks (CRLF too) stay, each further line indented under it: no line
    # of it can pass for a line of ours.
    first, forged = SHOWN.split(r"\r\n")
    assert raw_controls(printed) == []
    assert printed == f"  .. skipped user 42: {first}\n     {forged}\n     second line\n"
    assert HOSTILE in record.getMessage()  # Dagster's run log keeps the value as it was


# --- printable(): what a terminal acts on is escaped, nothing else changes -------------------

ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates too
TRICKY = st.sampled_from(
    [
        "\x1b",
        "\r",
        "\n",
        "\t",
        "\x00",
        "\x7f",
        "\x85",
        "\x9b",
        "\u061c",
        "\u200f",
        "\u2028",
        "\u202e",
        "\u2066",
        "\u2069",
        "\ud800",
        "\udfff",
        "é",
        "ß",
        "İ",
        "中",
        "\U0001f600",
        "a",
    ]
)
TEXT = st.text(ANY_CHARACTER | TRICKY)
ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|([tnr]))")


def unescaped(shown: str) -> str:
    def one(found: re.Match) -> str:
        short, code = found.group(3), found.group(1) or found.group(2)
        return {"t": "\t", "n": "\n", "r": "\r"}[short] if short else chr(int(code, 16))

    return ESCAPE.sub(one, shown)


@given(TEXT)
@example(HOSTILE)
def test_printable_escapes_what_a_terminal_acts_on_and_nothing_else(text):
    shown = printable(text, limit=None)
    assert UNSAFE.search(shown) is None
    assert printable(shown, limit=None) == shown  # already safe: unchanged
    if "\\" not in text:  # a backslash is printed as it is, so only then is the form unambiguous
        assert unescaped(shown) == text
    if UNSAFE.search(text) is None:
        assert shown == text


def test_long_values_are_cut_with_a_marker_that_says_how_much():
    assert printable("x" * 1000) == "x" * 1000
    assert printable("x" * 1001) == "x" * 1000 + "... [1 more characters]"
    assert printable("\x1b" * 50, limit=2) == r"\x1b\x1b... [48 more characters]"
    assert (
        printable_lines("FAIL  x: no\r\nResolution: \x1b[2J", indent="    ") == "FAIL  x: no\n    Resolution: \\x1b[2J"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(JSON)
def test_json_line_is_the_same_document_with_nothing_raw_for_the_terminal(document):
    line = json_line(document)
    assert UNSAFE.search(line) is None and json.loads(line) == document


# --- the wildcard matcher: the reference's answers, in linear time -------------------------


def reference_match(value: str, pattern: str) -> bool:
    """fnmatch with `*` its only wildcard, case-insensitive (casefold), by dynamic programming:
    plainly right, and quadratic."""
    value, pattern = value.casefold(), pattern.casefold()
    reach = [True] + [False] * len(value)  # reach[i]: the pattern so far matches value[:i]
    for char in pattern:
        if char == "*":  # any run: reachable from any earlier reachable place
            reach = list(itertools.accumulate(reach, operator.or_))
        else:
            reach = [False] + [reach[i] and value[i] == char for i in range(len(value))]
    return reach[-1]


SMALL = st.text(
    st.sampled_from(["a", "A", "b", "ß", "s", "S", "*", "\x1b", "\n", "\ud800", "\u202e", "İ", "i"]) | ANY_CHARACTER,
    max_size=12,
)


@st.composite
def value_and_pattern(draw) -> tuple[str, str]:
    """A value (at times a long repetition) and a pattern: random, or cut from the value with
    stars in place of some parts, so matches are common."""
    value = draw(SMALL) * draw(st.sampled_from([1, 1, 2, 50, 2000]))
    if draw(st.booleans()):
        return value, draw(SMALL)
    cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=6)))
    pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
    # Kept pieces stay short: the reference is quadratic, and long values are the point.
    starred = [piece[:8] if i % 2 == 0 or draw(st.booleans()) else "*" for i, piece in enumerate(pieces)]
    return value, "*".join(starred) if draw(st.booleans()) else "".join(starred)


@settings(max_examples=400, deadline=None)
@given(value_and_pattern())
@example(("Global Administrator", "global*"))
@example(("Ada\n", "Ada"))  # the old regex's $ matched before a final newline: no longer
@example(("A\nB", "A*B"))  # and its .* stopped at one: * spans newlines now
@example(("", "*"))
@example(("aa", "*a*a*a*"))
def test_wildcard_match_agrees_with_the_reference(case):
    value, pattern = case
    assert wildcard_match(value, pattern) == reference_match(value, pattern)


def test_search_filters_keep_their_semantics(home):
    inventory = LocalInventory(open_store(home))
    inventory.apply(
        "c",
        "users",
        [
            ("1", {"asset": {"assetDetail": {"name": "Ada Lovelace"}, "assetHeader": {"status": "ACTIVE"}}}),
            ("2", {"thirdPartyObject": {"content": {"displayName": "Grace Hopper"}}}),
        ],
        remove_absent=True,
    )

    def names(query: str) -> list[str]:
        return sorted(row["name"] for row in inventory.search(query))

    assert names('name:"ada*"') == ["Ada Lovelace"]
    assert names('name:"*hop*"') == ["Grace Hopper"]
    assert names("status:active") == ["Ada Lovelace"]
    assert names('inventory:(source:"Microsoft") name:"*e*"') == ["Ada Lovelace", "Grace Hopper"]
    assert names('name:"Ada"') == []
    assert parse_search("a" * 10 + " name:x") == {"name": "x"}


# --- linear on a 1 MB value: under a CPU limit the old regex cannot meet ---------------------


def _cpu_limit() -> None:
    # SIGXCPU at 20 s of CPU: the greedy match takes milliseconds; the old regex needs over an
    # hour for *M*Q on a 1 MB name, its query parser 40 s for 80k characters (BENCHMARKS.md).
    resource.setrlimit(resource.RLIMIT_CPU, (20, 25))


def test_a_1_mb_name_against_many_stars_is_searched_within_a_cpu_limit(home):
    LocalInventory(open_store(home)).apply(
        "big", "users", [("1", {"asset": {"assetDetail": {"name": "M" * 1_000_000}}})], remove_absent=True
    )
    for pattern, found in (("*M*Q", 0), ("*M*M*M*Q", 0), ("*M*Q*M", 0), ("M*M*M*", 1), ("*m*M*m", 1)):
        search = cli(home, "inventory", "search", f'name:"{pattern}"', preexec_fn=_cpu_limit)
        assert search.returncode == 0, (pattern, search.returncode, search.stderr[-500:])
        assert search.stdout.split("\n")[-2] == f"{found} record(s)", pattern
        if found:  # 40 characters of the name, then how many were left out
            assert "M" * 40 + "... [999960 more characters]" in search.stdout.split("\n")[1]
    query = cli(home, "inventory", "search", "a" * 100_000, preexec_fn=_cpu_limit)
    assert query.returncode == 2 and "no filter understood" in query.stderr
