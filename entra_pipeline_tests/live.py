"""A live Dagster deployment for tests: `dagster dev` (webserver, daemon, code server) on a free
loopback port, over a home whose connector points at a simulator, and a GraphQL helper."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
LOCATION, REPOSITORY = "entra_pipeline", "__repository__"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveDagster:
    """`dagster dev -w workspace.yaml` with DAGSTER_HOME and ENTRA_PIPELINE_HOME set, as an
    operator starts it; stopped with SIGINT (its own clean shutdown), then killed if need be."""

    def __init__(self, home: Path, dagster_home: Path, log: Path) -> None:
        self.home, self.dagster_home, self.port = home, dagster_home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "ENTRA_PIPELINE_HOME": str(home)}
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
             "-p", str(self.port)], cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.log_path = log

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagster dev exited: {self.log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    # the code location loads after the server answers
                    entries = self.graphql("{ workspaceOrError { ... on Workspace { locationEntries { "
                                           "locationOrLoadError { __typename } } } } }")["workspaceOrError"]
                    loaded = entries["locationEntries"][0]["locationOrLoadError"]
                    assert loaded is None or loaded["__typename"] != "PythonError", f"code location failed: {loaded}"
                    if loaded and loaded["__typename"] == "RepositoryLocation":
                        return
            except (httpx.HTTPError, KeyError, IndexError):
                pass
            time.sleep(1)
        raise AssertionError(f"dagster dev not ready in {timeout} s: {self.log_path.read_text()[-3000:]}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def wait_for(what: str, probe, timeout: float = 180.0, every: float = 2.0):
    """Poll `probe` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")
