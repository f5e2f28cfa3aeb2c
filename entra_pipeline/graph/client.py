"""The Graph client the pipeline uses: msgraph-sdk's request adapter and middleware
(authentication, redirects, telemetry headers) with bulk responses read as raw JSON.

msgraph-sdk's typed models cost ~6 ms per user object to deserialize; `json.loads` of the
same page costs microseconds. Retries are ours (retry.py, the policy the Qualys client follows too), not kiota's: kiota's
RetryHandler does not retry 500/502 and gives up when Retry-After is 180 s or more.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import RedirectHandlerOption, ResponseHandlerOption, RetryHandlerOption
from msgraph import GraphRequestAdapter
from msgraph_core import GraphClientFactory

from .. import redact
from ..config import Connector
from ..killpoints import checkpoint
from ..retry import Attempts, RetryPolicy
from . import decode
from .auth import (
    TokenEndpointError,
    TokenSource,
    graph_host_name,
    tls_context,
    unreachable_cause,
    unreachable_message,
    without_reprs,
)
from .decode import readable

log = logging.getLogger(__name__)

REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
# Which part of a plan a request belongs to, so each asset can report its own Graph cost.
PART: contextvars.ContextVar[str] = contextvars.ContextVar("graph_part", default="other")


class GraphError(Exception):
    """A Graph request that failed for good. Carries status and Graph's error code."""

    def __init__(self, status: int, code: str, message: str, url: str) -> None:
        super().__init__(redact.mask(f"{status} {code}: {message} ({url.split('?')[0]})"))
        self.status, self.code, self.message, self.url = status, code, redact.mask(message), url

    @property
    def gone(self) -> bool:
        """The object the request names does not exist (any more): Graph's answer for a deleted object."""
        return self.status == 404 and self.code in ("Request_ResourceNotFound", "ResourceNotFound")


class GraphPagingError(GraphError):
    pass


class TokenError(GraphError):
    """No token to call Graph with; the message says where and what to check."""

    def __init__(self, error: TokenEndpointError, url: str) -> None:
        Exception.__init__(self, str(error))
        self.status, self.code, self.message, self.url = 0, "TokenEndpoint", str(error), url


class Unreachable(GraphError):
    """No answer from Graph after every attempt: the endpoint, not one request, is the problem."""

    def __init__(self, origin: str, cause: str, attempts: int, url: str) -> None:
        message = unreachable_message("Graph", origin, cause) + f" ({attempts} attempts)"
        Exception.__init__(self, message)
        self.status, self.code, self.message, self.url = 0, "Unreachable", message, url


def transport_cause(error: BaseException, page_timeout: float) -> str:
    """A request that got no answer, in words (the retry lines and the final error name it)."""
    if isinstance(error, (asyncio.TimeoutError, httpx.TimeoutException)):
        return f"no answer within {page_timeout:g} s"
    cause = unreachable_cause(error)
    if cause:
        return cause
    if isinstance(error, httpx.RemoteProtocolError):
        return "the connection closed before a whole answer arrived"
    return "the connection failed: " + (without_reprs(redact.mask(str(error)))[:200] or "no detail")


class ForeignOrigin(GraphError):
    """A link or redirect to anywhere but the configured Graph endpoint: not followed, the token
    is for that endpoint only."""


class ResponseTooLarge(Exception):
    pass


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = 0
        async for chunk in self.inner:
            read += len(chunk)
            if read > self.limit:
                raise ResponseTooLarge(f"the answer is larger than {self.limit // 2**20} MiB")
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class SizeLimitedTransport(httpx.AsyncBaseTransport):
    """No answer may bring more than `limit` bytes, framed or not: a runaway or hostile upstream
    ends with a clear error instead of exhausting memory (the largest real Graph page we ask
    for, 999 objects, is a few MiB)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        response.stream = _CappedStream(response.stream, self.limit)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class GraphStats:
    requests: int = 0
    resource_units: int = 0
    throttled: int = 0
    retries: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {
            "graph_requests": self.requests,
            "resource_units": self.resource_units,
            "throttled_429": self.throttled,
            "retries": self.retries,
        }


@dataclass
class ClientSettings:
    concurrency: int = 16
    page_timeout: float = 120.0  # seconds for one page, end to end
    max_attempts: int = 8  # per request, for 5xx and transport errors
    max_throttle_wait: float = 900.0  # total seconds one request may spend waiting on 429s
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_response_bytes: int = 64 * 2**20

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            max_throttle_wait=self.max_throttle_wait,
        )


def _resource_units(response: httpx.Response) -> int:
    """What Graph charged; a value that is not a number (a hostile or broken upstream) counts as 0
    rather than failing a page that arrived whole."""
    value = response.headers.get("x-ms-resource-unit", "0")
    return int(value) if value.isascii() and value.isdigit() else 0


def origin_of(url: str) -> str:
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(not a URL)"
    return f"{parts.scheme}://{parts.netloc.decode('ascii')}".lower()


def error_of(content: bytes) -> tuple[str, str]:
    """The code and message of an error answer, whatever its shape: Graph's
    `{"error": {"code", "message"}}`, OAuth's `{"error": "...", "error_description": "..."}`
    (identity endpoints, gateways), or any other body (HTML, text, a JSON list) as text."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return readable(str(error.get("code") or "")), readable(str(error.get("message") or ""))
        if isinstance(error, str):
            return readable(error), readable(str(body.get("error_description") or body.get("message") or ""))
        if isinstance(body.get("message"), str):
            return "", readable(body["message"])
    return "", readable(content.decode("utf-8", "replace")) or "(empty body)"


