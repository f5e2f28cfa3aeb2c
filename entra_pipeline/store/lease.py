"""One run per connector at a time, however it was launched: a lease row in the store.

A run acquires the connector's lease before it reads anything the connector remembers and
holds it to its end; a thread renews the heartbeat every quarter of the lease's time to live.
A second run waits a bounded time for the lease, then gives up with `ConnectorBusy`, which
names the holder. A holder that stops heartbeating (killed, out of memory, machine gone) loses
the lease once its time to live has passed since its last heartbeat, and the next run takes it
over (and reports the dead run, so Dagster marks it failed); a holder on the same machine whose
process is gone loses it at once.

The lease is also a fence: every transaction that changes what the connector remembers checks
that the lease is still its run's (`Lease.check`), so a run that stalled past its time to live
and was taken over cannot write its older data over the newer run's.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .database import HOST, Database
from .schema import leases

log = logging.getLogger(__name__)

TTL_ENV, WAIT_ENV = "ENTRA_PIPELINE_LEASE_TTL", "ENTRA_PIPELINE_LEASE_WAIT"
DEFAULT_TTL = 120.0  # seconds without a heartbeat before another run may take over
DEFAULT_WAIT = 180.0  # how long a run waits for a busy connector: past one expiry, so a dead holder is replaced


def _seconds(env: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(env) or default))
    except ValueError:
        return default


def lease_ttl() -> float:
    return max(1.0, _seconds(TTL_ENV, DEFAULT_TTL))


def lease_wait() -> float:
    return _seconds(WAIT_ENV, DEFAULT_WAIT)


@dataclass(frozen=True)
class LeaseInfo:
    connector: str
    holder: str
    run_id: str
    launched_by: str
    host: str
    pid: int
    process: str
    acquired_at: float
    heartbeat_at: float
    ttl: float

    def expired(self, now: float) -> bool:
        """No heartbeat for longer than the TTL, or a holder on this machine whose process is
        gone, or a holder in this very process that has ended (its release failed)."""
        if self.process == this_process() and self.holder not in _HELD:
            return True
        return now - self.heartbeat_at > self.ttl or process_gone(self.process)

    def died(self, by: str | None = None) -> str:
        """Why this holder's run failed: its process stopped heartbeating (and who took over)."""
        beat = dt.datetime.fromtimestamp(self.heartbeat_at, dt.UTC)
        return (
            f"its process stopped heartbeating (killed, out of memory or its machine lost) at "
            f"{beat:%Y-%m-%d %H:%M:%S} UTC" + (f"; run {by} took the connector over" if by else "")
        )

    def describe(self) -> str:
        since = dt.datetime.fromtimestamp(self.acquired_at, dt.UTC)
        beat = dt.datetime.fromtimestamp(self.heartbeat_at, dt.UTC)
        return (
            f"run {self.run_id} (launched by {self.launched_by}, pid {self.pid} on {self.host}) since "
            f"{since:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {beat:%H:%M:%S} UTC"
        )


class ConnectorBusy(Exception):
    def __init__(self, connector: str, holder: LeaseInfo, waited: float) -> None:
        self.connector, self.holder = connector, holder
        super().__init__(
            f"connector {connector!r} is being synced by {holder.describe()}; waited {waited:.0f} s. "
            f"Remedy: let that run finish and run again; if its process is gone, its lease expires "
            f"{holder.ttl:.0f} s after its last heartbeat and the next run takes over"
        )


class LeaseLost(Exception):
    def __init__(self, connector: str, run_id: str, now_held_by: LeaseInfo | None) -> None:
        taken = f"taken over by {now_held_by.describe()}" if now_held_by else "released"
        super().__init__(
            f"run {run_id} lost connector {connector!r}'s lease (it stopped heartbeating for longer than the "
            f"lease's time to live, and the lease was {taken}): it writes nothing more; the run that holds "
            "the connector now delivers the changes"
        )


@functools.lru_cache(maxsize=1)
def _boot_and_namespace() -> str | None:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None  # not Linux: only the TTL tells a dead holder


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None if it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def this_process() -> str:
    space = _boot_and_namespace()
    return f"{space}:{os.getpid()}:{_started(os.getpid())}" if space else f"{HOST}:{os.getpid()}"


def process_gone(identity: str) -> bool:
    """True only when sure: same kernel and pid namespace, and that process no longer runs."""
    space = _boot_and_namespace()
    if not space or not identity.startswith(space + ":"):
        return False
    pid, _, started = identity[len(space) + 1 :].partition(":")
    return not pid.isdigit() or _started(int(pid)) != started


_HELD: set[str] = set()  # the holder tokens of the leases this process holds now


