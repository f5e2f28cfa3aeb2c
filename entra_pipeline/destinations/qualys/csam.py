"""The Qualys CSAM destination: JWT authentication, batches through the import API, waits as
the gateway's rate limits say, and per-batch progress so a killed run re-sends no batch the
gateway already accepted."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from ...config import Connector, QualysDestination
from ...killpoints import checkpoint
from ...retry import Attempts, RetryPolicy
from ..protocol import CSAM_FIGURES, DeliveryReport
from . import envelope
from .envelope import Record

if TYPE_CHECKING:
    from ...store import Lease, Store

log = logging.getLogger(__name__)

SYNC_PATH = "/rest/2.0/am/connector/asset/data/sync"
TOKEN_REFRESH_SECONDS = 3.5 * 3600  # tokens live 4 hours; refresh well before
MAX_IN_FLIGHT = 2  # the Standard tier's concurrency limit


class QualysError(Exception):
    pass


def retry_policy(max_attempts: int) -> RetryPolicy:
    """The gateway's limits (409: concurrency, 429: rate) say how long to wait, in
    X-RateLimit-ToWait-Sec or Retry-After (60 s when neither); a server error is tried again
    `max_attempts` times in all."""
    return RetryPolicy(
        max_attempts=max_attempts,
        backoff_base=2.0,
        backoff_cap=60.0,
        throttled=frozenset({409, 429}),
        retried=frozenset(range(500, 600)),
        wait_headers=("X-RateLimit-ToWait-Sec", "Retry-After"),
        throttle_default=60.0,
    )


class QualysGateway:
    def __init__(
        self,
        destination: QualysDestination,
        secret: SecretStr,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
    ) -> None:
        self.destination = destination
        self._secret = secret
        self.clock, self.sleep, self.policy = clock, sleep, retry_policy(max_attempts)
        verify = (
            ssl.create_default_context(cafile=str(destination.ca_bundle))
            if destination.ca_bundle
            else ssl.create_default_context()
        )
        self.http = httpx.Client(base_url=destination.gateway, verify=verify, timeout=httpx.Timeout(120, connect=30))
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = threading.Lock()
        self.waits = 0

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- auth
    def token(self, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or self.clock() - self._token_at > TOKEN_REFRESH_SECONDS:
                self._token, self._token_at = self._authenticate(), self.clock()
            return self._token

    def _authenticate(self) -> str:
        secret = self._secret.get_secret_value()
        if self.destination.auth == "password":
            response = self.http.post(
                "/auth",
                data={"username": self.destination.username, "password": secret, "token": "true"},
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            response = self.http.post(
                "/auth/oauth",
                headers={
                    "clientId": self.destination.client_id or "",
                    "clientSecret": secret,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
        if response.status_code not in (200, 201) or not response.text.strip():
            raise QualysError(
                f"Qualys authentication at {self.destination.gateway} failed with HTTP "
                f"{response.status_code}: check the username and password (or client id and secret) "
                "and that the user has API access"
            )
        return response.text.strip()

    # ---------------------------------------------------------------- one batch
    def send(self, data: bytes, request_id: str) -> dict:
        """POST one import body (envelope.payload) and return Qualys' answer."""
        attempts, reauthenticated = Attempts(self.policy), False
        while attempts.start() < 1000:  # a gateway that only ever says "wait" is given up on, at last
            response = self.http.post(
                SYNC_PATH,
                content=data,
                headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
            )
            status = response.status_code
            if status in (200, 201, 202, 207):
                return response.json() if response.content else {}
            if status == 401 and not reauthenticated:
                reauthenticated = True
                self.token(force=True)
                continue
            delay = attempts.after_status(status, response.headers)
            if delay is not None:
                self._wait(delay, f"HTTP {status}")
                continue
            raise QualysError(f"Qualys import refused batch {request_id}: HTTP {status} {response.text[:300]}")
        raise QualysError("unreachable")

    def _wait(self, seconds: float, reason: str) -> None:
        self.waits += 1
        log.info("Qualys gateway: waiting %.1fs after %s", seconds, reason)
        self.sleep(seconds)


@dataclass
class Progress:
    """Accepted batches per entity, for the record set identified by its digest (in the store)."""

    store: Store
    connector: str
    lease: Lease | None = None
    state: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, store: Store, connector: str, lease: Lease | None = None) -> Progress:
        return cls(store, connector, lease, store.qualys_progress(connector))

    def accepted(self, entity: str, digest: str) -> set[int]:
        entry = self.state.get(entity, {})
        return set(entry.get("accepted", [])) if entry.get("digest") == digest else set()

    def record(self, entity: str, digest: str, index: int, total: int) -> None:
        with self.lock:
            entry = self.state.get(entity)
            if not entry or entry.get("digest") != digest:
                entry = self.state[entity] = {"digest": digest, "accepted": [], "total": total}
            entry["accepted"] = sorted(set(entry["accepted"]) | {index})
            self.store.record_batch(self.connector, entity, digest, entry["accepted"], total, self.lease)


