"""connectors.yaml as a file: every malformed one is refused by the real CLI with a message naming
the line or key, exit code 2 and no traceback; the bomb and size cases run under a memory limit so
a blow-up fails the test instead of the machine; writes go through a symlink to its target."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entra_pipeline import config
from entra_pipeline.cli import commands as cli
from entra_pipeline.config import MAX_FILE_BYTES, ConfigError, load_connectors

MEMORY_LIMIT = 1 << 30  # the CLI needs about 400 MB of address space; the unguarded bomb needs many GB
CONNECTOR = (
    "  - name: {name}\n"
    "    tenant_id: contoso.onmicrosoft.com\n"
    "    client_id: 00000000-0000-0000-0000-000000000001\n"
    "    client_secret_env: CONTOSO_SECRET\n"
)
ADD = [
    "connector",
    "add",
    "--tenant-id",
    "contoso.onmicrosoft.com",
    "--client-id",
    "00000000-0000-0000-0000-000000000002",
    "--client-secret-env",
    "CONTOSO_SECRET",
]


# Address space reserved per core (OpenBLAS buffers, malloc arenas) would make the limit depend on the machine.
FRUGAL = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`entra-pipeline <args> --home <home>` in a process that cannot take more than MEMORY_LIMIT."""
    env = {**os.environ, **FRUGAL}
    return subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        preexec_fn=_limit_memory,
        check=False,
    )


def refused(result: subprocess.CompletedProcess, *expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "MemoryError" not in output, output
    for text in expected:
        assert text in result.stderr, result.stderr


def write(home: Path, text: str) -> Path:
    path = home / "connectors.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def alias_bomb() -> str:
    """Billion laughs in the `name` field: nine levels of nine aliases, 9**9 'lol's once expanded."""
    levels = ["&a [" + ",".join(["lol"] * 9) + "]"]
    levels += [f"&{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
    return "connectors:\n  - name: [" + ",".join(levels) + "]\n    tenant_id: contoso.onmicrosoft.com\n"


# --------------------------------------------------------------------------- one test per problem
def test_an_alias_bomb_is_refused_at_its_first_anchor_without_expanding_it(home):
    assert len(alias_bomb()) < 400
    write(home, alias_bomb())
    refused(run(home, "connector", "list"), "YAML aliases are not accepted in connectors.yaml (line 2)")


def test_a_file_over_the_size_limit_is_refused_before_parsing(home):
    path = write(home, "connectors:\n" + "".join(CONNECTOR.format(name=f"c{i}") for i in range(400_000)))
    size = path.stat().st_size
    assert size > 50 * MAX_FILE_BYTES
    refused(run(home, "connector", "list"), f"{size} bytes is over the {MAX_FILE_BYTES} byte limit")


def test_a_file_at_the_size_limit_is_read_and_one_byte_more_is_not(home, monkeypatch):
    monkeypatch.setattr(config, "MAX_FILE_BYTES", 4096)
    text = "connectors:\n" + CONNECTOR.format(name="a")
    write(home, text + "#" * (4096 - len(text) - 1) + "\n")
    assert [c.name for c in load_connectors(home)] == ["a"]
    write(home, text + "#" * (4096 - len(text)) + "\n")
    with pytest.raises(ConfigError, match="4097 bytes is over the 4096 byte limit"):
        load_connectors(home)


def test_a_misspelt_top_level_key_is_refused_naming_it_its_line_and_the_known_key(home):
    write(home, "# production tenants\nconectors:\n" + CONNECTOR.format(name="a"))
    refused(run(home, "connector", "list"), "unknown top-level key 'conectors' (line 2): did you mean 'connectors'?")
    write(home, "connectors:\n" + CONNECTOR.format(name="a") + "schedules: []\n")
    refused(run(home, "connector", "list"), "unknown top-level key 'schedules' (line 6): connectors.yaml has one")


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("connectors:\n" + CONNECTOR.format(name="a") + "    name: b\n", "'name'", "lines 2 and 6"),
        ("connectors:\n" + CONNECTOR.format(name="a") + "connectors: []\n", "'connectors'", "lines 1 and 6"),
        (
            "connectors:\n" + CONNECTOR.format(name="a") + "    schedule:\n      occurs: single\n"
            "      start: 2026-12-01 02:00\n      occurs: recurring\n",
            "'occurs'",
            "lines 7 and 9",
        ),
    ],
    ids=["in-an-entry", "top-level", "nested"],
)
def test_a_duplicate_key_anywhere_is_refused_naming_the_key_and_both_lines(home, text, key, lines):
    write(home, text)
    refused(run(home, "connector", "list"), f"duplicate key {key} ({lines})")


