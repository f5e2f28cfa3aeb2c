"""Delta runs for users and groups: a round starts from the committed deltaLink and merges the
changes into the snapshot the previous runs built; with no link, or a link Graph no longer
accepts (400 syncStateNotFound, 410 Gone) or older than 7 days, it is a full round instead.

Merging is idempotent: an object is replaced by its latest state, a removal removes, a
membership change sets the membership. So replays, duplicates, and re-reading from an old link
after a crash change nothing that was already merged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..storage import replace_file
from .client import GraphClient, GraphError

log = logging.getLogger(__name__)

RESYNC_CODES = {"syncStateNotFound", "resyncRequired"}
MAX_LINK_AGE = dt.timedelta(days=7)


@dataclass
class Snapshot:
    """Users, groups and group memberships as merged by earlier runs."""

    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    group_members: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, member) -> member kind


@dataclass
class Round:
    mode: str  # "full" | "delta" | "resync"
    changes: int = 0  # items the round carried
    link: str | None = None
    reason: str | None = None  # why a resync happened


class DeltaState:
    """The committed deltaLinks of a connector: advanced only after the destination confirmed."""

    def __init__(self, home: Path, connector: str) -> None:
        self.path = home / "state" / connector / "delta.json"

    def committed(self) -> dict[str, dict]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def usable(self, now: dt.datetime) -> tuple[dict[str, str], dict[str, str]]:
        """Links young enough to use, and why the others are not."""
        links, reasons = {}, {}
        for entity, entry in self.committed().items():
            age = now - dt.datetime.fromisoformat(entry["issued_at"])
            if age > MAX_LINK_AGE:
                reasons[entity] = f"deltaLink is {age.days} days old (Graph keeps them 7 days): full resync"
            else:
                links[entity] = entry["link"]
        return links, reasons

    def commit(self, links: dict[str, str], issued_at: dt.datetime) -> None:
        state = self.committed()
        state.update({entity: {"link": link, "issued_at": issued_at.isoformat()} for entity, link in links.items()})
        replace_file(self.path, json.dumps(state, indent=1))


def needs_resync(error: GraphError) -> bool:
    return error.status == 410 or error.code in RESYNC_CODES


async def run_round(client: GraphClient, initial: str, link: str | None, headers: dict, merge, reset) -> Round:
    """One delta round (incremental from `link`, else full from `initial`), merging every item."""
    if link:
        try:
            return await _follow(client, link, headers, merge, None, Round("delta"))
        except GraphError as error:
            if not needs_resync(error):
                raise
            log.warning("delta link refused (%s): full resync", error)
            reset()
            return await _follow(client, initial, headers, merge, reset, Round("resync", reason=str(error)))
    reset()
    return await _follow(client, initial, headers, merge, reset, Round("full"))


async def _follow(client: GraphClient, start: str, headers: dict, merge, on_restart, result: Round) -> Round:
    # An incremental round restarted after an expired page token re-merges from its link: harmless,
    # merging is idempotent. A full round restarted must drop what it had collected.
    async for page in client.pages(start, headers, on_restart):
        for item in page.get("value", []):
            merge(item)
            result.changes += 1
        result.link = page.get("@odata.deltaLink", result.link)
    return result


def merge_user(users: dict[str, dict], item: dict) -> None:
    """Soft-deleted (`changed`) and deleted users both leave the snapshot: Graph's /users no longer
    lists a soft-deleted user either, so delta and baseline runs agree (docs/delta.md)."""
    if "@removed" in item:
        users.pop(item["id"], None)
    else:
        # A delta item carries the selected properties (changed ones, null included; unchanged ones
        # with their value; never-set ones omitted). Merging keeps a value Graph chose to omit.
        users[item["id"]] = {**users.get(item["id"], {}), **item}