class HeldIdentities:
    """The identities Qualys holds per entity (sent and not removed), so a later run can send the
    removal of those its records no longer have. Updated only after Qualys accepted a set."""

    def __init__(self, store: Store, connector: str, lease: Lease | None = None) -> None:
        self.store, self.connector, self.lease = store, connector, lease
        self.state: dict[str, dict[str, dict]] = store.qualys_delivered(connector)

    def absent(
        self, entity: str, records: list[tuple[str, Record]], present: set[str] | None = None
    ) -> dict[str, dict]:
        """Held identities the records no longer have (for an incremental set: not in `present`)."""
        present = present if present is not None else {vendor_id for vendor_id, _ in records}
        return {vid: ident for vid, ident in self.state.get(entity, {}).items() if vid not in present}

    def update(self, entity: str, records: list[tuple[str, Record]], keep: dict[str, dict]) -> None:
        self.state[entity] = {**keep, **{vid: envelope.identity(envelope.parsed(record)) for vid, record in records}}
        self.store.replace_delivered(self.connector, entity, self.state[entity], self.lease)


def deliver_entity(
    gateway: QualysGateway,
    progress: Progress,
    entity: str,
    records: list[tuple[str, Record]],
    delivered: HeldIdentities | None = None,
    remove_absent: bool = True,
    present: set[str] | None = None,
) -> DeliveryReport:
    """Send the records (resuming after accepted batches); then, if `delivered` is given, the
    removal of identities Qualys holds that the records no longer have (or keep them). With
    `present`, the records are an incremental set: the rebuilt ones of the set whose ids it holds."""
    report = _send_all(gateway, progress, entity, records)
    if delivered is not None:
        absent = delivered.absent(entity, records, present)
        if remove_absent and absent:
            removals = [(vid, envelope.removal(ident)) for vid, ident in absent.items()]
            sent = _send_all(gateway, progress, f"{entity}-removals", removals)
            report.sent += sent.sent
            report.removed = len(removals)
        else:
            report.retained = len(absent)
        held = delivered.state.get(entity, {})
        unchanged = {vid: ident for vid, ident in held.items() if vid in present} if present is not None else {}
        delivered.update(entity, records, keep={**unchanged, **({} if remove_absent else absent)})
    report.waits = gateway.waits
    return report


def _send_all(
    gateway: QualysGateway, progress: Progress, entity: str, records: list[tuple[str, Record]]
) -> DeliveryReport:
    destination = gateway.destination
    digest, batches = envelope.batches(records, destination.batch_size)
    done = progress.accepted(entity, digest)
    report = DeliveryReport(CSAM_FIGURES, skipped_already_accepted=len(done))

    def send(index: int) -> None:
        batch, request_id = batches[index], envelope.request_id(digest, entity, index)
        answer = gateway.send(
            envelope.payload(batch, destination.connector_uuid, request_id, destination.source), request_id
        )
        errors = answer.get("assetsError") or {}
        progress.record(entity, digest, index, len(batches))
        log.debug("batch %d of %s accepted", index + 1, entity, extra={"progress": ("upload", entity, len(batch))})
        checkpoint(f"qualys:{entity}:batch-{index}:recorded")
        report.sent += 1
        report.assets += len(batch)
        report.asset_errors += len(errors)
        for key, error in list(errors.items())[:20]:
            log.warning("Qualys refused %s %s: %s", entity, key, error)

    with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT) as pool:
        for future in [pool.submit(send, i) for i in range(len(batches)) if i not in done]:
            future.result()
    return report


class CsamDestination:
    """Qualys CSAM as a run's destination (protocol.Destination): the gateway, the accepted
    batches and the identities Qualys holds, for one connector under the run's lease."""

    def __init__(self, connector: Connector, store: Store, lease: Lease | None) -> None:
        destination = connector.destination
        assert isinstance(destination, QualysDestination)
        self.gateway = QualysGateway(destination, destination.secret(store.home))
        self.progress = Progress.load(store, connector.name, lease)
        self.held = HeldIdentities(store, connector.name, lease)
        self.delivered: list[str] = []

    def deliver(
        self, entity: str, rows: list[tuple[str, str]], present: set[str] | None, remove_absent: bool
    ) -> DeliveryReport:
        # the records' canonical texts are what is sent: encoded, not parsed and written again
        records: list[tuple[str, Record]] = [(vendor_id, text.encode()) for vendor_id, text in rows]
        try:
            report = deliver_entity(self.gateway, self.progress, entity, records, self.held, remove_absent, present)
        except QualysError as error:  # the run fails: no delta link advances, the next run sends it again
            raise QualysError(
                f"{entity} not delivered to Qualys ({', '.join(self.delivered) or 'no entity'} "
                f"delivered before it): {error}"
            ) from None
        self.delivered.append(entity)
        return report

    def close(self) -> None:
        self.gateway.close()
