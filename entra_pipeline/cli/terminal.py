"""Text from the tenant, the inventory or the configuration, made safe to print on an operator's
terminal. A display name is whatever a tenant admin typed: escape sequences in it would clear
the screen, set the window title or forge lines of our own output. Every character a terminal
acts on instead of showing is printed escaped, so a value stays on its line and moves nothing;
`inventory export` still gives the exact value.

Escaped: C0 controls (tab, newline and carriage return too), DEL, C1 controls (U+0080-U+009F,
among them CSI U+009B and NEL U+0085), the Unicode line and paragraph separators, the bidi
controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and lone surrogates (which
would also crash the UTF-8 encoding of stdout). A backslash is printed as it is, so paths and
DOMAIN\\user names read as usual; the price is that `\\x1b` in the output may also be those
four characters in the value."""

from __future__ import annotations

from ..jsontext import json_text

# Short forms an operator recognises; every other escaped character is \xNN or \uNNNN.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_UNSAFE = (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *_BIDI, *range(0xD800, 0xE000))


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# str.translate: one pass over the text whatever it holds, no pattern to backtrack.
_SHOWN = {code: _escape(code) for code in _UNSAFE}
_IN_JSON = {code: f"\\u{code:04x}" for code in _UNSAFE}

# Characters of a value printed before the rest is left out; callers with a column pass less.
DISPLAY_LIMIT = 1000


def printable(value: object, limit: int | None = DISPLAY_LIMIT) -> str:
    """One value as one safe line: unsafe characters escaped; beyond `limit` characters of the
    value (counted before escaping) the rest is left out and the marker says how much."""
    text = value if isinstance(value, str) else str(value)
    left_out = len(text) - limit if limit is not None and len(text) > limit else 0
    shown = text[: len(text) - left_out].translate(_SHOWN)
    return f"{shown}... [{left_out} more characters]" if left_out else shown


def printable_lines(text: object, indent: str = "  ", limit: int | None = DISPLAY_LIMIT) -> str:
    """A message of our own that has lines by design (a check and its resolution, an exception's
    text) but may carry tenant text: each line made printable, and every line after the first
    indented, so no line of it can pass for a line of our own output."""
    # CRLF is a line break too: identity platform error descriptions end their lines so.
    lines = (text if isinstance(text, str) else str(text)).replace("\r\n", "\n").split("\n")
    return f"\n{indent}".join(printable(line, limit) for line in lines)


def printable_data(data: object, limit: int | None = DISPLAY_LIMIT) -> object:
    """Every string in plain data (keys too) made printable, numbers and the rest as they are:
    for text built from a whole set of facts, like `status`."""
    if isinstance(data, str):
        return printable(data, limit)
    if isinstance(data, dict):
        return {printable_data(key, limit): printable_data(value, limit) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [printable_data(item, limit) for item in data]
    return data


def json_line(document: object) -> str:
    """Compact JSON that keeps non-ASCII text readable (ensure_ascii=False) but writes as \\uNNNN
    what a terminal would act on: JSON escapes only C0 controls, and leaves DEL, C1,
    bidi controls and lone surrogates raw. Such characters occur only inside JSON strings, where
    the \\u form denotes the same character, so the document's value is unchanged."""
    return json_text(document).translate(_IN_JSON)
