"""The request plan: the set-based plan produces exactly the spec's per-object relationships,
ingests exactly the simulator's truth, and never calls Graph once per user."""

from __future__ import annotations

import asyncio

from entra_pipeline.entities import (
    ENTITIES,
    RAW_ASSETS,
    SNAPSHOT_FILES,
    WITH_POSTURE,
    plan_parts,
    raw_assets_for,
    requirements_for,
)
from entra_pipeline.graph.client import GraphClient
from entra_pipeline.graph.plan import LiteralPlan, SetBasedPlan
from entra_pipeline.graph.relationships import relationship_sets
from entra_pipeline.graph.snapshot import OBJECT_FILES
from entra_pipeline.simulator import catalog
from entra_pipeline.transform.maps import MAPS

from .conftest import connector_for
from .helpers import truth_memberships


def pull(sim, home, entities=None):
    connector = connector_for(sim, home)

    async def main():
        async with GraphClient(connector, connector.secret(home)) as client:
            return await SetBasedPlan(client, entities or plan_parts(connector.asset_types)).run()

    return asyncio.run(main())


def test_set_based_and_literal_plans_give_identical_relationships(make_sim, home):
    sim = make_sim(users=600, seed=21)
    connector = connector_for(sim, home)

    async def main():
        async with GraphClient(connector, connector.secret(home)) as client:
            result = await SetBasedPlan(client, plan_parts(connector.asset_types)).run()
            literal = await LiteralPlan(client).relationships()
            return result, literal

    result, literal = asyncio.run(main())
    derived = relationship_sets(
        list(result.membership_rows()),
        result.app_role_assignments,
        result.objects["users"],
        result.objects["groups"],
        result.objects["servicePrincipals"],
    )
    assert derived.keys() == literal.keys()
    different = [key for key in literal if literal[key] != derived[key]]
    assert different == []
    # The comparison covers the hard cases, not only plain memberships:
    kinds = {kind for rel in literal.values() for kind, _ in rel.get("memberOf", ())}
    assert kinds == {"group", "directoryRole", "administrativeUnit"}
    assignments = {a["id"]: a for a in result.app_role_assignments}
    default_access = {
        i
        for rel in literal.values()
        for i in rel.get("appRoleAssignments", ())
        if assignments[i]["appRoleId"] == catalog.DEFAULT_ACCESS_ROLE_ID
    }
    assert default_access
    nested = [
        key for key, rel in literal.items() if key[0] == "group" and any(k == "group" for k, _ in rel["memberOf"])
    ]
    assert nested
    role_assignable = [g["id"] for g in sim.tenant.groups.values() if g["isAssignableToRole"]]
    assert any(("directoryRole" in {k for k, _ in literal[("group", g)]["memberOf"]}) for g in role_assignable)


