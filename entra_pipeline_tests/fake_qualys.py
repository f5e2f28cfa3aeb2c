"""A local stand-in for the Qualys API gateway that checks the import contract: JWT from
/auth (form username/password, token=true) or /auth/oauth (clientId/clientSecret headers),
Bearer on every import, JSON bodies under 9 MB with consistent connectorMetaData, and the
rate-limit answers a test scripts (429 Retry-After, 409 X-RateLimit-ToWait-Sec, 5xx)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

from entra_pipeline.config import QualysDestination
from entra_pipeline.simulator import http, tls

CONNECTOR_UUID = "489e8429-2e82-4599-a2a8-0123456789ab"


class FakeQualys:
    def __init__(
        self,
        state_dir: Path,
        username: str = "api-user",
        password: str = "Qualys-Pa55",
        client_id: str = "client-1",
        client_secret: str = "Client-S3cret",
        delay: float = 0.02,
    ) -> None:
        self.tls = tls.generate(state_dir)
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.delay = delay
        self.tokens: set[str] = set()
        self.auth_calls: list[dict] = []
        self.accepted: list[dict] = []  # bodies of accepted imports
        self.request_ids: Counter = Counter()
        self.violations: list[str] = []
        self.script: list[tuple[int, dict[str, str]]] = []  # answers for the next imports
        self.in_flight = self.max_in_flight = 0
        self._server = http.Server(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None

    @property
    def gateway(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FakeQualys:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self.port = self._loop.run_until_complete(self._server.start("127.0.0.1", 0, self.tls.server_context()))
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._server.close())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    async def __call__(self, request: http.Request) -> http.Response:
        if request.method == "POST" and request.path == "/auth":
            form = dict(parse_qsl(request.body.decode()))
            self.auth_calls.append({"kind": "password", **{k: v for k, v in form.items() if k != "password"}})
            if (
                form.get("username") == self.username
                and form.get("password") == self.password
                and form.get("token") == "true"
            ):
                return self._token(201)
            return http.Response(401, b'{"message":"Invalid credentials"}')
        if request.method == "POST" and request.path == "/auth/oauth":
            self.auth_calls.append({"kind": "oauth", "clientId": request.headers.get("clientid")})
            if (
                request.headers.get("clientid") == self.client_id
                and request.headers.get("clientsecret") == self.client_secret
            ):
                return self._token(200)
            return http.Response(401, b'{"message":"Invalid client"}')
        if request.method == "POST" and request.path == "/rest/2.0/am/connector/asset/data/sync":
            return await self._import(request)
        return http.Response(404, b"{}")

    def _token(self, status: int) -> http.Response:
        token = f"eyJ.fake.{uuid.uuid4().hex}"
        self.tokens.add(token)
        return http.Response(status, token.encode(), {"Content-Type": "text/plain"})

    async def _import(self, request: http.Request) -> http.Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return http.Response(401, b'{"message":"Token expired or invalid"}')
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.script:
                status, headers = self.script.pop(0)
                return http.Response(status, b'{"message":"scripted"}', headers)
            self._check(request)
            body = json.loads(request.body)
            self.accepted.append(body)
            self.request_ids[body["connectorMetaData"]["requestId"]] += 1
            return http.Response(
                200,
                json.dumps(
                    {
                        "message": "All assets are submitted for processing.",
                        "responseCode": "SUCCESSFULLY_PUBLISHED",
                        "assetsError": {},
                    }
                ).encode(),
                {"Content-Type": "application/json"},
            )
        finally:
            self.in_flight -= 1

    def _check(self, request: http.Request) -> None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            self.violations.append("import without Content-Type: application/json")
        if len(request.body) >= 9 * 1024 * 1024:
            self.violations.append(f"import body of {len(request.body)} bytes (9 MB or more)")
        body = json.loads(request.body)
        meta = body.get("connectorMetaData", {})
        if meta.get("connectorUuid") != CONNECTOR_UUID:
            self.violations.append(f"wrong connectorUuid {meta.get('connectorUuid')}")
        if meta.get("assetCount") != len(body.get("assetData", [])):
            self.violations.append("assetCount does not match assetData")
        if not meta.get("requestId") or not meta.get("source"):
            self.violations.append("connectorMetaData without requestId or source")


def qualys_destination(fake: FakeQualys, **overrides) -> QualysDestination:
    """A connector's Qualys destination settings pointing at `fake`."""
    fields = dict(
        kind="qualys",
        gateway=fake.gateway,
        connector_uuid=CONNECTOR_UUID,
        username=fake.username,
        password_env="QUALYS_PASSWORD",
        ca_bundle=str(fake.tls.ca_cert),
        batch_size=100,
    )
    fields.update(overrides)
    return QualysDestination(**fields)


def removals_sent(fake: FakeQualys) -> list[dict]:
    """The assets `fake` accepted in removal batches (identities sent as deleted)."""
    return [
        asset
        for body in fake.accepted
        if "-removals-" in body["connectorMetaData"]["requestId"]
        for asset in body["assetData"]
    ]
