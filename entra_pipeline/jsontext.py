"""The one way the project writes JSON text: compact, non-ASCII kept.

What is stored (snapshot objects, records), compared (the inventory compares record texts)
and sent (the Qualys import body) is written here; `sort_keys` gives a record's canonical text,
one per content.
"""

from __future__ import annotations

import json

import orjson


def json_text(value: object, sort_keys: bool = False) -> str:
    """Compact JSON, non-ASCII kept, by orjson (5-10x json.dumps). What orjson refuses (ints past
    64 bits, keys that are not strings, ...) is written by json. Both write strings, ints, true,
    false, null, lists and objects alike; orjson writes some floats another way (1e-05 as
    0.00001: the same number; no selected Entra property is a float) and NaN as null (json
    writes NaN, which is not JSON)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"))