def test_add_writes_through_a_symlinked_connectors_yaml(home, tmp_path):
    target = tmp_path / "config-repo" / "connectors.yaml"
    target.parent.mkdir()
    target.write_text("connectors:\n" + CONNECTOR.format(name="a"))
    target.chmod(0o644)
    link = home / "connectors.yaml"
    link.symlink_to(os.path.relpath(target, home))
    added = run(home, *ADD, "--name", "b")
    assert added.returncode == 0, added.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert [c.name for c in load_connectors(home)] == ["a", "b"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    deleted = run(home, "connector", "delete", "a", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert link.is_symlink() and [c.name for c in load_connectors(home)] == ["b"]
    assert sorted(p.name for p in (*home.iterdir(), *target.parent.iterdir())) == ["connectors.yaml"] * 2


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("connectors: [42]\n", "connector #1 (line 1): got a number 42, not a mapping"),
        (
            "connectors:\n" + CONNECTOR.format(name="a") + "  - just a string\n",
            "connector #2 (line 6): got a string 'just a string', not a mapping",
        ),
    ],
    ids=["number", "string"],
)
@pytest.mark.parametrize(
    "command",
    [[*ADD, "--name", "a", "--replace"], ["connector", "delete", "a", "--yes"], ["connector", "list"]],
    ids=["add-replace", "delete", "list"],
)
def test_a_non_mapping_entry_is_refused_naming_its_position_and_the_shape_of_an_entry(home, text, where, command):
    write(home, text)
    refused(run(home, *command), where, "a connector entry is a mapping of fields, e.g.", "- name: contoso-prod")
    assert (home / "connectors.yaml").read_text() == text


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "got a list ['a', 'b']"), ("just some text\n", "got a string 'just some text'")]
)
def test_a_top_level_that_is_not_a_mapping_is_refused(home, text, got):
    write(home, text)
    refused(run(home, "connector", "list"), f"expected a mapping with a 'connectors' list at the top, {got}")


