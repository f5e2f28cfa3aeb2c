"""Source documents for the transformation maps: each user and group shaped as the spec's
per-object endpoints would describe it (`memberOf.value[]`, `appRoleAssignments.value[]`),
built from the set-based raw data without a call per object."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter

from ..graph.relationships import RelationshipIndex

ODATA_TYPES = {
    "group": "#microsoft.graph.group",
    "directoryRole": "#microsoft.graph.directoryRole",
    "administrativeUnit": "#microsoft.graph.administrativeUnit",
}
# The container properties the maps read from memberOf.value[] (each type only has some).
CONTAINER_FIELDS = ("id", "displayName", "description", "visibility", "uniqueName")


def _container_docs(groups: list[dict], directory_roles: list[dict], units: list[dict]) -> dict[str, dict]:
    docs = {}
    for kind, objects in (("group", groups), ("directoryRole", directory_roles), ("administrativeUnit", units)):
        for obj in objects:
            doc = {"@odata.type": ODATA_TYPES[kind]}
            doc.update({name: obj[name] for name in CONTAINER_FIELDS if name in obj})
            docs[obj["id"]] = doc
    return docs


def user_and_group_sources(
    users: list[dict],
    groups: list[dict],
    directory_roles: list[dict],
    units: list[dict],
    memberships: Iterable[dict],
    assignments: list[dict],
) -> tuple[Iterator[dict], Iterator[dict]]:
    """Users' and groups' source documents, made one at a time as the transform asks for them:
    at 100k users holding them all would double the transform's memory."""
    containers = _container_docs(groups, directory_roles, units)
    # Memberships in soft-deleted groups are kept for a restore; until then they are not relations.
    live = (m for m in memberships if m["container_id"] in containers)  # read once, by the index
    index = RelationshipIndex(live, assignments)

    by_container, by_id = itemgetter(1), itemgetter("id")

    def member_of(object_id: str) -> dict:
        found = index.containers(object_id)
        if len(found) > 1:
            found = sorted(found, key=by_container)
        return {"value": [containers[cid] for _, cid in found]}

    def assignments_doc(items: list[dict]) -> dict:
        return {"value": sorted(items, key=by_id)}

    user_docs = (
        {
            **user,
            "memberOf": member_of(user["id"]),
            "appRoleAssignments": assignments_doc(index.user_assignments(user["id"])),
        }
        for user in users
    )
    group_docs = (
        {
            **group,
            "memberOf": member_of(group["id"]),
            "appRoleAssignments": assignments_doc(index.principal_assignments(group["id"])),
        }
        for group in groups
    )
    return user_docs, group_docs
