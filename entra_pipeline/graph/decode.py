"""What a Graph answer's body becomes: JSON whose every string can be stored, sent and printed.

Graph's JSON may carry text no UTF-8 consumer accepts: a lone UTF-16 surrogate (`"\\ud800"`,
what cutting an emoji in half produces; valid JSON, stored by Graph as given) or, from a broken
proxy, bytes that are not UTF-8. Parquet, the Qualys upload and the terminal all need UTF-8, so
the edge repairs such text once, with U+FFFD, and names each object it repaired. A string value
longer than `MAX_STRING` characters (no Entra property we read documents more than 1,024) is cut
to that length, so one hostile value cannot become megabytes in every record and search.
Policy and figures: docs/reliability.md, "Text Graph sends".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_STRING = 16_384  # characters per string value: 16x the longest documented Entra property we read
CUT_MARK = "\u2026"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_TAGS = re.compile(r"<[^>]{0,200}>")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Repair:
    """One object whose text was changed on the way in, and why."""

    source: str  # the listing, e.g. /users/delta
    object_id: str
    field: str
    reason: str  # "held a lone UTF-16 surrogate ..." | "was longer than ... characters ..."

    def __str__(self) -> str:
        return f"{self.source} object {self.object_id}: {self.field} {self.reason}"


def load(content: bytes, source: str = "") -> tuple[object, list[Repair]]:
    """The body as JSON, with the repairs it needed. Raises json.JSONDecodeError / RecursionError."""
    try:
        text = content.decode("utf-8")
        invalid_utf8 = False
    except UnicodeDecodeError:
        text, invalid_utf8 = content.decode("utf-8", "replace"), True
    value = json.loads(text)
    unicode_reason = None
    if invalid_utf8:
        unicode_reason = "was not valid UTF-8 on the wire: the bytes were replaced with U+FFFD"
    elif _SURROGATE_ESCAPE.search(content):  # cheap: only then can a decoded string hold a lone surrogate
        unicode_reason = "held a lone UTF-16 surrogate (half a character): replaced with U+FFFD"
    if unicode_reason is None and not _may_hold_long_string(content):
        return value, []  # nothing to repair: no value is walked (a page of expanded groups has ~2,000 members)
    return value, _repair_page(value, unicode_reason, source)


def _may_hold_long_string(content: bytes) -> bool:
    """Whether a string value can be longer than MAX_STRING: only if some stretch between two
    quotes is at least that long, or the page holds an escaped quote (a string's stretches are
    then not the string)."""
    if len(content) <= MAX_STRING:
        return False
    return b'\\"' in content or max(map(len, content.split(b'"'))) >= MAX_STRING


def _repair_page(value: object, unicode_reason: str | None, source: str) -> list[Repair]:
    repairs: list[Repair] = []
    items = value.get("value") if isinstance(value, dict) else None
    objects = items if isinstance(items, list) else [value]
    for item in objects:
        if not isinstance(item, dict):
            continue
        for key, field in item.items():
            kind = field.__class__
            # the common case inline: a short string needs nothing when the page's text is sound
            if kind is str and len(field) <= MAX_STRING and unicode_reason is None:
                continue
            if kind is not str and kind is not dict and kind is not list:
                continue
            fixed, reason = _repair(field, unicode_reason)
            if reason:
                item[key] = fixed  # an existing key: safe while iterating
                repairs.append(Repair(source, str(item.get("id", "(no id)")), key, reason))
    return repairs


def _repair(value: object, unicode_reason: str | None) -> tuple[object, str | None]:
    """The value with every string inside it repaired, and the first reason (None: unchanged)."""
    kind = value.__class__
    if kind is str:
        reason = None
        if unicode_reason and (_LONE_SURROGATE.search(value) or "\ufffd" in value):
            value, reason = _LONE_SURROGATE.sub("\ufffd", value), unicode_reason
        if len(value) > MAX_STRING:
            value = value[: MAX_STRING - 1] + CUT_MARK
            reason = reason or f"was longer than {MAX_STRING} characters: cut to {MAX_STRING}"
        return value, reason
    if kind is dict or kind is list:
        pairs = value.items() if kind is dict else enumerate(value)
        first = None
        for key, inner in list(pairs):
            fixed, reason = _repair(inner, unicode_reason)
            if reason:
                value[key] = fixed
                first = first or reason
        return value, first
    return value, None


def readable(text: str, limit: int = 300) -> str:
    """An error answer's text for a message: one line, no control characters, a gateway's HTML
    page reduced to its words."""
    if "<" in text:
        text = _TAGS.sub(" ", text)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]
