"""Credentials for a connector: azure-identity's ClientSecretCredential against the
connector's cloud (or an explicit authority such as the simulator), TLS verified, with a
custom CA only when the connector names one; and `TokenSource`, the one place a run's access
tokens come from and are renewed."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
import ssl
import time
from urllib.parse import urlsplit

from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ClientSecretCredential
from pydantic import SecretStr

from .. import redact
from ..config import CLOUDS, Connector
from .decode import readable

log = logging.getLogger(__name__)

# Seconds one token request may take, retries included; a hung identity platform or proxy is
# then named as such instead of surfacing as retries of every Graph call.
TOKEN_TIMEOUT_ENV = "ENTRA_PIPELINE_TOKEN_TIMEOUT"
DEFAULT_TOKEN_TIMEOUT = 30.0
RENEW_SPACING = 1.0  # seconds between two renewals of a run's credential

KNOWN_AUTHORITIES = {login for login, _ in CLOUDS.values()}


def tls_context(connector: Connector) -> ssl.SSLContext:
    """Verification is always on; a CA bundle adds trust, it never removes checks."""
    if connector.ca_bundle:
        return ssl.create_default_context(cafile=str(connector.ca_bundle))
    return ssl.create_default_context()


def credential(connector: Connector, secret: SecretStr) -> ClientSecretCredential:
    options: dict = {"authority": connector.login_host}
    if connector.login_host not in KNOWN_AUTHORITIES:
        # Instance discovery asks login.microsoftonline.com about unknown hosts; an explicit
        # authority (simulator, proxy, sovereign endpoint) is trusted by configuration instead.
        options["disable_instance_discovery"] = True
    if connector.ca_bundle:
        options["connection_verify"] = str(connector.ca_bundle)
    # azure-core's default is 10 retries with up to 120 s between them: minutes before a broken
    # token endpoint is reported. Two retries ride out a blip; TokenSource bounds the total.
    options["retry_total"] = 2
    redact.remember(secret.get_secret_value())
    return ClientSecretCredential(connector.tenant_id, connector.client_id, secret.get_secret_value(), **options)


def graph_host_name(connector: Connector) -> str:
    return urlsplit(connector.graph_host).hostname or ""


def token_timeout() -> float:
    value = os.environ.get(TOKEN_TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_TOKEN_TIMEOUT
    except ValueError:
        raise ValueError(f"{TOKEN_TIMEOUT_ENV}={value!r} is not a number of seconds") from None


# errno -> what it means for the operator, for a connection that could not be made.
_CONNECT_ERRNOS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ETIMEDOUT: "connection timed out",
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _causes(error: BaseException):
    """The error and what it wraps: __cause__/__context__ (httpx, httpcore), azure-core's
    inner_exception and aiohttp's os_error / certificate_error."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        each = stack.pop()
        if each is None or id(each) in seen:
            continue
        seen.add(id(each))
        yield each
        stack += [
            each.__cause__,
            each.__context__,
            getattr(each, "inner_exception", None),
            getattr(each, "os_error", None),
            getattr(each, "certificate_error", None),
        ]


