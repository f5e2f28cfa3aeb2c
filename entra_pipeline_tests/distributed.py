"""A distributed Dagster deployment for tests, on loopback: PostgreSQL (live.LocalPostgres), a
Redis server of the test's own as Celery's broker and result backend, `dagster dev` (webserver,
daemon, code server) running the code location with the Celery executor, and Celery workers.

Each worker is started as on a machine of its own: an empty working directory, its own TMPDIR,
a DAGSTER_HOME holding only the instance file, an ENTRA_PIPELINE_HOME holding only the shipped
connectors.yaml, and its own pid namespace (`unshare`), so the connector lease cannot tell
a dead holder on another worker by its pid and must wait for its time to live, as across
machines. What workers share with each other and with the daemon: the database, the broker
and the object store (Azurite, where the snapshot's Parquet objects live: ENTRA_PIPELINE_DATA)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from .azurite import Azurite
from .live import REPO, LiveDagster, LocalPostgres, free_port, stop_group, wait_for

PAUSE_POINT = "raw:all:written"  # after the pull, before records and delivery: the step is mid-run


class LocalRedis:
    """Debian's redis-server on a free loopback port with a password, its own folder, no
    persistence (a broker restarted by a test starts empty, as a fresh pod would)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        assert Path(self.binary).exists(), "redis-server not found: install Debian's redis-server (./dev test does)"
        self.port, self.password = free_port(), secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix="entra-redis-"))
        self.log = self.root / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def __repr__(self) -> str:  # never the password, in a pytest failure or anywhere else
        return f"LocalRedis(redis://:***@127.0.0.1:{self.port}/0)"

    def start(self) -> LocalRedis:
        config = self.root / "redis.conf"
        # the password in a file of its own (owner-only), not on a command line `ps` shows
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.root}\nrequirepass {self.password}\n"
                'save ""\nappendonly no\nprotected-mode yes\n'
            )
        self.process = subprocess.Popen(
            [self.binary, str(config)],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
        )
        wait_for("redis-server to answer", self.ping, timeout=30, every=0.1)
        return self

    def ping(self) -> bool:
        import redis

        assert self.process is not None and self.process.poll() is None, self.log.read_text()[-2000:]
        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop_group(self.process, timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


def celery_environment(redis: LocalRedis, **extra: str) -> dict[str, str]:
    """What the code location and the workers read to run steps on Celery."""
    return {
        "ENTRA_PIPELINE_EXECUTOR": "celery",
        "ENTRA_PIPELINE_CELERY_BROKER": redis.url,
        "ENTRA_PIPELINE_CELERY_BACKEND": redis.url,
        **extra,
    }


class CeleryWorker:
    """`celery -A entra_pipeline.defs.celery_app worker`, consuming its own queue (named after it)
    and the shared one, one step at a time. Its pause gate (ENTRA_PIPELINE_PAUSE_AT at
    PAUSE_POINT) is open unless a test closes it."""

    def __init__(
        self, name: str, root: Path, connectors_yaml: Path, env: dict[str, str], queues: tuple[str, ...] = ("dagster",)
    ) -> None:
        self.name, self.root = name, root
        self.queue = f"worker-{name}"
        self.cwd, self.tmp, self.dagster_home, self.home, self.gate = (
            root / "cwd",
            root / "tmp",
            root / "dagster-home",
            root / "home",
            root / "gate",
        )
        for folder in (root, self.cwd, self.tmp, self.dagster_home, self.home, self.gate):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.celery.yaml", self.dagster_home / "dagster.yaml")
        shutil.copy(connectors_yaml, self.home / "connectors.yaml")
        self.open_gate()
        self.log_path = root / "worker.log"
        self.env = {
            **os.environ,
            **env,
            "DAGSTER_HOME": str(self.dagster_home),
            "ENTRA_PIPELINE_HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "ENTRA_PIPELINE_PAUSE_AT": f"{PAUSE_POINT}={self.gate}",
        }
        self.env.pop("PYTHONPATH", None)
        self.queues = (self.queue, *queues)
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        celery = str(Path(sys.executable).with_name("celery"))
        # pid 1 of its own namespace: killing it ends every process of the worker, as losing a machine does
        isolate = ["unshare", "--pid", "--fork", "--mount-proc"] if os.geteuid() == 0 else []
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *isolate,
                celery,
                "-A",
                "entra_pipeline.defs.celery_app",
                "worker",
                "-n",
                f"{self.name}@%h",
                "-Q",
                ",".join(self.queues),
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, f"worker {self.name} exited: {self.log()}"
            return " ready." in self.log()

        wait_for(f"celery worker {self.name}", ready, timeout=timeout, every=0.3)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    @property
    def node(self) -> str:
        """The node name Celery reports (dagster-celery's 'Celery worker' entry in the event log)."""
        return f"{self.name}@{os.uname().nodename}"

    # the pause gate: a closed gate holds this worker's next step at PAUSE_POINT
    def _flag(self, suffix: str) -> Path:
        return self.gate / f"{PAUSE_POINT.replace(':', '_')}.{suffix}"

    def open_gate(self) -> None:
        self._flag("go").write_text("")

    def close_gate(self) -> None:
        self._flag("go").unlink(missing_ok=True)
        self._flag("reached").unlink(missing_ok=True)

    def reached(self) -> bool:
        return self._flag("reached").exists()

    def processes(self) -> list[int]:
        """Host pids of the worker's processes (its session), the pool's step process included."""
        assert self.process is not None
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == self.process.pid:  # session id: start_new_session made the worker its leader
                found.append(int(stat.parent.name))
        return found

    def host_pid(self, pid: int) -> int:
        """The host pid of the worker's process that sees itself as `pid` (a lease records that one)."""
        for candidate in self.processes():
            try:
                status = Path(f"/proc/{candidate}/status").read_text()
            except OSError:
                continue
            nspids = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
            if int(nspids[-1]) == pid:
                return candidate
        raise AssertionError(f"no process of worker {self.name} is pid {pid} in its namespace")

    def kill(self) -> None:
        """SIGKILL every process of the worker at once: the machine is lost."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.process)  # SIGTERM: Celery's warm shutdown
        if hasattr(self, "_log"):
            self._log.close()


class Deployment:
    """PostgreSQL + Redis + Azurite + `dagster dev` over dagster.celery.yaml + workers, started in that order."""

    DATA_PREFIX = "snapshots"

    def __init__(self, root: Path, home: Path, env: dict[str, str], workers: tuple[str, ...] = ("a", "b")) -> None:
        self.root, self.home = root, home
        self.postgres: LocalPostgres | None = None
        self.redis: LocalRedis | None = None
        self.blob_store: Azurite | None = None
        self.server: LiveDagster | None = None
        self.workers: dict[str, CeleryWorker] = {}
        try:
            self.postgres = LocalPostgres().start()
            self.redis = LocalRedis().start()
            self.blob_store = Azurite().start()
            self.env = {
                **self.postgres.environment(),
                "ENTRA_PIPELINE_STORE": self.postgres.store_url("entra_pipeline"),
                **celery_environment(self.redis),
                **self.blob_store.environment(self.DATA_PREFIX),
                **env,
            }
            self.dagster_home = root / "daemon-dagster-home"
            self.dagster_home.mkdir(mode=0o700)
            shutil.copy(REPO / "dagster.celery.yaml", self.dagster_home / "dagster.yaml")
            self.server = LiveDagster(home, self.dagster_home, root / "dagster-dev.log", env=self.env)
            for name in workers:
                self.workers[name] = CeleryWorker(
                    name, root / f"worker-{name}", home / "connectors.yaml", self.env
                ).start()
        except BaseException:
            self.stop()  # nothing left running for a start that failed half-way
            raise

    def wait_ready(self) -> None:
        self.server.wait_ready()
        for worker in self.workers.values():
            worker.wait_ready()

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        for service in (self.server, self.redis, self.postgres):
            if service is not None:
                service.stop()
        if self.blob_store is not None:
            self.blob_store.stop(keep=False)

    def objects(self, connector: str) -> set[str]:
        """The connector's objects in the object store, as `<stage>/<name>.<token>.parquet`."""
        prefix = f"{self.DATA_PREFIX}/{connector}/"
        return {name.removeprefix(prefix) for name in self.blob_store.blobs(prefix)}
