"""When does the connector's own client secret expire?

The connector reads its application's `passwordCredentials` (GET /applications filtered on
its appId: 1 request, 1 RU) and picks the credential whose `hint` (the secret's first three
characters, as Entra stores it) matches the secret it holds. Each sync run, Test Connection
and a sensor read it and keep the answer in the connector store, so
`status` can warn from 30 days before the end date: the spec's Key Rotation advice, acted on
before runs start failing with AADSTS7000222.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ValidationError

from ..config import Connector
from ..store import Store, open_store
from ..store import secret_expiry as table
from .client import ClientSettings, GraphClient, GraphError

WARN_DAYS = 30


class SecretExpiry(BaseModel):
    ends: AwareDatetime | None  # None: could not be read (detail says why)
    detail: str
    checked: AwareDatetime

    def warning(self, connector: str, now: dt.datetime) -> str | None:
        if self.ends is None:
            return None
        left = self.ends - now
        remedy = (
            "generate a new one in Azure AD under Certificates & secrets, then run "
            f"`entra-pipeline connector rotate-secret {connector}`"
        )
        if left.total_seconds() <= 0:
            return f"the client secret expired on {self.ends:%Y-%m-%d %H:%M} UTC: {remedy}"
        if left <= dt.timedelta(days=WARN_DAYS):
            days = left.total_seconds() / 86400
            return f"the client secret expires on {self.ends:%Y-%m-%d %H:%M} UTC (in {days:.1f} days): {remedy}"
        return None


def _ends(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


async def read_secret_expiry(client: GraphClient, connector: Connector, secret: str) -> SecretExpiry:
    now = dt.datetime.now(dt.UTC)
    try:
        page = await client.get(
            f"/applications?$filter=appId eq '{connector.client_id}'&$select=appId,passwordCredentials"
        )
    except GraphError as error:
        if error.status == 403:
            return SecretExpiry(
                ends=None,
                checked=now,
                detail="cannot read the application's passwordCredentials: "
                "grant Application.Read.All (or Directory.Read.All) to see when the secret expires",
            )
        raise
    apps = page.get("value") or []
    credentials = [c for app in apps for c in app.get("passwordCredentials") or [] if c.get("endDateTime")]
    if not credentials:
        return SecretExpiry(ends=None, checked=now, detail="the application lists no client secret end date")
    ours = [c for c in credentials if c.get("hint") and secret.startswith(c["hint"])]
    if ours:
        return SecretExpiry(
            ends=max(_ends(c["endDateTime"]) for c in ours),
            checked=now,
            detail="the secret this connector holds (matched by its hint)",
        )
    return SecretExpiry(
        ends=min(_ends(c["endDateTime"]) for c in credentials),
        checked=now,
        detail="the earliest of the application's secrets (none matched this secret's hint)",
    )


class SecretExpiryStore:
    def __init__(self, store: Store, connector: str) -> None:
        self.store, self.connector = store, connector

    def read(self) -> SecretExpiry | None:
        """What was last read; None if never read, or if the stored copy is damaged (read anew next run)."""
        document = self.store.document(table, self.connector)
        try:
            return SecretExpiry.model_validate_json(document) if document else None
        except ValidationError:
            return None

    def write(self, expiry: SecretExpiry) -> None:
        self.store.put_document(table, self.connector, expiry.model_dump_json())


async def note_secret_expiry(
    client: GraphClient, connector: Connector, store: Store, secret: str
) -> tuple[SecretExpiry | None, str | None]:
    """Read it with a client already open (the pull's: no second token), keep it for `status`,
    and return it with a warning if it is near. Never an error: a run is not failed for want
    of this one request."""
    try:
        expiry = await read_secret_expiry(client, connector, secret)
    except Exception as error:  # noqa: BLE001 - reported, never fatal
        return None, f"client secret expiry not read: {str(error).splitlines()[0][:300]}"
    try:
        SecretExpiryStore(store, connector.name).write(expiry)
    except Exception as error:  # noqa: BLE001 - e.g. a full disk: said, and the run goes on
        return expiry, f"client secret expiry not kept for `status`: {error}"
    return expiry, expiry.warning(connector.name, dt.datetime.now(dt.UTC))


def secret_expiry_note(connector: Connector, home: Path) -> tuple[SecretExpiry | None, str | None]:
    """For Test Connection and the sensor: `note_secret_expiry` with a client of its own."""
    found: list[tuple[SecretExpiry | None, str | None]] = []

    async def read() -> None:
        secret = connector.secret(home)
        async with GraphClient(connector, secret, ClientSettings(max_attempts=3)) as client:
            found.append(await note_secret_expiry(client, connector, open_store(home), secret.get_secret_value()))

    try:
        asyncio.run(read())
    except Exception as error:  # noqa: BLE001 - e.g. the secret cannot be decrypted: reported, never fatal
        return None, f"client secret expiry not read: {str(error).splitlines()[0][:300]}"
    return found[0]


def days_left(expiry: SecretExpiry | None) -> float | None:
    if expiry is None or expiry.ends is None:
        return None
    return round((expiry.ends - dt.datetime.now(dt.UTC)).total_seconds() / 86400, 2)
