"""The demo as a new user meets it: run twice on one home, then every next step it prints run
exactly as printed (`demo --serve` bringing its simulator back where the connector expects it),
and a third run while that port is taken moves the connector to a free port and says so."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ENTRA_PIPELINE = str(Path(sys.executable).with_name("entra-pipeline"))  # the console script, as installed


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, env=env)


def demo(home: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return run(ENTRA_PIPELINE, "demo", "--home", str(home), "--users", "200", *extra, env=env)


def printed_commands(stdout: str) -> dict[str, list[str]]:
    """The next steps the demo printed, by subcommand (`status`, `logs`, `demo --serve`, ...)."""
    commands = {}
    for line in stdout.splitlines():
        words = shlex.split(line) if line.startswith("  ") and "entra-pipeline " in line else []
        # the path of the command that ran (relative to the folder it ran in, the tests' too), or
        # its bare name when that is what PATH finds
        if words and (words[0] == "entra-pipeline" or Path(words[0]).absolute() == Path(ENTRA_PIPELINE)):
            key = " ".join(w for w in words[1:3] if not w.startswith("-") and "(" not in w)
            commands[key if "--serve" not in words else "demo --serve"] = words
    return commands


def test_the_demo_runs_again_on_its_home_and_every_printed_step_works(home):
    env = {k: v for k, v in os.environ.items() if k != "ENTRA_PIPELINE_HOME"}  # the demo's home is not the default
    first = demo(home, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    port = json.loads((home / "simulator" / "demo.json").read_text())["port"]
    assert (
        f"Registered connector 'demo' in {home / 'connectors.yaml'} (simulator on https://127.0.0.1:{port})"
        in first.stdout
    )

    second = demo(home, env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"simulator back on https://127.0.0.1:{port}" in second.stdout
    assert re.search(r"^Run \S+ \(baseline \(full\) pull, cycle \S+\) succeeded: Processed\.$", second.stdout, re.M)
    assert "Partially" not in second.stdout and "not fetched" not in second.stdout
    steps = printed_commands(second.stdout)
    assert set(steps) >= {"inventory search", "inventory export", "status", "logs demo", "demo --serve", "sync"}
    assert all(words[-2:] == ["--home", str(home)] for words in steps.values()), steps  # each names the home

    status = run(*steps["status"], env=env)
    assert status.returncode == 0 and status.stdout.startswith("demo: Processed since "), status.stdout
    assert f"`{shlex.join(steps['logs demo'])}` for its log" in status.stdout
    logs = run(*steps["logs demo"], env=env)
    assert logs.returncode == 0 and "demo: Processed" in logs.stdout and "fetched 200 users" in logs.stdout
    search = run(*steps["inventory search"], env=env)
    assert search.returncode == 0 and "Global Administrator" in search.stdout
    export = run(*steps["inventory export"], env=env)
    assert export.returncode == 0 and len(export.stdout.splitlines()) == 200

    served = subprocess.Popen(steps["demo --serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        announced = served.stdout.readline()
        assert f"on https://127.0.0.1:{port}, where the connector 'demo' in {home} expects it" in announced, (
            announced + served.stderr.read() if served.poll() is not None else announced
        )
        synced = run(*steps["sync"], env=env)
        assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
        assert re.search(r"^Run \S+ \(delta run in baseline cycle \S+\) succeeded: Processed\.$", synced.stdout, re.M)

        # The port is the served simulator's now: a third demo moves the connector, and says so.
        third = demo(home, env)
        assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
        assert f"Port {port} is taken" in third.stdout and "Registered connector 'demo' again" in third.stdout
        moved = json.loads((home / "simulator" / "demo.json").read_text())["port"]
        assert moved != port and f"to https://127.0.0.1:{moved}" in third.stdout
    finally:
        served.send_signal(signal.SIGINT)
        served.communicate(timeout=60)
    assert served.returncode == 0


def test_demo_serve_before_any_demo_says_what_to_run(home):
    env = {k: v for k, v in os.environ.items() if k != "ENTRA_PIPELINE_HOME"}
    done = run(ENTRA_PIPELINE, "demo", "--serve", "--home", str(home), env=env)
    assert done.returncode == 2 and re.fullmatch(
        rf"entra-pipeline demo --serve: no demo on {re.escape(str(home))} yet: run `(\S*entra-pipeline) demo --home "
        rf"{re.escape(str(home))}` first",
        done.stderr.strip(),
    ), done.stderr
    helped = run(ENTRA_PIPELINE, "demo", "--help", env=env)
    assert "./dev demo` passes --home .demo-home" in " ".join(helped.stdout.split())
