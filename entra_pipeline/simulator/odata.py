"""OData query handling the way Graph's directory endpoints do it: $select, $top, $filter
(the small `eq` subset), opaque page tokens and the error envelope."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

MAX_PAGE_SIZE = 999
DEFAULT_PAGE_SIZE = 100

_TOKEN_KEY = b"entra-pipeline-simulator"


class GraphError(Exception):
    """An error answered with Graph's error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_body(code: str, message: str, client_request_id: str | None = None) -> dict:
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def encode_token(payload: dict) -> str:
    """Opaque, tamper-evident page/delta token (clients must use links verbatim)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    mac = hmac.new(_TOKEN_KEY, raw, hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")


def decode_token(token: str, kind: str) -> dict:
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, raw = blob[:8], blob[8:]
        if not hmac.compare_digest(mac, hmac.new(_TOKEN_KEY, raw, hashlib.sha256).digest()[:8]):
            raise ValueError("bad mac")
        return json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise GraphError(
            400,
            "Request_BadRequest" if kind == "skip" else "BadRequest",
            f"The specified {'page' if kind == 'skip' else 'delta'} token value is not valid.",
        ) from exc


def parse_select(
    query: dict[str, str], kind_properties: tuple[str, ...] | set[str], type_name: str
) -> list[str] | None:
    raw = query.get("$select")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in kind_properties]
    if unknown:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.{type_name}'.",
        )
    return names


def parse_top(query: dict[str, str], default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise GraphError(400, "Request_BadRequest", f"Invalid value '{raw}' for query option $top.") from None
    if not 1 <= top <= MAX_PAGE_SIZE:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive.",
        )
    return top


def parse_filter(query: dict[str, str]) -> list[tuple[str, str]] | None:
    """`prop eq 'value' [or prop eq 'value' ...]` -> [(prop, value)]. Anything else is refused,
    as directory endpoints refuse most filters without advanced query headers."""
    raw = query.get("$filter")
    if raw is None:
        return None
    clauses = []
    for clause in raw.split(" or "):
        parts = clause.strip().split(" ", 2)
        if len(parts) != 3 or parts[1] != "eq" or not (parts[2].startswith("'") and parts[2].endswith("'")):
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified.")
        clauses.append((parts[0], parts[2][1:-1].replace("''", "'")))
    return clauses


def matches(obj: dict, clauses: list[tuple[str, str]] | None) -> bool:
    return clauses is None or any(str(obj.get(prop)) == value for prop, value in clauses)


def project(
    obj: dict,
    select: list[str] | None,
    default: tuple[str, ...] | None,
    *,
    omit_unset: bool = False,
    available: tuple[str, ...] | None = None,
) -> dict:
    """The JSON a client sees for `obj`.

    `select` wins; else `default` (a type's default property set) or, when there is none,
    every stored property. Unset properties come back as null, except in delta where a
    property never set is omitted (`omit_unset`). `available` limits mixed collections to
    the properties the item's own type has.
    """
    names = select if select is not None else (default if default is not None else tuple(obj))
    if "id" not in names:
        names = ["id", *names]
    result = {}
    for name in names:
        if available is not None and name not in available:
            continue
        if name in obj:
            result[name] = obj[name]
        elif not omit_unset:
            result[name] = None
    return result


def context_url(base: str, entity_set: str, select: list[str] | None) -> str:
    suffix = f"({','.join(select)})" if select else ""
    return f"{base}/$metadata#{entity_set}{suffix}"
