"""What repairing Graph's text on the way in costs (graph/decode.py), against `json.loads` alone,
on one 999-user page shaped like a `/users/delta` page with the Users map's properties.

    .venv/bin/python benchmarks/decode.py

Both are measured in this run, on the same page; the figure is their ratio.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from entra_pipeline.graph import decode  # noqa: E402


def page(surrogate: bool = False) -> bytes:
    users = [
        {
            "id": f"a2b3c4d5-0000-1111-2222-{i:012d}",
            "userPrincipalName": f"user{i}@contoso.onmicrosoft.com",
            "accountEnabled": True,
            "displayName": f"User Number {i}",
            "mail": f"user{i}@contoso.com",
            "givenName": "User",
            "surname": f"N{i}",
            "mobilePhone": None,
            "jobTitle": "Engineer",
            "lastPasswordChangeDateTime": "2024-01-01T00:00:00Z",
            "streetAddress": "1 Main St",
            "state": "WA",
            "city": "Redmond",
            "country": "US",
            "postalCode": "98052",
            "department": "Eng",
        }
        for i in range(999)
    ]
    if surrogate:
        users[500]["displayName"] = "half \ud83d"
    return json.dumps(
        {"value": users, "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/delta?$skiptoken=x"},
        ensure_ascii=surrogate,
    ).encode()


def main() -> None:
    for label, body in (("clean page", page()), ("page with one lone surrogate", page(surrogate=True))):
        loads = min(timeit.repeat(lambda body=body: json.loads(body), number=20, repeat=5)) / 20
        repaired = min(timeit.repeat(lambda body=body: decode.load(body), number=20, repeat=5)) / 20
        print(
            f"{label} ({len(body) // 1024} KiB): json.loads {loads * 1000:.2f} ms, decode.load "
            f"{repaired * 1000:.2f} ms, ratio {repaired / loads:.2f}"
        )


if __name__ == "__main__":
    main()