class GraphClient:
    def __init__(self, connector: Connector, secret, settings: ClientSettings | None = None) -> None:
        self.connector = connector
        self.settings = settings or ClientSettings()
        self.base = f"{connector.graph_host}/v1.0"
        self.stats = GraphStats()
        self.part_stats: dict[str, GraphStats] = {}
        self._secret = secret
        transport = httpx.AsyncHTTPTransport(
            verify=tls_context(connector), limits=httpx.Limits(max_connections=self.settings.concurrency * 2)
        )
        self._http = httpx.AsyncClient(
            transport=SizeLimitedTransport(transport, self.settings.max_response_bytes),
            timeout=httpx.Timeout(self.settings.page_timeout, connect=30),
        )
        self.origin = origin_of(self.base)
        self.repairs: list[decode.Repair] = []  # objects whose text was repaired on the way in
        self.tokens = TokenSource(connector, secret)
        auth = AzureIdentityAuthenticationProvider(
            self.tokens, scopes=[self.connector.graph_scope], allowed_hosts=[graph_host_name(self.connector)]
        )
        self._adapter = GraphRequestAdapter(auth, GraphClientFactory.create_with_default_middleware(client=self._http))
        self._adapter.base_url = self.base
        self.gate = asyncio.Semaphore(self.settings.concurrency)

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.tokens.close()

    def url(self, path: str) -> str:
        """The URL of a path, or an absolute link (nextLink, deltaLink) if it names the configured
        Graph endpoint; any other origin is refused before anything is sent there."""
        if "://" not in path:
            return f"{self.base}{path}"
        if not self.ours(path):
            raise ForeignOrigin(
                0,
                "ForeignOrigin",
                f"a link names {origin_of(path)}, not the configured Graph "
                f"endpoint {self.origin}: not followed (a proxy or gateway rewriting links?)",
                path,
            )
        return path

    def ours(self, link: str) -> bool:
        return origin_of(link) == self.origin

    # ---------------------------------------------------------------- one request
    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        info = RequestInformation(Method.GET, url)
        info.url = url
        for name, value in headers.items():
            info.headers.add(name, value)
        info.add_request_options(
            [
                ResponseHandlerOption(NativeResponseHandler()),
                RetryHandlerOption(max_retries=0, should_retry=False),
                RedirectHandlerOption(should_redirect=False),
            ]
        )  # ours: same origin only
        return await asyncio.wait_for(self._adapter.send_primitive_async(info, "bytes", {}), self.settings.page_timeout)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> dict:
        """GET one URL and return its JSON, retrying what is worth retrying."""
        url = self.url(path)
        attempts, renewals, redirects = Attempts(self.settings.retry), 0, 0
        while True:
            attempt = attempts.start()
            try:
                async with self.gate:
                    generation = self.tokens.generation
                    response = await self._send(url, headers or {})
                self._count(response)
            except TokenEndpointError as error:
                raise TokenError(error, url) from None
            except ResponseTooLarge as error:  # the same request would bring the same again
                raise GraphError(0, "ResponseTooLarge", f"{error}: not read further", url) from None
            except (TimeoutError, httpx.TransportError) as error:
                delay = attempts.after_transport_error()
                cause = transport_cause(error, self.settings.page_timeout)
                if delay is None:
                    raise Unreachable(self.origin, cause, attempt, url) from None
                await self._wait(url, delay, attempt, cause)
                continue
            if response.status_code == 200:
                try:
                    page, repairs = decode.load(response.content, httpx.URL(url).path.removeprefix("/v1.0"))
                    if not isinstance(page, dict):  # Graph answers an object; the same request brings the same
                        raise GraphError(
                            200, "NotAnObject", f"the body is JSON but a {type(page).__name__}, not an object", url
                        )
                    self.repairs.extend(repairs)
                    return page
                except RecursionError:  # valid JSON, nested deeper than any Graph object
                    raise GraphError(
                        200,
                        "JsonTooDeep",
                        f"the body nests deeper than the JSON parser allows ({sys.getrecursionlimit()} levels)",
                        url,
                    ) from None
                except json.JSONDecodeError:
                    delay = attempts.after_failure()
                    if delay is None:
                        raise GraphError(200, "MalformedJson", "the body is not JSON", url) from None
                    await self._wait(url, delay, attempt, "malformed JSON body")
                    continue
            if response.status_code in REDIRECTS and redirects < MAX_REDIRECTS:
                redirects += 1
                url = self._redirected(url, response)
                continue
            if (
                response.status_code == 401
                and renewals < 3
                and error_of(response.content)[0] == "InvalidAuthenticationToken"
            ):
                renewals += 1
                await self.tokens.renew(generation)
                continue
            delay = attempts.after_status(response.status_code, response.headers)
            if delay is not None:
                await self._wait(url, delay, attempt, str(response.status_code))
                continue
            raise self._error(response, url)

    def _part(self) -> GraphStats:
        return self.part_stats.setdefault(PART.get(), GraphStats())

    def _count(self, response: httpx.Response) -> None:
        units = _resource_units(response) if response.status_code == 200 else 0
        for stats in (self.stats, self._part()):
            stats.requests += 1
            stats.resource_units += units
            stats.throttled += response.status_code == 429

    async def _wait(self, url: str, delay: float, attempt: int, reason: str) -> None:
        for stats in (self.stats, self._part()):
            stats.retries += 1
        log.info("retrying %s in %.1fs after %s (attempt %d)", url.split("?")[0], delay, reason, attempt)
        await asyncio.sleep(delay)

    def _redirected(self, url: str, response: httpx.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise GraphError(response.status_code, "RedirectWithoutLocation", "a redirect without a Location", url)
        try:
            target = str(httpx.URL(url).join(location))
        except httpx.InvalidURL:
            raise GraphError(response.status_code, "BadRedirect", "the redirect's Location is not a URL", url) from None
        if not self.ours(target):
            raise ForeignOrigin(
                response.status_code,
                "ForeignRedirect",
                f"redirected to {origin_of(target)}, not the configured Graph endpoint {self.origin}: not followed",
                url,
            )
        return target

    @staticmethod
    def _error(response: httpx.Response, url: str) -> GraphError:
        return GraphError(response.status_code, *error_of(response.content), url)

    # ---------------------------------------------------------------- listings
    async def pages(
        self, path: str, headers: dict[str, str] | None = None, on_restart: Callable[[], None] | None = None
    ) -> AsyncIterator[dict]:
        """Every page of a listing, following nextLinks. A nextLink seen three times is a loop
        (an error, not an endless run); an expired page token restarts the listing from its first
        page (`on_restart` tells the caller to drop what it collected)."""
        first = self.url(path)
        url: str | None = first
        visits: Counter = Counter()
        restarts = 0
        while url:
            visits[url] += 1
            if visits[url] > 3:
                raise GraphPagingError(0, "NextLinkLoop", "the listing's nextLink keeps pointing back", url)
            try:
                page = await self.get(url, headers)
            except GraphError as error:
                if error.code == "Directory_ExpiredPageToken" and restarts < 3:
                    restarts += 1
                    log.warning("page token expired in %s: restarting the listing", first.split("?")[0])
                    if on_restart:
                        on_restart()
                    url, visits = first, Counter()
                    continue
                raise
            checkpoint("graph:page")  # a kill test can stop the run in the middle of the pull
            log.debug(
                "page of %s",
                first.split("?")[0],
                extra={"progress": ("pull", first.split("?")[0].split("/v1.0", 1)[-1], len(page.get("value", [])))},
            )
            yield page
            url = page.get("@odata.nextLink")
            if url is not None and not isinstance(url, str):
                raise GraphPagingError(200, "BadNextLink", "the page's @odata.nextLink is not a URL", first)

    async def all_pages(self, path: str, headers: dict[str, str] | None = None) -> tuple[list[dict], str | None]:
        """All items of a listing (deduplicated by id when items have one) and its deltaLink, if any."""
        items: dict[object, dict] = {}
        delta_link = None

        def restart() -> None:
            items.clear()

        async for page in self.pages(path, headers, on_restart=restart):
            for index, item in enumerate(page.get("value", [])):
                items[item.get("id", (id(page), index)) if isinstance(item, dict) else (id(page), index)] = item
            delta_link = page.get("@odata.deltaLink", delta_link)
        return list(items.values()), delta_link