def unreachable_cause(error: BaseException) -> str | None:
    """Why no connection could be made, in our words, when that is what `error` is (the
    libraries wrap the socket's error two or three levels deep); None for any other error."""
    for each in _causes(error):
        if isinstance(each, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not trusted: {each.verify_message or 'verification failed'}"
        if isinstance(each, ssl.SSLError):
            return f"the TLS handshake failed: {each.reason or 'protocol error'}"
        if isinstance(each, socket.gaierror):
            return "its host name does not resolve (DNS)"
        if isinstance(each, OSError) and each.errno in _CONNECT_ERRNOS:
            return _CONNECT_ERRNOS[each.errno]
    return None


def without_reprs(text: str) -> str:
    """A library's message without the Python object reprs it embeds (aiohttp names its
    `ssl:<ssl.SSLContext object at 0x...>`): they say nothing to an operator."""
    return re.sub(r"\s*\S*<[\w.]+ object at 0x[0-9a-f]+>", "", text)


def unreachable_message(what: str, origin: str, cause: str) -> str:
    """`cannot reach <what> at <origin> (<cause>)` with what to check: on a loopback address
    that is the simulator (or a local proxy) not running."""
    host = urlsplit(origin).hostname or ""
    if host in LOOPBACK_HOSTS and cause in ("connection refused", "connection reset"):
        remedy = "is the simulator (or the local proxy) running?"
    elif "TLS" in cause:
        remedy = "check ca_bundle and any proxy that intercepts TLS"
    else:
        remedy = "check the host name, the network and any proxy in between"
    return f"cannot reach {what} at {origin} ({cause}): {remedy}"


class TokenEndpointError(Exception):
    """The identity platform did not issue a token: named as such, with a remedy."""


class TokenSource:
    """The credential every request of a run gets its token from (azure-identity's
    AsyncTokenCredential protocol, as kiota calls it).

    Renewing swaps in a new credential (a token Graph calls expired before its stated lifetime
    stays in the old credential's cache until then) but closes the old one only at the end:
    a request still fetching its token through it finishes, and none finds its transport
    closed. One token request at a time; a failure for good is remembered, so the run's other
    requests fail at once with the same reason instead of each waiting out the timeout."""

    def __init__(self, connector: Connector, secret: SecretStr, timeout: float | None = None) -> None:
        self.connector, self._secret = connector, secret
        self.timeout = token_timeout() if timeout is None else timeout
        self.generation = 0  # how many times the credential was renewed
        self._current = credential(connector, secret)
        self._retired: list[ClientSecretCredential] = []
        self._lock = asyncio.Lock()
        self._renewed_at = -RENEW_SPACING
        self._failed: TokenEndpointError | None = None

    async def get_token(self, *scopes: str, **options):
        if self._failed:
            raise self._failed
        async with self._lock:
            if self._failed:
                raise self._failed
            try:
                token = await asyncio.wait_for(self._current.get_token(*scopes, **options), self.timeout)
            except TimeoutError:
                self._failed = TokenEndpointError(
                    f"the identity platform at {self.connector.login_host} did not issue a token in "
                    f"{self.timeout:g} s: check the proxy and the authority host (login_endpoint)"
                )
            except Exception as error:  # noqa: BLE001 - e.g. a 200 without access_token: KeyError
                self._failed = TokenEndpointError(self._failure(error))
            if self._failed:
                raise self._failed
        redact.remember(token.token)
        return token

    def _failure(self, error: Exception) -> str:
        """Why no token was issued, in our words: the endpoint not reachable, the credentials
        refused, or an answer that is not a token."""
        cause = unreachable_cause(error)
        if cause:
            return unreachable_message("the identity platform", self.connector.login_host, cause)
        if isinstance(error, ClientAuthenticationError):
            return self._refused(error)
        what = (
            f"it has no {error.args[0]!r}"
            if isinstance(error, KeyError) and error.args
            else without_reprs(redact.mask(str(error)))[:200] or "no detail"
        )
        return (
            f"the identity platform at {self.connector.login_host} gave an answer that is not a token "
            f"({what}): check the authority host (login_endpoint) and any proxy in between"
        )

    def _refused(self, error: ClientAuthenticationError) -> str:
        answer = redact.mask(readable(str(error.message or error), 400))
        status = getattr(error.response, "status_code", None)
        where = f"the identity platform at {self.connector.login_host}"
        if status is not None and status >= 500:
            return f"{where} failed ({status}): {answer}: retry later; if it persists, check the proxy in between"
        if status is None:  # azure-identity could not read the answer as the identity platform's
            return (
                f"{where} gave an answer that is not a token ({answer}): check the authority host "
                "(login_endpoint) and any proxy in between"
            )
        return (
            f"{where} refused the credentials: {answer}: check tenant_id, client_id and the client secret "
            "(entra-pipeline connector add --replace)"
        )

    async def renew(self, seen_generation: int) -> None:
        """A new credential, once for all requests that saw the same refused token; at most one
        a second (RENEW_SPACING), so a token refused right after it was issued (Graph's clock
        ahead of the identity platform's, a revocation that second) is retried, not churned."""
        async with self._lock:
            if self.generation != seen_generation:
                return  # another request already renewed it: retry with the new one
            wait = self._renewed_at + RENEW_SPACING - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.generation += 1
            self._renewed_at = time.monotonic()
            self._retired.append(self._current)
            self._current = credential(self.connector, self._secret)
        log.warning("Graph refused the access token as expired: a new token is requested")

    async def close(self) -> None:
        for each in (*self._retired, self._current):
            await each.close()
        self._retired.clear()
