"""Delta rounds: users, groups, directory roles and administrative units. A round starts from
the committed deltaLink and brings what changed since; with no link, or a link Graph no longer
accepts (400 syncStateNotFound, 410 Gone), older than 7 days or issued for a snapshot that is
not there any more (the store decides: store.snapshot_base), it is a full round instead.

A round's items are merged into a `Changes`: the latest state of each object it named, the
objects it removed, and the memberships it set or removed. A full round's Changes is the whole
entity; an incremental one is applied to the committed snapshot (snapshot.py). Merging is
idempotent: an object is replaced by its latest state, a removal removes, a membership change
sets the membership. So replays, duplicates, and re-reading from an old link after a crash
change nothing that was already merged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .client import GraphClient, GraphError

log = logging.getLogger(__name__)

RESYNC_CODES = {"syncStateNotFound", "resyncRequired"}


def odata_kind(odata_type: str | None) -> str:
    return (odata_type or "#microsoft.graph.user").rsplit(".", 1)[-1]


@dataclass
class Changes:
    """What a round brought. An id in both `objects` and `removed` was removed and then came
    back in the same round (a restore): its state replaces the committed one, not merged into it."""

    objects: dict[str, dict] = field(default_factory=dict)  # id -> latest state (the round's items merged)
    removed: dict[str, str] = field(default_factory=dict)  # id -> "changed" (soft-deleted) | "deleted"
    members: dict[tuple[str, str], str | None] = field(
        default_factory=dict
    )  # (container, member) -> kind; None: removed

    def clear(self) -> None:
        self.objects.clear()
        self.removed.clear()
        self.members.clear()

    def hard_deleted(self) -> set[str]:
        return {object_id for object_id, reason in self.removed.items() if reason == "deleted"}


def merge_item(changes: Changes, item: dict) -> None:
    """One delta item: an object (a user, or a container with a slice of its `members@delta`:
    the same container may come on several pages), or its removal."""
    object_id = item["id"]
    removed = item.get("@removed")
    if removed is not None:
        changes.objects.pop(object_id, None)
        changes.removed[object_id] = (
            "changed" if isinstance(removed, dict) and removed.get("reason") == "changed" else "deleted"
        )
        return
    members = item.get("members@delta")
    properties = {k: v for k, v in item.items() if k != "members@delta"} if members is not None else item
    # A delta item carries the selected properties (changed ones, null included; unchanged ones
    # with their value; never-set ones omitted). Merging keeps a value Graph chose to omit.
    found = changes.objects.get(object_id)
    changes.objects[object_id] = {**found, **properties} if found else properties
    for member in members or ():
        key = (object_id, member["id"])
        changes.members[key] = None if "@removed" in member else odata_kind(member.get("@odata.type"))


@dataclass
class Round:
    mode: str  # "full" | "delta" | "resync"
    changes: int = 0  # items the round carried
    link: str | None = None
    reason: str | None = None  # why a resync happened


def needs_resync(error: GraphError) -> bool:
    """A link Graph no longer takes: expired or reset (400/410 with a resync code, any 410), or a
    query no longer offered there (404, 405, 501: the full round decides what to do instead)."""
    return error.status in (404, 405, 410, 501) or error.code in RESYNC_CODES


async def run_round(
    client: GraphClient,
    link: str | None,
    headers: dict,
    merge: Callable[[dict], None],
    reset: Callable[[], None],
    full: Callable[[str], Awaitable[Round]],
) -> Round:
    """One round: incremental from `link`, else `full(mode)` (a full delta round, or a listing
    with a link taken before it)."""
    if link:
        try:
            return await follow(client, link, headers, merge, None, Round("delta"))
        except GraphError as error:
            if not needs_resync(error):
                raise
            log.warning("delta link refused (%s): full resync", error)
            reset()
            result = await full("resync")
            result.reason = str(error)
            return result
    reset()
    return await full("full")


async def follow(
    client: GraphClient,
    start: str,
    headers: dict,
    merge: Callable[[dict], None],
    on_restart: Callable[[], None] | None,
    result: Round,
) -> Round:
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
    result.link = kept_link(client, start, result.link)
    return result


def kept_link(client: GraphClient, start: str, link: object) -> str | None:
    if link and not (isinstance(link, str) and client.ours(link)):
        # The changes arrived; a link elsewhere would be refused next run, so none is kept and the
        # next run of this entity is a full round.
        log.warning(
            "the deltaLink of %s names another origin than the configured Graph endpoint: not kept, "
            "the next run pulls in full",
            start.split("?")[0],
        )
        return None
    return link  # type: ignore[return-value]
