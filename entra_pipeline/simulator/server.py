"""The simulator as a whole: configuration, the facts a client needs, and its lifecycle
(in a background thread for tests, in the foreground for `entra-pipeline simulator serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import random
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from . import admin, catalog, http, tls
from .app import SimulatorApp, Stats
from .delta import DeltaEngine, DeltaSettings
from .faults import Faults
from .generate import PROFILES, ConnectorApp, TenantShape, build_tenant, grant_connector_permissions
from .graph_api import GraphApi
from .identity import Application, IdentityPlatform
from .tenant import Tenant
from .throttle import Throttle, size_for_users
from .tokens import TokenSigner


@dataclass
class SimulatorConfig:
    users: int = 1000
    seed: int = 7
    tenant_size: str | None = None  # S | M | L throttling class; default from the user count
    groups: int | None = None
    applications: int | None = None
    profile: str = "classic"  # tenant shape: "classic" or "realistic" (generate.TenantShape)
    latency_ms: float = 0.0
    granted_permissions: tuple[str, ...] = catalog.SPEC_PERMISSIONS
    faults: tuple[str, ...] = ()
    throttling: bool = True
    token_lifetime: int = 3599
    secret_expires_in_days: float = 365.0
    delta_page_size: int = 100
    delta_members_per_page: int = 500
    host: str = "127.0.0.1"
    port: int = 0
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.tenant_size is not None and self.tenant_size not in ("S", "M", "L"):
            raise ValueError(f"tenant size must be S, M or L, not {self.tenant_size!r}")
        unknown = sorted(set(self.granted_permissions) - set(catalog.GRAPH_APP_ROLES))
        if unknown:
            raise ValueError(
                f"unknown permissions {', '.join(unknown)}; known: {', '.join(sorted(catalog.GRAPH_APP_ROLES))}"
            )
        if self.users < 1:
            raise ValueError("a tenant needs at least one user")
        if self.profile not in PROFILES:
            raise ValueError(f"tenant profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")


@dataclass(frozen=True)
class SimulatorInfo:
    """What a client needs to talk to the simulator, as `serve --json` prints it."""

    authority_host: str
    graph_endpoint: str
    tenant_id: str
    client_id: str
    client_secret: str
    ca_bundle: str
    domain: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _connector_credentials(seed: int) -> tuple[str, str]:
    rng = random.Random(f"connector-{seed}")
    client_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    secret = "sim~" + hashlib.sha256(f"secret-{seed}-{rng.random()}".encode()).hexdigest()[:34]
    return client_id, secret


class Simulator:
    """A Graph tenant on https://127.0.0.1:<port>.

    Use `with Simulator(config) as sim:` (a background thread) or `sim.serve_forever()`.
    Everything the admin API does is also a method here; mutate the directory through
    `sim.tenant` (create_user, soft_delete, add_member, assign_app_role, ...).
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config or SimulatorConfig()
        self._clock_offset = dt.timedelta()
        client_id, secret = _connector_credentials(config.seed)
        self.connector = ConnectorApp(
            client_id, secret, self._expiry(config.secret_expires_in_days), tuple(config.granted_permissions)
        )
        shape = TenantShape(
            users=config.users,
            seed=config.seed,
            groups=config.groups,
            applications=config.applications,
            profile=config.profile,
        )
        self.tenant: Tenant = build_tenant(shape, self.connector)
        self.tenant.clock = self.now
        grant_connector_permissions(self.tenant, self.connector)
        self.faults = Faults(seed=config.seed)
        for spec in config.faults:
            self.faults.add(spec)
        self.signer = TokenSigner.create()
        self.identity = IdentityPlatform(
            self.tenant.tenant_id,
            (self.tenant.domain,),
            self.signer,
            self.now,
            (catalog.GRAPH_RESOURCE, catalog.GRAPH_APP_ID),
            config.token_lifetime,
        )
        connector_sp = next(sp["id"] for sp in self.tenant.service_principals.values() if sp["appId"] == client_id)
        self.app_registration = Application(
            client_id, secret, self.connector.secret_expires, tuple(config.granted_permissions), object_id=connector_sp
        )
        self.identity.register(self.app_registration)
        self.delta = DeltaEngine(
            self.tenant, self.now, self.faults, DeltaSettings(config.delta_page_size, config.delta_members_per_page)
        )
        self.throttle = Throttle(config.tenant_size or size_for_users(config.users), enabled=config.throttling)
        self._stats = Stats()
        self.app = SimulatorApp(
            api=GraphApi(self.tenant, self.delta),
            identity=self.identity,
            signer=self.signer,
            throttle=self.throttle,
            faults=self.faults,
            stats=self._stats,
            clock=self.now,
            latency=config.latency_ms / 1000,
            seed=config.seed,
            admin=lambda request: admin.respond(self, request),
        )
        self._tempdir: tempfile.TemporaryDirectory | None = None
        state_dir = config.state_dir
        if state_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="entra-sim-")
            state_dir = Path(self._tempdir.name)
        self.state_dir = Path(state_dir)
        self.tls = tls.generate(self.state_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: http.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ---------------------------------------------------------------- facts
    @property
    def origin(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        return f"https://{self.config.host}:{self.port}"

    @property
    def info(self) -> SimulatorInfo:
        return SimulatorInfo(
            authority_host=self.origin,
            graph_endpoint=self.origin,
            tenant_id=self.tenant.tenant_id,
            client_id=self.connector.client_id,
            client_secret=self.connector.client_secret,
            ca_bundle=str(self.tls.ca_cert),
            domain=self.tenant.domain,
        )

    # ---------------------------------------------------------------- clock, app, delta, stats
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self._clock_offset

    def _expiry(self, days: float) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock (delta token age, token and secret expiry) forward."""
        with self.tenant.lock:
            self._clock_offset += dt.timedelta(seconds=seconds)

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on (a token expiring mid-run)."""
        self.app.tokens_not_before = time.time() + 1

    def configure_app(
        self,
        granted_permissions: list[str] | None = None,
        secret_expires_in_seconds: float | None = None,
        token_lifetime: int | None = None,
    ) -> dict:
        with self.tenant.lock:
            if granted_permissions is not None:
                unknown = sorted(set(granted_permissions) - set(catalog.GRAPH_APP_ROLES))
                if unknown:
                    raise ValueError(f"unknown permissions: {', '.join(unknown)}")
                self.app_registration.granted_permissions = tuple(granted_permissions)
                self.connector = ConnectorApp(
                    self.connector.client_id,
                    self.connector.client_secret,
                    self.connector.secret_expires,
                    tuple(granted_permissions),
                )
                grant_connector_permissions(self.tenant, self.connector)
            if secret_expires_in_seconds is not None:
                self.app_registration.secret_expires = self.now() + dt.timedelta(seconds=secret_expires_in_seconds)
                self._show_secret_expiry(self.app_registration.secret_expires)
            if token_lifetime is not None:
                self.identity.token_lifetime = int(token_lifetime)
            return {
                "granted_permissions": list(self.app_registration.granted_permissions),
                "secret_expires": self.app_registration.secret_expires.isoformat(),
                "token_lifetime": self.identity.token_lifetime,
            }

    def _show_secret_expiry(self, expires: dt.datetime) -> None:
        """The connector's own application lists its secret's end date, as in Entra."""
        for app in self.tenant.applications.values():
            if app["appId"] == self.connector.client_id:
                for credential in app["passwordCredentials"]:
                    credential["endDateTime"] = expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def reset_delta(self, entity_set: str) -> None:
        if entity_set not in self.delta.generation:
            raise ValueError(f"delta resets apply to {', '.join(self.delta.generation)}, not {entity_set!r}")
        with self.tenant.lock:
            self.delta.force_reset(entity_set)

    def stats(self) -> dict:
        return self._stats.snapshot(self.identity.tokens_issued)

    def reset_stats(self) -> None:
        self._stats.reset()

    def truth(self) -> dict:
        return self.tenant.truth()

    # ---------------------------------------------------------------- lifecycle
    async def _start_server(self) -> None:
        self._server = http.Server(self.app)
        self.port = await self._server.start(self.config.host, self.config.port, self.tls.server_context())
        self.app.origin = self.origin

    def start(self) -> Simulator:
        """Serve from a background thread; returns once the port is listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            # the thread's own reference: stop() forgets self._loop if closing outlasts its wait
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._start_server())
            except BaseException as error:  # surfaced to the caller below
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._server.close())
            loop.close()

        self._thread = threading.Thread(target=run, name="entra-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self, on_ready=None) -> None:
        async def main() -> None:
            await self._start_server()
            stop = asyncio.Event()
            # before announcing: whoever reads the announcement may stop us at once
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
            if on_ready:
                on_ready(self)
            try:
                await stop.wait()
            finally:
                await self._server.close()

        asyncio.run(main())


@contextlib.contextmanager
def running_simulator(**settings) -> Iterator[Simulator]:
    """`with running_simulator(users=200) as sim:` — a simulator on a free port, stopped afterwards."""
    with Simulator(SimulatorConfig(**settings)) as sim:
        yield sim
