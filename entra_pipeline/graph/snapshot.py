"""The raw snapshot after a pull: the committed tables with this run's changes applied, and
which users and groups those changes touch, the only records a delta run rebuilds.

Columnar throughout: the committed tables are read as Arrow and filtered by id with pyarrow
compute; only the objects a change names are parsed as JSON. So a delta run's work is what
changed plus a pass over the id columns, not a re-read of the tenant (BENCHMARKS.md, #17).
A full round is the same operation from no committed table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ..store.files import ASSIGNMENT_SCHEMA, MEMBERSHIP_SCHEMA, OBJECT_SCHEMA, to_json
from .delta import Changes

# delta entity -> its objects' raw file, and the kind its memberships rows carry (containers)
OBJECT_FILES = {
    "users": "users",
    "groups": "groups",
    "directoryRoles": "directory_roles",
    "administrativeUnits": "administrative_units",
}
CONTAINER_KINDS = {"groups": "group", "directoryRoles": "directoryRole", "administrativeUnits": "administrativeUnit"}
# The container properties user and group records read from memberOf (qualys/sources.py).
CONTAINER_FIELDS = ("id", "displayName", "description", "visibility", "uniqueName")
_SEP = "\x1f"  # joins key columns: a control character no Graph id or kind holds


@dataclass
class Applied:
    """One entity's objects after its round: the new table, and for every id the round named
    its committed state and its new one (None: not there)."""

    table: pa.Table
    before: dict[str, dict | None] = field(default_factory=dict)
    after: dict[str, dict | None] = field(default_factory=dict)

    def changed(self) -> set[str]:
        return {oid for oid in self.after if self.before.get(oid) != self.after[oid]}


def ids(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def apply_objects(old: pa.Table | None, changes: Changes) -> Applied:
    """`changes` applied to the committed objects (`old`; None: a full round, the changes are all)."""
    named = set(changes.objects) | set(changes.removed)
    if old is not None and not named:
        return Applied(old)  # unchanged: the committed table itself (its file is kept, not rewritten)
    before: dict[str, dict | None] = {}
    kept = old
    if old is not None and named:
        mask = pc.is_in(old["id"], value_set=ids(named))
        hit = old.filter(mask)
        before = {
            oid: json.loads(text) for oid, text in zip(hit["id"].to_pylist(), hit["object"].to_pylist(), strict=True)
        }
        kept = old.filter(pc.invert(mask))
    after: dict[str, dict | None] = {}
    for oid in named:
        state = changes.objects.get(oid)
        committed = before.get(oid)
        # A restore within the round (removed, then back) replaces; otherwise the round's items
        # merge into the committed object (delta omits properties never set).
        after[oid] = (
            None if state is None else state if committed is None or oid in changes.removed else {**committed, **state}
        )
    present = [(oid, obj) for oid, obj in after.items() if obj is not None]
    new = pa.table(
        {"id": [oid for oid, _ in present], "object": [to_json(obj) for _, obj in present]}, schema=OBJECT_SCHEMA
    )
    table = new if kept is None else pa.concat_tables([kept.select(["id", "object"]).cast(OBJECT_SCHEMA), new])
    return Applied(table, {oid: before.get(oid) for oid in named}, after)


@dataclass
class MembershipUpdate:
    table: pa.Table
    removed: pa.Table  # committed rows this run dropped (delta kinds only)
    added: list[dict]  # rows this run added (delta kinds only)


def apply_memberships(old: pa.Table | None, rounds: dict[str, tuple[Changes, bool]]) -> MembershipUpdate:
    """Every container kind's round applied to the committed memberships: a full round's kind
    replaces all rows of that kind; an incremental one sets and removes the pairs it names and
    drops the rows of containers deleted for good (a soft-deleted group keeps its rows for a
    restore)."""
    table = old if old is not None else MEMBERSHIP_SCHEMA.empty_table()
    table = table.select(MEMBERSHIP_SCHEMA.names).cast(MEMBERSHIP_SCHEMA)
    drop = pa.array([False] * table.num_rows, pa.bool_())
    incremental_drop = drop
    added_delta: list[dict] = []
    keys = pc.binary_join_element_wise(table["container_id"], table["member_id"], _SEP) if table.num_rows else None
    columns: dict[str, list] = {name: [] for name in MEMBERSHIP_SCHEMA.names}  # what this run adds
    for entity, (changes, full) in rounds.items():
        kind = CONTAINER_KINDS[entity]
        gone = changes.hard_deleted()
        pairs = [
            (c, m, member_kind)
            for (c, m), member_kind in changes.members.items()
            if member_kind is not None and c not in gone
        ]
        containers, members, kinds = zip(*pairs, strict=True) if pairs else ((), (), ())
        columns["container_id"] += containers
        columns["container_type"] += [kind] * len(pairs)
        columns["member_id"] += members
        columns["member_type"] += kinds
        if full:
            drop = pc.or_(drop, pc.equal(table["container_type"], kind))
            continue
        if keys is not None:
            named = pc.is_in(keys, value_set=ids(f"{c}{_SEP}{m}" for c, m in changes.members))
            deleted = pc.is_in(table["container_id"], value_set=ids(gone))
            mine = pc.and_(pc.equal(table["container_type"], kind), pc.or_(named, deleted))
            incremental_drop = pc.or_(incremental_drop, mine)
        added_delta += [
            {"container_id": c, "container_type": kind, "member_id": m, "member_type": k} for c, m, k in pairs
        ]
    everything = pc.or_(drop, incremental_drop)
    if old is not None and not columns["member_id"] and not pc.any(everything).as_py():
        return MembershipUpdate(old, table.slice(0, 0), [])  # unchanged: the committed table itself
    added = pa.table(columns, schema=MEMBERSHIP_SCHEMA)
    return MembershipUpdate(
        pa.concat_tables([table.filter(pc.invert(everything)), added]), table.filter(incremental_drop), added_delta
    )


def assignment_table(assignments: list[dict]) -> pa.Table:
    return pa.table(
        {name: [a.get(name) for a in assignments] for name in ASSIGNMENT_SCHEMA.names}, schema=ASSIGNMENT_SCHEMA
    )


def changed_assignment_principals(old: pa.Table, new: pa.Table) -> set[str]:
    """The principals whose app role assignments differ between two full sets (added, removed,
    or with another value in any column the records read)."""

    def rows(table: pa.Table) -> pa.Array:
        table = table.select(ASSIGNMENT_SCHEMA.names).cast(ASSIGNMENT_SCHEMA)
        columns = [pc.fill_null(table[name], "") for name in ASSIGNMENT_SCHEMA.names]
        return pc.binary_join_element_wise(*columns, _SEP) if table.num_rows else pa.array([], pa.string())

    old_rows, new_rows = rows(old), rows(new)
    principals: set[str] = set()
    for table, own, other in ((old, old_rows, new_rows), (new, new_rows, old_rows)):
        if table.num_rows:
            differing = table.filter(pc.invert(pc.is_in(own, value_set=other)))
            principals.update(p for p in differing["principalId"].to_pylist() if p)
    return principals


def container_doc(obj: dict | None) -> tuple | None:
    return None if obj is None else tuple(obj.get(name) for name in CONTAINER_FIELDS)


def members_of(memberships: pa.Table, containers: set[str], kind: str | None = None) -> set[str]:
    if not containers or not memberships.num_rows:
        return set()
    mask = pc.is_in(memberships["container_id"], value_set=ids(containers))
    if kind is not None:
        mask = pc.and_(mask, pc.equal(memberships["container_type"], kind))
    return set(memberships.filter(mask)["member_id"].to_pylist())


def touched(applied: dict[str, Applied], memberships: MembershipUpdate, assignment_principals: set[str]) -> set[str]:
    """The ids of every user and group whose record may differ after this delta run: changed
    or removed themselves; members whose memberships changed; members of a container whose
    name, description, visibility or presence changed; principals whose assignments changed,
    and the direct members of a group whose assignments changed (a user's record carries its
    groups' app roles)."""
    result = set(applied["users"].changed()) | set(applied["groups"].changed())
    result.update(memberships.removed["member_id"].to_pylist())
    result.update(row["member_id"] for row in memberships.added)
    renamed: set[str] = set()
    for entity in CONTAINER_KINDS:
        entry = applied[entity]
        renamed.update(
            oid for oid in entry.after if container_doc(entry.before.get(oid)) != container_doc(entry.after[oid])
        )
    result |= members_of(memberships.table, renamed)
    result |= members_of(memberships.removed, renamed)
    result |= assignment_principals
    result |= members_of(memberships.table, assignment_principals, "group")
    return result


def objects_with(table: pa.Table, wanted: set[str]) -> list[dict]:
    """The objects of a raw table whose id is in `wanted`, parsed (only those)."""
    if not wanted or not table.num_rows:
        return []
    hit = table.filter(pc.is_in(table["id"], value_set=ids(wanted)))
    return [json.loads(text) for text in hit["object"].to_pylist()]


def rows_with(table: pa.Table, column: str, wanted: set[str]) -> list[dict]:
    if not wanted or not table.num_rows:
        return []
    return table.filter(pc.is_in(table[column], value_set=ids(wanted))).to_pylist()


def all_objects(table: pa.Table) -> list[dict]:
    return [json.loads(text) for text in table["object"].to_pylist()]
