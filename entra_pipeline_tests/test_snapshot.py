"""The snapshot after a pull (snapshot.py): changes applied by id to the committed tables, and
the users and groups a delta run must rebuild. Pure functions over Arrow tables: the
end-to-end checks against the simulator's truth are in test_delta.py."""

from __future__ import annotations

import json

import pyarrow as pa

from entra_pipeline.graph.delta import Changes, merge_item
from entra_pipeline.graph.snapshot import (
    apply_memberships,
    apply_objects,
    assignment_table,
    changed_assignment_principals,
    touched,
)
from entra_pipeline.store.files import MEMBERSHIP_SCHEMA, OBJECT_SCHEMA


def objects(*items: dict) -> pa.Table:
    return pa.table({"id": [i["id"] for i in items], "object": [json.dumps(i) for i in items]}, schema=OBJECT_SCHEMA)


def memberships(*rows: tuple[str, str, str, str]) -> pa.Table:
    return pa.table(
        {name: [r[i] for r in rows] for i, name in enumerate(MEMBERSHIP_SCHEMA.names)}, schema=MEMBERSHIP_SCHEMA
    )


def by_id(table: pa.Table) -> dict[str, dict]:
    return {i: json.loads(o) for i, o in zip(table["id"].to_pylist(), table["object"].to_pylist(), strict=True)}


def changes(*items: dict) -> Changes:
    result = Changes()
    for item in items:
        merge_item(result, item)
    return result


def test_a_delta_item_merges_into_the_committed_object_and_keeps_what_it_omits():
    old = objects(
        {"id": "u1", "displayName": "Ada", "mobilePhone": "123"},
        {"id": "u2", "displayName": "Bob"},
        {"id": "u3", "displayName": "Cy"},
    )
    applied = apply_objects(
        old,
        changes(
            {"id": "u1", "displayName": "Ada L."},
            {"id": "u2", "@removed": {"reason": "changed"}},
            {"id": "u4", "displayName": "Dee"},
        ),
    )
    assert by_id(applied.table) == {
        "u1": {"id": "u1", "displayName": "Ada L.", "mobilePhone": "123"},
        "u3": {"id": "u3", "displayName": "Cy"},
        "u4": {"id": "u4", "displayName": "Dee"},
    }
    assert applied.changed() == {"u1", "u2", "u4"}  # u3 untouched: not even parsed
    assert applied.before["u2"] == {"id": "u2", "displayName": "Bob"} and applied.after["u2"] is None


def test_a_restore_in_the_same_round_replaces_and_a_replay_changes_nothing():
    old = objects({"id": "u1", "displayName": "Ada", "jobTitle": "Old"})
    restored = apply_objects(
        old, changes({"id": "u1", "@removed": {"reason": "changed"}}, {"id": "u1", "displayName": "Ada"})
    )
    assert by_id(restored.table) == {"u1": {"id": "u1", "displayName": "Ada"}}
    replay = apply_objects(old, changes({"id": "u1", "displayName": "Ada", "jobTitle": "Old"}))
    assert replay.changed() == set()


def test_membership_changes_set_and_remove_pairs_and_a_hard_delete_drops_the_container():
    old = memberships(
        ("g1", "group", "u1", "user"),
        ("g1", "group", "u2", "user"),
        ("g2", "group", "u1", "user"),
        ("g3", "group", "u3", "user"),
        ("r1", "directoryRole", "u1", "user"),
    )
    groups = changes(
        {
            "id": "g1",
            "members@delta": [
                {"id": "u2", "@removed": {"reason": "deleted"}},
                {"@odata.type": "#microsoft.graph.group", "id": "g2"},
            ],
        },
        {"id": "g2", "@removed": {"reason": "deleted"}},
        {"id": "g3", "@removed": {"reason": "changed"}},
    )
    update = apply_memberships(
        old,
        {"groups": (groups, False), "directoryRoles": (Changes(), False), "administrativeUnits": (Changes(), False)},
    )
    rows = {tuple(r.values()) for r in update.table.to_pylist()}
    assert rows == {
        ("g1", "group", "u1", "user"),
        ("g1", "group", "g2", "group"),
        ("g3", "group", "u3", "user"),
        ("r1", "directoryRole", "u1", "user"),
    }  # soft-deleted g3 keeps its members for a restore
    assert {r["member_id"] for r in update.removed.to_pylist()} == {"u2", "u1"}  # u1 left the deleted g2


def test_a_full_round_of_one_kind_replaces_only_that_kind():
    old = memberships(("g1", "group", "u1", "user"), ("r1", "directoryRole", "u1", "user"))
    roles = changes({"id": "r2", "members@delta": [{"id": "u2"}]})
    update = apply_memberships(old, {"groups": (Changes(), False), "directoryRoles": (roles, True)})
    assert {tuple(r.values()) for r in update.table.to_pylist()} == {
        ("g1", "group", "u1", "user"),
        ("r2", "directoryRole", "u2", "user"),
    }


def test_touched_names_members_of_a_renamed_group_and_principals_of_changed_assignments():
    users = objects({"id": "u1"}, {"id": "u2"}, {"id": "u3"}, {"id": "u4"}, {"id": "u5"})
    groups = objects({"id": "g1", "displayName": "One"}, {"id": "g2", "displayName": "Two"})
    table = memberships(("g1", "group", "u1", "user"), ("g1", "group", "u2", "user"), ("g2", "group", "u3", "user"))
    applied = {
        "users": apply_objects(users, Changes()),
        "groups": apply_objects(
            groups, changes({"id": "g1", "displayName": "Uno"}, {"id": "g2", "displayName": "Two"})
        ),
        "directoryRoles": apply_objects(None, Changes()),
        "administrativeUnits": apply_objects(None, Changes()),
    }
    update = apply_memberships(table, {"groups": (changes({"id": "g2", "members@delta": [{"id": "u4"}]}), False)})
    old = assignment_table([{"id": "a1", "principalId": "g2", "resourceId": "s1", "resourceDisplayName": "App"}])
    new = assignment_table(
        [
            {"id": "a1", "principalId": "g2", "resourceId": "s1", "resourceDisplayName": "App 2"},
            {"id": "a2", "principalId": "u5", "resourceId": "s1"},
        ]
    )
    principals = changed_assignment_principals(old, new)
    assert principals == {"g2", "u5"}
    # g1 renamed: its members u1, u2 and itself; u4 joined g2; g2's assignment changed: g2 and its
    # direct members u3, u4; u5's own assignment. g2's item was a replay: not changed itself.
    assert touched(applied, update, principals) == {"g1", "u1", "u2", "u4", "g2", "u3", "u5"}