def _info(row: sa.Row[Any]) -> LeaseInfo:
    fields = dict(row._mapping)
    for name in ("acquired_at", "heartbeat_at", "ttl"):
        try:
            fields[name] = float(fields[name])
        except (TypeError, ValueError):  # a damaged row holds the connector for nobody: it has expired
            log.warning(
                "lease row of %s is damaged (%s=%r): treated as expired", fields["connector"], name, fields[name]
            )
            fields[name] = 0.0
    fields["pid"] = int(fields["pid"]) if str(fields["pid"]).isdigit() else 0
    fields = {
        name: value if name in ("acquired_at", "heartbeat_at", "ttl", "pid") else str(value)
        for name, value in fields.items()
    }
    return LeaseInfo(**fields)


def current(db: Database, connection: sa.Connection, connector: str, lock: bool = False) -> LeaseInfo | None:
    query = sa.select(leases).where(leases.c.connector == connector)
    if lock and not db.sqlite:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return _info(row) if row else None


class Lease:
    """A held lease: `check` inside a transaction fences it; `close` releases it."""

    def __init__(self, db: Database, info: LeaseInfo, took_over: LeaseInfo | None) -> None:
        self.db, self.info, self.took_over = db, info, took_over
        self.connector, self.run_id = info.connector, info.run_id
        self.lost = threading.Event()
        _HELD.add(info.holder)
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease-{self.connector}", daemon=True)
        self._beat.start()

    def check(self, connection: sa.Connection) -> None:
        """Inside a write transaction: raise LeaseLost unless this run still holds the lease."""
        held = current(self.db, connection, self.connector, lock=True)
        if held is None or held.holder != self.info.holder:
            self.lost.set()
            raise LeaseLost(self.connector, self.run_id, held)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.info.ttl / 4):
            try:
                with self.db.write() as connection:
                    changed = connection.execute(
                        leases.update()
                        .where(leases.c.connector == self.connector, leases.c.holder == self.info.holder)
                        .values(heartbeat_at=self.db.now(connection))
                    ).rowcount
                if not changed:
                    self.lost.set()
                    log.warning("run %s lost the lease of %s", self.run_id, self.connector)
                    return
            except Exception as error:  # noqa: BLE001 - a missed beat is retried; the fence decides
                log.warning("lease heartbeat of %s failed: %s", self.connector, str(error).splitlines()[0][:200])

    def close(self) -> None:
        _HELD.discard(self.info.holder)
        self._stop.set()
        self._beat.join(timeout=10)
        try:
            with self.db.write() as connection:
                connection.execute(
                    leases.delete().where(leases.c.connector == self.connector, leases.c.holder == self.info.holder)
                )
        except Exception as error:  # noqa: BLE001 - an unreleased lease expires by itself
            log.warning(
                "lease of %s not released (%s): it expires in %.0f s",
                self.connector,
                str(error).splitlines()[0][:200],
                self.info.ttl,
            )

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def acquire(
    db: Database, connector: str, run_id: str, launched_by: str, wait: float | None = None, ttl: float | None = None
) -> Lease:
    """Take the connector's lease, waiting up to `wait` seconds for a live holder to finish."""
    wait = lease_wait() if wait is None else wait
    ttl = lease_ttl() if ttl is None else ttl
    started = time.monotonic()
    delay = 0.2
    while True:
        try:
            lease = _try(db, connector, run_id, launched_by, ttl)
        except sa.exc.IntegrityError:  # PostgreSQL: another run inserted the first row at the same moment
            lease = None
        if isinstance(lease, Lease):
            return lease
        held = lease
        waited = time.monotonic() - started
        if waited >= wait:
            if held is None:
                continue
            raise ConnectorBusy(connector, held, waited)
        time.sleep(min(delay, max(0.05, wait - waited)))
        delay = min(delay * 1.5, 2.0)


def _try(db: Database, connector: str, run_id: str, launched_by: str, ttl: float) -> Lease | LeaseInfo | None:
    """The lease if it could be taken, else who holds it."""
    with db.write() as connection:
        now = db.now(connection)
        held = current(db, connection, connector, lock=True)
        if held is not None and not held.expired(now) and held.run_id != run_id:
            return held
        info = LeaseInfo(
            connector=connector,
            holder=uuid.uuid4().hex,
            run_id=run_id,
            launched_by=launched_by,
            host=HOST,
            pid=os.getpid(),
            process=this_process(),
            acquired_at=now,
            heartbeat_at=now,
            ttl=ttl,
        )
        if held is None:
            connection.execute(leases.insert().values(**vars(info)))
        else:
            connection.execute(leases.update().where(leases.c.connector == connector).values(**vars(info)))
    took_over = held if held is not None and held.run_id != run_id else None
    if took_over:
        log.warning(
            "connector %s: took over the lease of %s, which stopped heartbeating", connector, took_over.describe()
        )
    return Lease(db, info, took_over)
