"""A small HTTP/1.1 server on asyncio streams, over TLS.

Small on purpose: the simulator needs control that frameworks hide (resetting a
connection, cutting a body short, answering late) and must stay cheap enough per request
that benchmarks measure the client, not the server.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    411: "Length Required",
    413: "Payload Too Large",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    method: str
    target: str  # as sent: path?query
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    action: str | None = None  # "reset": close without answering; "truncate": send half the body;
    # "unframed": no Content-Length, the body ends with the connection


Handler = Callable[[Request], Awaitable[Response]]


def json_bytes(payload: object) -> bytes:
    """JSON as UTF-8, the way Graph (.NET) writes it. A lone UTF-16 surrogate (a str may hold
    one: JSON's "\\ud800" escape decodes to it) cannot be UTF-8; "backslashreplace" writes it as
    the escape \\ud800 instead, which is exactly JSON's escape, since json.dumps only ever leaves
    such a code unit inside a string. Other text is untouched (and costs the same: the handler
    runs only on an unencodable character)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return None
    except asyncio.LimitOverrunError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise ValueError("request body too large")
        body = await reader.readexactly(length)
    return Request(method.upper(), target, headers, body)


async def _serve_connection(handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await _read_request(reader)
            if request is None:
                break
            response = await handler(request)
            if response.delay:
                await asyncio.sleep(response.delay)
            if response.action == "reset":
                writer.transport.abort()
                return
            head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}"]
            head += [f"{name}: {value}" for name, value in response.headers.items()]
            if response.action == "unframed":  # no length: the body ends when the connection closes
                head.append("Connection: close")
            else:
                head.append(f"Content-Length: {len(response.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            if response.action == "truncate":
                writer.write(response.body[: len(response.body) // 2])
                await writer.drain()
                writer.transport.abort()
                return
            writer.write(response.body)
            await writer.drain()
            if response.action == "unframed":  # closed gently: an abort would drop the body's tail
                writer.close()
                await writer.wait_closed()
                return
            if request.headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.transport.abort()


class Server:
    """A listening socket plus the connections it has open (closed on `close`)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext) -> int:
        self.server = await asyncio.start_server(
            self._accept, host, port, ssl=ssl_context, limit=MAX_HEADER_BYTES, backlog=512
        )
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections[task] = writer
        try:
            await _serve_connection(self.handler, reader, writer)
        finally:
            self.connections.pop(task, None)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.connections.values()):
            writer.transport.abort()  # ends each connection's read loop; no task is cancelled
        await asyncio.gather(*self.connections, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()