def test_a_full_pull_of_10000_users_ingests_exactly_the_truth_without_per_user_calls(make_sim, home):
    sim = make_sim(users=10_000, seed=7)
    result = pull(sim, home)
    truth = sim.truth()
    assert not result.failed

    def by_id(objects):
        return {o["id"]: o for o in objects}

    users = by_id(result.objects["users"])
    assert users.keys() == by_id(truth["users"]).keys()
    for user in truth["users"][:500]:
        for prop in ("userPrincipalName", "accountEnabled", "department", "city", "lastPasswordChangeDateTime"):
            assert users[user["id"]].get(prop) == user.get(prop)
    assert by_id(result.objects["groups"]).keys() == by_id(truth["groups"]).keys()
    for name in ("roles", "applications", "servicePrincipals", "directoryRoles", "administrativeUnits"):
        source = {"roles": "roleDefinitions"}.get(name, name)
        assert by_id(result.objects[name]).keys() == by_id(truth[source]).keys(), name
    assert by_id(result.objects["tenant"]).keys() == {truth["tenantId"]}
    assert by_id(result.objects["roleAssignments"]).keys() == by_id(truth["roleAssignments"]).keys()
    assert by_id(result.objects["roleEligibilitySchedules"]).keys() == by_id(truth["roleEligibilitySchedules"]).keys()

    expected = {(m["container_id"], m["container_type"], m["member_id"]) for m in truth_memberships(truth)}
    ingested = {(r["container_id"], r["container_type"], r["member_id"]) for r in result.membership_rows()}
    assert ingested == expected
    assert {a["id"] for a in result.app_role_assignments} == {a["id"] for a in truth["appRoleAssignments"]}
    assert set(result.delta_links) == {"users", "groups", "directoryRoles", "administrativeUnits"}

    endpoints = sim.stats()["endpoints"]
    per_user = [name for name in endpoints if name.startswith("GET /users/{id}")]
    assert per_user == []
    # Per-object calls only where Graph's expansion (at most 20) came full: large groups' members
    # and large service principals' assignments, nothing else.
    large_groups = sum(len(members) >= 20 for members in truth["groupMembers"].values())
    per_group = {name: e["requests"] for name, e in endpoints.items() if name.startswith("GET /groups/{id}")}
    assert set(per_group) <= {"GET /groups/{id}/members"} and 0 < per_group["GET /groups/{id}/members"] >= large_groups
    assigned = {}
    for a in truth["appRoleAssignments"]:
        assigned[a["resourceId"]] = assigned.get(a["resourceId"], 0) + 1
    per_principal = endpoints.get("GET /servicePrincipals/{id}/appRoleAssignedTo", {}).get("requests", 0)
    assert per_principal == sum(n >= 20 for n in assigned.values())


def test_a_forbidden_part_is_reported_and_the_rest_still_arrives(make_sim, home):
    sim = make_sim(users=80, faults=("forbidden=applications",))
    result = pull(sim, home)
    assert set(result.failed) == {"applications"} and "403" in result.failed["applications"]
    assert "applications" not in result.objects and len(result.objects["users"]) == 80


def test_identities_only_reads_no_applications_or_tenant(make_sim, home):
    sim = make_sim(users=50)
    result = pull(sim, home, plan_parts("identities_only"))
    assert "applications" not in result.objects and "tenant" not in result.objects
    assert "GET /applications" not in sim.stats()["endpoints"]


def test_the_entity_registry_holds_what_the_plan_reads_the_maps_build_and_the_snapshot_merges(make_sim, home):
    """Every raw asset arrives from parts the plan runs; an identities-only plan runs none of the
    parts only posture rows need; each record set has its map and is built from raw assets its
    Asset Types pull; every permission's probe is an endpoint Graph answers."""
    sim = make_sim(users=60)
    connector = connector_for(sim, home)

    async def main(parts):
        async with GraphClient(connector, connector.secret(home)) as client:
            result = await SetBasedPlan(client, parts).run()
            probed = [await client.get(r.probe) for r in requirements_for(WITH_POSTURE)]
            return result, set(client.part_stats), probed

    everything, ran, probed = asyncio.run(main(plan_parts(WITH_POSTURE)))
    assert not everything.failed and len(probed) == len(requirements_for(WITH_POSTURE))
    for raw in RAW_ASSETS.values():
        assert set(raw.parts) <= ran, raw.name
        assert not raw.source or raw.source in everything.objects, raw.name

    identities, ran_identities, _ = asyncio.run(main(plan_parts("identities_only")))
    identity_parts = {part for name in raw_assets_for("identities_only") for part in RAW_ASSETS[name].parts}
    posture_only = [raw for raw in RAW_ASSETS.values() if raw.posture and not set(raw.parts) & identity_parts]
    assert posture_only and not {part for raw in posture_only for part in raw.parts} & ran_identities
    assert not {raw.source for raw in posture_only} & set(identities.objects)

    assert set(MAPS) == set(ENTITIES)
    for entity in ENTITIES.values():
        assert set(entity.inputs) <= set(raw_assets_for(WITH_POSTURE if entity.posture else "identities_only"))
    assert {part: files[0] for part, files in SNAPSHOT_FILES.items()} == OBJECT_FILES
