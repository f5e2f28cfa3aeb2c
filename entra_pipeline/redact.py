"""Secrets masked in every text the project produces: log lines, error texts, run-failure
reasons, status documents and metadata.

The process remembers each secret it holds (client secrets and Qualys credentials when they
are resolved, access tokens when the identity platform issues them) and `mask` replaces them,
and anything shaped like a credential (`client_secret=...`, `Bearer ...`) that a token
endpoint or proxy echoes back. `install` masks every log record as it is created, so third-party
loggers (azure-identity logs a failed token request with the endpoint's answer) are covered too.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "********"
_MIN_LENGTH = 6  # shorter "secrets" (a test's "x") would mask ordinary words
_CREDENTIAL_SHAPES = (
    # form fields and query parameters: client_secret=..., password=..., access_token=...
    re.compile(
        r"(?i)\b((?:client_secret|client_assertion|password|passwd|access_token|refresh_token|"
        r"id_token|assertion|api[_-]?key)=)[^&\s\"']+"
    ),
    # storage connection strings and SAS tokens: AccountKey=...; SharedAccessSignature=...; sig=...
    re.compile(r"(?i)\b((?:accountkey|sharedaccesssignature|sig)=)[^;&\s\"']+"),
    # the same as JSON members
    re.compile(
        r"(?i)(\"(?:client_secret|client_assertion|password|access_token|refresh_token|id_token)\"\s*:\s*\")"
        r"(?:[^\"\\]|\\.)*"
    ),
    # Authorization: Bearer <token> / Basic <credentials>
    re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{20,}"),  # not "Basic authentication"
)

_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def remember(secret: str | None) -> None:
    """Mask `secret` from now on in this process (also URL-encoded, as forms and URLs carry it)."""
    global _pattern
    if not secret or len(secret) < _MIN_LENGTH:
        return
    encoded = {quote_plus(secret), quote(secret, safe="")}
    forms = {secret, *encoded, *(form.replace("~", "%7E") for form in encoded)}  # older encoders escape ~
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        # longest first, so a secret that contains another is masked whole
        _pattern = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)))


def mask(text: str) -> str:
    if _pattern is not None:
        text = _pattern.sub(MASK, text)
    for shape in _CREDENTIAL_SHAPES:
        text = shape.sub(lambda found: found.group(1) + MASK, text)
    return text


def mask_value(value: object) -> object:
    """`mask` applied to every string in a metadata value (dicts, lists, tuples)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(inner) for inner in value)
    return value


_installed = False


def install() -> None:
    """Mask every log record this process creates, whichever logger and handler it goes to."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is logging's to report, not ours
            return record
        clean = mask(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(masked_record)