# --------------------------------------------------------------------------- every command, every malformation
MALFORMED = {
    "alias": "connectors:\n  - &entry\n    " + CONNECTOR.format(name="a")[4:] + "  - *entry\n",
    "misspelt-key": "conectors: []\n",
    "duplicate-key": "connectors:\n" + CONNECTOR.format(name="a") + "    name: b\n",
    "number-entry": "connectors:\n" + CONNECTOR.format(name="a") + "  - 42\n",
    "top-level-list": "- connectors\n",
    "too-deep": "connectors: " + "[" * 2000 + "]" * 2000 + "\n",
    "bad-date": "connectors:\n" + CONNECTOR.format(name="a") + "    schedule: {occurs: single, start: 2026-02-30}\n",
    "bad-tag": "connectors:\n" + CONNECTOR.format(name="a") + "    require_manual_sync: !!bool maybe\n",
    "not-utf8": None,
    "directory": None,
}
SAYS = {
    "alias": "(line 2)",
    "misspelt-key": "(line 1)",
    "duplicate-key": "lines 2 and 6",
    "number-entry": "(line 6)",
    "top-level-list": "at the top, got a list",
    "too-deep": "nested more than 32 levels deep (line 1)",
    "bad-date": "(line 6) cannot be read as a YAML timestamp",
    "bad-tag": "(line 6) cannot be read as a YAML bool",
    "not-utf8": "not UTF-8 text",
    "directory": "not a regular file",
}
COMMANDS = {
    "connector-list": ["connector", "list"],
    "connector-show": ["connector", "show", "a"],
    "connector-add": [*ADD, "--name", "b"],
    "connector-add-replace": [*ADD, "--name", "a", "--replace"],
    "connector-create": [
        "connector",
        "create",
        "--name",
        "b",
        "--tenant-id",
        "contoso.onmicrosoft.com",
        "--client-id",
        "00000000-0000-0000-0000-000000000002",
        "--client-secret-env",
        "X",
        "--no-input",
        "--yes",
    ],
    "connector-edit": ["connector", "edit", "a", "--no-input", "--yes"],
    "connector-rotate-secret": ["connector", "rotate-secret", "a"],
    "connector-delete": ["connector", "delete", "a", "--yes"],
    "test-connection": ["test-connection", "--connector", "a"],
    "sync": ["sync", "--connector", "a"],
    "status": ["status"],
    "status-one": ["status", "--connector", "a"],
    "logs": ["logs", "a"],
    "inventory-export": ["inventory", "export", "--connector", "a", "--entity", "users"],
}


def _malform(home: Path, kind: str) -> None:
    path = home / "connectors.yaml"
    if kind == "not-utf8":
        path.write_bytes(b"connectors:\n  - name: caf\xe9\n")
    elif kind == "directory":
        path.mkdir()
    else:
        write(home, MALFORMED[kind])


@pytest.fixture
def in_process(monkeypatch):
    """cli.main in this process (an exception escaping it fails the test as a traceback would);
    main's umask is put back so the other tests' files keep their modes."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def main(*args: str) -> tuple[int, str]:
        umask, stderr = os.umask(0o077), io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                return cli.main(list(args)), stderr.getvalue()
        finally:
            os.umask(umask)

    return main


@pytest.mark.parametrize("kind", MALFORMED)
def test_every_command_that_reads_connectors_yaml_refuses_a_malformed_file_by_name(home, kind, in_process):
    _malform(home, kind)
    for name, command in COMMANDS.items():
        code, said = in_process(*command, "--home", str(home))
        assert code == 2 and SAYS[kind] in said and str(home / "connectors.yaml") in said, (name, code, said)
    if kind != "directory":
        assert (home / "connectors.yaml").read_bytes() == (
            b"connectors:\n  - name: caf\xe9\n" if kind == "not-utf8" else MALFORMED[kind].encode()
        )


def test_the_dagster_code_location_names_the_problem_of_a_malformed_file(home):
    write(home, alias_bomb())
    env = {**os.environ, **FRUGAL, "ENTRA_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(home)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m", "entra_pipeline.definitions"],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        preexec_fn=_limit_memory,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "MemoryError" not in output, output
    assert (
        f"ConfigError: {home / 'connectors.yaml'}: YAML aliases are not accepted in connectors.yaml (line 2)" in output
    ), output


TOKENS = st.sampled_from(
    [
        "connectors:",
        "\n",
        "  ",
        "- ",
        "name: a",
        "tenant_id: t",
        "&x ",
        "*x",
        "[",
        "]",
        "{",
        "}",
        ",",
        ": ",
        "? ",
        "!!int ",
        "!!bool ",
        "!!timestamp ",
        "!!set ",
        "!!binary ",
        "<<: ",
        "2026-02-30",
        "1",
        "null",
        "'",
        '"',
        "#",
        "---\n",
        "%YAML 1.1\n",
        "\t",
        "é",
        "|\n",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(TOKENS, max_size=40).map("".join))
def test_any_text_is_connectors_or_a_config_error(home, text):
    write(home, text)
    with contextlib.suppress(ConfigError):
        load_connectors(home)
