"""Delta runs for users and groups: a round starts from the committed deltaLink and merges the
changes into the snapshot the previous runs built; with no link, or a link Graph no longer
accepts (400 syncStateNotFound, 410 Gone), older than 7 days or issued for a snapshot that is not
there any more (the store decides: store.snapshot_base), it is a full round instead.

Merging is idempotent: an object is replaced by its latest state, a removal removes, a
membership change sets the membership. So replays, duplicates, and re-reading from an old link
after a crash change nothing that was already merged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .client import GraphClient, GraphError

log = logging.getLogger(__name__)

RESYNC_CODES = {"syncStateNotFound", "resyncRequired"}


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
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                log.warning("%s: an item without an id skipped: %.200s", start.split("?")[0], item)
                continue
            merge(item)
            result.changes += 1
        result.link = page.get("@odata.deltaLink", result.link)
    if result.link and not (isinstance(result.link, str) and client.ours(result.link)):
        # The changes arrived; a link elsewhere would be refused next run, so none is kept and the
        # next run of this entity is a full round.
        log.warning("the deltaLink of %s names another origin than the configured Graph endpoint: not kept, "
                    "the next run pulls in full", start.split("?")[0])
        result.link = None
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
