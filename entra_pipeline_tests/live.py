"""A live Dagster deployment for tests: `dagster dev` (webserver, daemon, code server) on a free
loopback port, over a home whose connector points at a simulator, and a GraphQL helper."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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

    def __init__(self, home: Path, dagster_home: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.home, self.dagster_home, self.port = home, dagster_home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(dagster_home), "ENTRA_PIPELINE_HOME": str(home)}
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")),
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = log

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagster dev exited: {self.log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    # the code location loads after the server answers
                    entries = self.graphql(
                        "{ workspaceOrError { ... on Workspace { locationEntries { "
                        "locationOrLoadError { __typename } } } } }"
                    )["workspaceOrError"]
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
        stop_group(self.process, signal.SIGINT, timeout=30)
        self._log.close()


def stop_group(process: subprocess.Popen | None, signum: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a service started with start_new_session: `signum` to its whole process group (its
    own clean shutdown), SIGKILL if it has not ended within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


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


class LocalPostgres:
    """A PostgreSQL server of the test's own on a free loopback port (Debian's server binaries;
    run as the `postgres` user when the tests run as root, as initdb requires)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        assert found, "PostgreSQL server binaries not found: install Debian's postgresql package (./dev test does)"
        self.bin = found[-1].parent
        self.port, self.user, self.database = free_port(), "entra", "dagster"
        # its own folder: pytest's are private to root, which the postgres user cannot enter
        self.root = Path(tempfile.mkdtemp(prefix="entra-pg-"))
        self.data, self.sockets = self.root / "pgdata", self.root / "pgsock"
        self.log = self.root / "postgres.log"
        for folder in (self.data, self.sockets):
            folder.mkdir()
        if os.geteuid() == 0:
            for path in (self.root, self.data, self.sockets):
                shutil.chown(path, "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, cwd="/")
        assert done.returncode == 0, f"{' '.join(command)} failed: {done.stdout}{done.stderr}"

    def start(self) -> LocalPostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c timezone=UTC",
        )
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database)
        return self

    def environment(self) -> dict[str, str]:
        """What dagster.postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": self.database,
            "PGTZ": "UTC",
        }

    def store_url(self, schema: str = "entra_pipeline") -> str:
        """ENTRA_PIPELINE_STORE for a connector store in this server, in its own schema."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}?schema={schema}"

    def dump(self, schema: str, path: Path) -> None:
        done = subprocess.run(
            [
                str(self.bin / "pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-n",
                schema,
                "-f",
                str(path),
                self.database,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def restore(self, schema: str, path: Path) -> None:
        self.query(f"DROP SCHEMA {schema} CASCADE", fetch=False)
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                str(path),
                self.database,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def query(self, sql: str, *params, fetch: bool = True) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database) as connection:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if fetch else []

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
