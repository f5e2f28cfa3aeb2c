"""The simulator's request pipeline: identity endpoints, Graph (faults, authentication,
permissions, throttling, handler, headers), JSON batching, and the /_sim admin API."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urlsplit

from .faults import TOKEN_FAULTS, Faults, foreign_origin, odd_error
from .graph_api import Call, GraphApi
from .http import REASONS, Request, Response, json_bytes
from .identity import IdentityPlatform, server_error
from .odata import GraphError, error_body
from .throttle import Throttle, request_cost
from .tokens import TokenError, TokenSigner

GRAPH_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
BATCH_LIMIT = 20
FRONT_DOOR_FAULTS = {
    "500",
    "502",
    "503",
    "504",
    "reset",
    "slow",
    "429",
    "429-no-retry-after",
    "odd-error",
    "foreign-redirect",
}
IN_BATCH_FAULTS = {"500", "502", "503", "504", "429", "429-no-retry-after"}
# Routes whose path names an object, and that object's kind: `vanish` deletes it.
OBJECT_ROUTES = {
    "/users/{id}": "user",
    "/groups/{id}": "group",
    "/servicePrincipals/{id}": "servicePrincipal",
    "/directoryRoles/{id}": "directoryRole",
    "/directory/administrativeUnits/{id}": "administrativeUnit",
}


@dataclass
class GraphResult:
    status: int
    payload: dict | None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str | None = None
    raw: bytes | None = None  # a body that is deliberately not JSON
    foreign: bool = False  # not Graph's answer (a proxy's): none of Graph's headers; a None header is dropped


@dataclass
class EndpointStats:
    requests: int = 0
    resource_units: int = 0
    throttled: int = 0
    statuses: Counter = field(default_factory=Counter)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cpu_now = 0.0  # the server thread's own thread_time(), read there after each request
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.started = time.monotonic()
            self.cpu_at_reset = self.cpu_now  # reset may run on any thread: it only moves the baseline
            self.http_requests = 0
            self.graph_requests = 0
            self.batch_items = 0
            self.resource_units = 0
            self.throttled = 0
            self.bytes_served = 0
            self.faults = Counter()
            self.endpoints: dict[str, EndpointStats] = defaultdict(EndpointStats)
            self.ru_by_second: Counter[int] = Counter()  # admitted RU per second since reset

    def record(self, route: str, status: int, cost: int, throttled: bool) -> None:
        with self._lock:
            self.graph_requests += 1
            endpoint = self.endpoints[route]
            endpoint.requests += 1
            endpoint.statuses[str(status)] += 1
            if throttled:
                self.throttled += 1
                endpoint.throttled += 1
            else:
                self.resource_units += cost
                endpoint.resource_units += cost
                self.ru_by_second[int(time.monotonic() - self.started)] += cost

    def snapshot(self, tokens_issued: int) -> dict:
        with self._lock:
            wall = time.monotonic() - self.started
            cpu = self.cpu_now - self.cpu_at_reset
            return {
                "http_requests": self.http_requests,
                "graph_requests": self.graph_requests,
                "batch_items": self.batch_items,
                "resource_units": self.resource_units,
                "throttled": self.throttled,
                "faults_injected": dict(self.faults),
                "bytes_served": self.bytes_served,
                "tokens_issued": tokens_issued,
                "wall_seconds": round(wall, 3),
                "cpu_seconds": round(cpu, 3),
                "cpu_share": round(cpu / wall, 4) if wall > 0 else 0.0,
                "peak_ru_per_10s": _peak_window(self.ru_by_second, 10),
                "endpoints": {
                    name: {
                        "requests": e.requests,
                        "resource_units": e.resource_units,
                        "throttled": e.throttled,
                        "statuses": dict(e.statuses),
                    }
                    for name, e in sorted(self.endpoints.items())
                },
            }


def _peak_window(per_second: Counter[int], seconds: int) -> int:
    """The most RU admitted in any `seconds` consecutive whole seconds (Graph's budget is per 10 s)."""
    if not per_second:
        return 0
    last = max(per_second)
    return max(sum(per_second.get(t, 0) for t in range(start, start + seconds)) for start in range(last + 1))


_json = json_bytes
HTML_502 = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def _odd_error(status: int, shape: str) -> GraphResult:
    """An error as an OAuth endpoint, a proxy or a gateway answers it: not Graph's
    {"error": {"code", "message"}} envelope."""
    reason = REASONS.get(status, "Error")
    content_type: str | None = "application/json"
    if shape == "oauth":
        body = _json(
            {
                "error": reason.lower().replace(" ", "_"),
                "error_description": f"{status} {reason} (injected: not Graph's error shape)",
            }
        )
    elif shape == "html":
        body, content_type = f"<html><body><h1>{status} {reason}</h1></body></html>".encode(), "text/html"
    elif shape == "empty":
        body, content_type = b"", None
    else:
        body = {"string": b'"upstream failure"', "list": b"[]", "null": b"null"}[shape]
    return GraphResult(status, None, {"Content-Type": content_type}, raw=body, foreign=True)


def _invalid_utf8(result: GraphResult) -> None:
    """A broken proxy's doing: raw bytes FF FE (never valid UTF-8) at the end of the page's first
    object's displayName, inside the JSON string."""
    items = result.payload["value"]
    marker = "\u0001invalid-utf8\u0001"
    first = {**items[0], "displayName": str(items[0].get("displayName") or "") + marker}
    body = _json({**result.payload, "value": [first, *items[1:]]})
    result.raw = body.replace(_json(marker)[1:-1], b"\xff\xfe", 1)


def _make_hostile(result: GraphResult, fault) -> None:
    """Answers no real Graph gives: a page too big to hold, JSON nested past any parser's depth,
    headers with control characters (h11 passes ESC, DEL and 0x01 on to the client; a NUL it
    refuses as a broken answer)."""
    if fault.kind == "control-header":  # ARG "nul": a NUL, which HTTP/1.1 parsers refuse outright
        result.headers["x-ms-ags-diagnostic"] = '{"ServerInfo":\x01\x1b[31m\x7f}'
        result.headers["x-ms-resource-unit"] = "1\x1b[2J" if fault.arg != "nul" else "1\x00"
        return
    if fault.kind == "oversized":
        body = _json(result.payload)
        padding = int(float(fault.arg or 110) * 2**20) - len(body)
        # Still valid JSON, and sent without a length (until the connection closes), as a proxy
        # streaming a runaway answer would: only a cap on what the client reads bounds its memory.
        result.raw, result.action = body[:1] + b" " * max(0, padding) + body[1:], "unframed"
        return
    items = (result.payload or {}).get("value") or [{}]
    marker = "\u0000nested\u0000"
    first = {**items[0], "displayName": marker}
    body = _json({**result.payload, "value": [first, *items[1:]]})
    depth = int(fault.arg or 100_000)
    result.raw = body.replace(_json(marker), b"[" * depth + b"]" * depth, 1)


class SimulatorApp:
    def __init__(
        self,
        *,
        api: GraphApi,
        identity: IdentityPlatform,
        signer: TokenSigner,
        throttle: Throttle,
        faults: Faults,
        stats: Stats,
        clock: Callable,
        latency: float,
        seed: int,
        admin: Callable[[Request], Response],
    ) -> None:
        self.api = api
        self.tenant = api.tenant
        self.identity = identity
        self.signer = signer
        self.throttle = throttle
        self.faults = faults
        self.stats = stats
        self.clock = clock
        self.latency = latency
        self.admin = admin
        self.origin = ""  # https://127.0.0.1:port, set once the port is known
        self.tokens_not_before = 0.0  # tokens issued earlier answer 401 expired
        self._rng = random.Random(seed)

    async def __call__(self, request: Request) -> Response:
        response = self.handle(request)
        self.stats.http_requests += 1
        self.stats.bytes_served += len(response.body)
        self.stats.cpu_now = time.thread_time()  # the server thread's own CPU, for the benchmarks
        return response

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sim/") or path == "/_sim":
            return self.admin(request)
        if path.startswith("/v1.0/") or path == "/v1.0":
            return self._graph_response(request)
        return self._identity_response(request)

    # ---------------------------------------------------------------- identity
    def _identity_response(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 2:
            tenant, rest = parts[0], "/".join(parts[1:])
            result = None
            if request.method == "GET" and rest == "v2.0/.well-known/openid-configuration":
                result = self.identity.openid_configuration(self.origin, tenant)
            elif request.method == "GET" and rest == "discovery/v2.0/keys":
                return self._plain(200, self.signer.jwks())
            elif request.method == "POST" and rest in ("oauth2/v2.0/token", "oauth2/token"):
                version = 2 if rest == "oauth2/v2.0/token" else 1
                fault = self.faults.pick(request.path, None, TOKEN_FAULTS)
                if fault is not None:
                    self.stats.faults[fault.kind] += 1
                    if fault.kind != "token-hang":
                        return self._token_fault(fault.kind, request, version)
                result = self.identity.token(
                    self.origin, tenant, request.body, request.headers.get("authorization"), version=version
                )
                if fault is not None:  # token-hang: the real answer, late (the connection's own wait)
                    return self._plain(result.status, result.body, delay=self.latency + float(fault.arg or 600))
            if result is not None:
                return self._plain(result.status, result.body, delay=self.latency)
        return self._plain(404, {"error": "not_found", "error_description": f"No such endpoint: {request.path}"})

    def _token_fault(self, kind: str, request: Request, version: int) -> Response:
        if kind == "token-500":
            result = server_error()
            return self._plain(result.status, result.body, delay=self.latency)
        if kind == "token-no-access-token":
            lifetime = self.identity.token_lifetime
            body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime}
            if version == 1:
                body = {key: str(value) if key != "token_type" else value for key, value in body.items()}
            return self._plain(200, body, delay=self.latency)
        if kind == "token-echo":  # what a proxy that "helpfully" reflects the request does
            return self._plain(
                400,
                {"error": "invalid_client", "error_description": request.body.decode("utf-8", "replace")},
                delay=self.latency,
            )
        return Response(502, HTML_502, {"Content-Type": "text/html"}, delay=self.latency)  # token-html

    @staticmethod
    def _plain(status: int, payload: dict, delay: float = 0.0) -> Response:
        return Response(
            status,
            _json(payload),
            {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store, no-cache"},
            delay=delay,
        )

    # ---------------------------------------------------------------- graph
    def _graph_response(self, request: Request) -> Response:
        result = self.graph(request, in_batch=False)
        if result.foreign:  # a proxy's answer: none of Graph's headers, and a None header dropped
            headers = {"Content-Type": GRAPH_CONTENT_TYPE, "Date": formatdate(usegmt=True), **result.headers}
            headers = {name: value for name, value in headers.items() if value is not None}
        else:
            headers = {"Content-Type": GRAPH_CONTENT_TYPE, **self._standard_headers(request), **result.headers}
        body = result.raw if result.raw is not None else (_json(result.payload) if result.payload is not None else b"")
        return Response(result.status, body, headers, delay=self.latency + result.delay, action=result.action)

    def _standard_headers(self, request: Request) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        return {
            "request-id": request_id,
            "client-request-id": request.headers.get("client-request-id", request_id),
            "x-ms-ags-diagnostic": '{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"5",'
            '"ScaleUnit":"000","RoleInstance":"SIM"}}',
            "Strict-Transport-Security": "max-age=31536000",
            "Cache-Control": "no-cache",
            "OData-Version": "4.0",
            "Date": formatdate(usegmt=True),
        }

    def _error(self, request: Request, error: GraphError) -> GraphResult:
        return GraphResult(
            error.status,
            error_body(error.code, error.message, request.headers.get("client-request-id")),
            dict(error.headers),
        )

    def graph(self, request: Request, in_batch: bool) -> GraphResult:
        """Answer one Graph request (or one $batch item), recording it in the stats."""
        path = request.path[len("/v1.0") :] or "/"
        if request.method == "POST" and path.rstrip("/").lower() == "/$batch" and not in_batch:
            return self._batch(request)
        with self.tenant.lock:
            matched = self.api.match(request.method, path)
            route_name = f"{request.method} {matched[0].name}" if matched else f"{request.method} (unknown)"
            result, cost, throttled = self._graph_inner(request, path, matched, in_batch)
        self.stats.record(route_name, result.status, cost, throttled)
        if in_batch:
            self.stats.batch_items += 1
        return result

    def _graph_inner(self, request: Request, path: str, matched, in_batch: bool) -> tuple[GraphResult, int, bool]:
        entity = matched[0].entity if matched else None
        delay = 0.0
        fault = self.faults.pick(path, entity, IN_BATCH_FAULTS if in_batch else FRONT_DOOR_FAULTS)
        if fault is not None:
            self.stats.faults[fault.kind] += 1
            if fault.kind == "reset":
                return GraphResult(0, None, action="reset"), 0, False
            if fault.kind == "slow":
                delay = float(fault.arg or 60)
            elif fault.kind == "odd-error":
                return _odd_error(*odd_error(fault.arg)), 0, False
            elif fault.kind == "foreign-redirect":
                location = foreign_origin(fault.arg, self.origin) + request.target
                redirect = GraphResult(307, None, {"Location": location, "Content-Type": None}, raw=b"", foreign=True)
                return redirect, 0, False
            elif fault.kind in ("429", "429-no-retry-after"):
                headers = {"Retry-After": fault.arg or "1"} if fault.kind == "429" else {}
                return GraphResult(429, error_body("TooManyRequests", "Too many requests."), headers), 0, True
            else:
                status = int(fault.kind)
                code = {
                    500: "InternalServerError",
                    502: "BadGateway",
                    503: "ServiceUnavailable",
                    504: "GatewayTimeout",
                }[status]
                return (
                    GraphResult(status, error_body(code, "The service is temporarily unavailable (injected).")),
                    0,
                    False,
                )
        try:
            claims = self._authenticate(request)
            if matched is None:
                if self.api.path_exists(path):
                    raise GraphError(
                        405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
                    )
                raise GraphError(
                    400, "BadRequest", f"Resource not found for the segment '{path.strip('/').split('/')[0]}'."
                )
            route, params = matched
            granted = set(claims.get("roles", ()))
            forbidden = self.faults.pick(path, entity, {"forbidden"})
            if forbidden:
                self.stats.faults[forbidden.kind] += 1
            if forbidden or not granted.intersection(route.permissions):
                raise GraphError(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            cost = request_cost(route.base_cost, request.query)
            decision = self.throttle.charge(claims["appid"], claims["tid"], cost)
            if not decision.allowed:
                return self._throttled(claims, decision.retry_after, cost), cost, True
            if request.query.get("$skiptoken") and (f := self.faults.pick(path, entity, {"expired-page-token"})):
                self.stats.faults[f.kind] += 1
                raise GraphError(
                    400,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            target = self._named_object(route.name, params) if self.faults.has("vanish") else None
            if target is not None and (f := self.faults.pick(path, entity, {"vanish"})):
                self.stats.faults[f.kind] += 1
                self.tenant.vanish(target)  # the handler below then answers 404, as for any missing object
            payload = route.handler(self.api, Call(path, request.query, request.headers, f"{self.origin}/v1.0", params))
        except GraphError as error:
            result = self._error(request, error)
            result.delay = delay
            return result, 0, False
        headers = {"x-ms-resource-unit": str(cost)}
        if decision.limit_percentage is not None:
            headers["x-ms-throttle-limit-percentage"] = f"{decision.limit_percentage:.2f}"
        result = GraphResult(200, payload, headers, delay=delay)
        self._post_faults(request, path, entity, result, in_batch)
        return result, cost, False

    def _post_faults(
        self, request: Request, path: str, entity: str | None, result: GraphResult, in_batch: bool
    ) -> None:
        if "@odata.nextLink" in (result.payload or {}) and (f := self.faults.pick(path, entity, {"loop"})):
            self.stats.faults[f.kind] += 1
            result.payload["@odata.nextLink"] = f"{self.origin}{request.target}"
        for link, kind in (("@odata.nextLink", "foreign-next-link"), ("@odata.deltaLink", "foreign-delta-link")):
            if link in (result.payload or {}) and (f := self.faults.pick(path, entity, {kind})):
                self.stats.faults[f.kind] += 1
                result.payload[link] = self._on_origin(result.payload[link], foreign_origin(f.arg, self.origin))
        if in_batch:
            return
        if (result.payload or {}).get("value") and (f := self.faults.pick(path, entity, {"invalid-utf8"})):
            self.stats.faults[f.kind] += 1
            _invalid_utf8(result)
            return
        hostile = self.faults.pick(path, entity, {"oversized", "nested", "control-header"})
        if hostile is not None:
            self.stats.faults[hostile.kind] += 1
            _make_hostile(result, hostile)
            return
        fault = self.faults.pick(path, entity, {"truncated", "malformed"})
        if fault is not None:
            self.stats.faults[fault.kind] += 1
            body = _json(result.payload)
            if fault.kind == "truncated":
                result.raw, result.action = body, "truncate"
            else:
                result.raw = body[: max(1, len(body) // 3)] + b"<html>upstream error</html>"

    @staticmethod
    def _on_origin(link: str, origin: str) -> str:
        """The same link (path and query) on another origin."""
        parts = urlsplit(link)
        return origin + parts.path + (f"?{parts.query}" if parts.query else "")

    def _named_object(self, route_name: str, params: tuple[str, ...]) -> str | None:
        """The id of the existing object this route's path names (a user by id or UPN), if any."""
        for prefix, kind in OBJECT_ROUTES.items():
            if route_name == prefix or route_name.startswith(prefix + "/"):
                table = self.tenant.table(kind)
                if params[0] in table:
                    return params[0]
                if kind == "user":
                    key = params[0].lower()
                    return next(
                        (u["id"] for u in table.values() if u.get("userPrincipalName", "").lower() == key), None
                    )
                return None
        return None

    def _authenticate(self, request: Request) -> dict:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
                headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        try:
            claims = self.signer.verify(header[7:].strip())
        except TokenError as error:
            raise GraphError(401, "InvalidAuthenticationToken", str(error)) from None
        if claims.get("exp", 0) <= time.time() or claims.get("iat", 0) < self.tokens_not_before:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                headers={
                    "WWW-Authenticate": 'Bearer realm="", error="invalid_token", '
                    'error_description="The access token has expired"'
                },
            )
        if claims.get("tid") != self.tenant.tenant_id:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        return claims

    def _throttled(self, claims: dict, retry_after: int, cost: int) -> GraphResult:
        return GraphResult(
            429,
            error_body("TooManyRequests", "Too many requests."),
            {
                "Retry-After": str(retry_after),
                "x-ms-throttle-scope": f"Tenant_Application/ReadWrite/{claims['appid']}/{claims['tid']}",
                "x-ms-throttle-information": "ResourceUnitLimitExceeded",
                "x-ms-resource-unit": str(cost),
            },
        )

    # ---------------------------------------------------------------- $batch
    def _batch(self, request: Request) -> GraphResult:
        try:
            self._authenticate(request)
            try:
                items = json.loads(request.body or b"{}").get("requests")
            except (json.JSONDecodeError, AttributeError):
                raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
            if not isinstance(items, list) or not items:
                raise GraphError(400, "BadRequest", "Invalid batch payload format.")
            if len(items) > BATCH_LIMIT:
                raise GraphError(400, "BadRequest", f"The batch request contains more than {BATCH_LIMIT} requests.")
            ids = [str(item.get("id", "")).lower() for item in items]
            if "" in ids or len(set(ids)) != len(ids):
                raise GraphError(400, "BadRequest", "Batch request contains duplicate or missing request ids.")
        except GraphError as error:
            return self._error(request, error)
        by_id = {str(item["id"]).lower(): item for item in items}
        results: dict[str, dict] = {}

        def run(item_id: str) -> dict:
            if item_id in results:
                return results[item_id]
            item = by_id[item_id]
            depends = [str(d).lower() for d in item.get("dependsOn") or []]
            failed = [d for d in depends if d not in by_id or run(d)["status"] >= 400]
            if failed:
                results[item_id] = {
                    "id": item["id"],
                    "status": 424,
                    "body": error_body(
                        "FailedDependency", "The request could not be performed because of a failed dependency."
                    ),
                }
                return results[item_id]
            results[item_id] = self._batch_item(request, item)
            return results[item_id]

        for item_id in by_id:
            run(item_id)
        responses = list(results.values())
        self._rng.shuffle(responses)  # Graph does not keep request order
        return GraphResult(200, {"responses": responses})

    def _batch_item(self, outer: Request, item: dict) -> dict:
        url, method = str(item.get("url", "")), str(item.get("method", "GET")).upper()
        if url.lower().startswith("http"):
            status, body = 400, error_body("BadRequest", "Invalid request URI: batch request URLs must be relative.")
            return {"id": item["id"], "status": status, "body": body}
        headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        headers["authorization"] = outer.headers.get("authorization", "")
        target = "/v1.0" + (url if url.startswith("/") else "/" + url)
        body = json.dumps(item["body"]).encode() if "body" in item else b""
        result = self.graph(Request(method, target, headers, body), in_batch=True)
        item_headers = {
            "Content-Type": GRAPH_CONTENT_TYPE,
            "OData-Version": "4.0",
            "Cache-Control": "no-cache",
            **{k if k != "Retry-After" else "retry-after": v for k, v in result.headers.items()},
        }
        return {"id": item["id"], "status": result.status, "headers": item_headers, "body": result.payload}
