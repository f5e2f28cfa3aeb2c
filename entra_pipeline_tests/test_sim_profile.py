"""The realistic tenant profile's shape (docs/simulator.md, "The realistic profile")."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from entra_pipeline.simulator import catalog
from entra_pipeline.simulator.first_party import MICROSOFT_APPS_GRAPH_SOURCE
from entra_pipeline.simulator.generate import (
    ALL_COMPANY_GROUPS,
    ConnectorApp,
    TenantShape,
    build_tenant,
    first_party_service_principals,
)

CONNECTOR = ConnectorApp(
    "11111111-2222-4333-8444-555555555555", "secret", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), catalog.SPEC_PERMISSIONS
)
USERS = 4000


@pytest.fixture(scope="module")
def realistic():
    shape = TenantShape(users=USERS, seed=7, profile="realistic")
    return shape, build_tenant(shape, CONNECTOR)


def test_about_a_quarter_as_many_groups_as_users_mostly_small(realistic):
    shape, tenant = realistic
    sizes = sorted((len(tenant.members.get(g, ())) for g in tenant.groups), reverse=True)
    assert len(sizes) == USERS // 4 == shape.group_count
    assert sum(1 for s in sizes if s < 20) / len(sizes) > 0.85  # a long tail of small groups
    assert sorted(sizes)[len(sizes) // 2] <= 5  # median
    assert any(s == 0 for s in sizes)  # empty groups exist


def test_a_few_all_company_groups_and_department_and_location_groups(realistic):
    _, tenant = realistic
    by_name = {g["displayName"]: g["id"] for g in tenant.groups.values()}
    for name in ALL_COMPANY_GROUPS:
        assert len(tenant.members[by_name[name]]) > 0.8 * USERS
    assert len(tenant.members[by_name["All Users"]]) == USERS
    assert tenant.groups[by_name["All Employees (dynamic)"]]["groupTypes"] == ["DynamicMembership"]
    departments = [g for n, g in by_name.items() if n.startswith("Dept - ")]
    assert len(departments) == len(catalog.DEPARTMENTS)
    assert all(100 <= len(tenant.members[g]) <= 1000 for g in departments)  # hundreds at 4,000 users
    sizes = [len(tenant.members.get(g, ())) for g in tenant.groups]
    assert sum(1 for s in sizes if s > 0.8 * USERS) == len(ALL_COMPANY_GROUPS)


def test_nested_groups_and_service_principal_members_remain(realistic):
    _, tenant = realistic
    members = [m for g in tenant.groups for m in tenant.members.get(g, ())]
    assert sum(1 for m in members if m in tenant.groups) > 20
    assert any(m in tenant.service_principals for m in members)
    assert any(g["isAssignableToRole"] for g in tenant.groups.values())


def test_service_principals_are_first_party_plus_apps_plus_gallery(realistic):
    shape, tenant = realistic
    first_party = first_party_service_principals()
    assert len(first_party) == len(MICROSOFT_APPS_GRAPH_SOURCE) == 619  # catalog's five are among them
    app_ids = {sp["appId"] for sp in tenant.service_principals.values()}
    assert {app_id for _, app_id, _ in first_party} <= app_ids
    assert len(tenant.applications) == USERS // 30 + 1  # and the connector's own
    assert len(tenant.service_principals) == shape.service_principal_count == 619 + USERS // 30 + 1 + 20


def test_most_service_principals_have_no_assignments_a_few_have_many(realistic):
    _, tenant = realistic
    per_resource = collections.Counter(a["resourceId"] for a in tenant.app_role_assignments.values())
    total = len(tenant.service_principals)
    assert (total - len(per_resource)) / total > 0.9
    assert sum(1 for n in per_resource.values() if n > 20) >= 5
    assert max(per_resource.values()) >= 0.1 * USERS
    assert sum(1 for n in per_resource.values() if n <= 8) >= 20  # a handful each
    heavy = max(per_resource, key=per_resource.get)
    types = {a["principalType"] for a in tenant.app_role_assignments.values() if a["resourceId"] == heavy}
    assert types == {"User", "Group"}  # assigned to all-company groups and to users directly


def test_at_100k_users_there_are_over_3000_service_principals_by_the_formula():
    shape = TenantShape(users=100_000, profile="realistic")
    assert shape.group_count == 25_000 and shape.application_count == 3333
    assert shape.service_principal_count == 619 + 3333 + 1 + 500 >= 3000


def test_classic_stays_the_default_and_keeps_its_formulas():
    shape = TenantShape(users=100_000)
    assert shape.profile == "classic" and shape.group_count == 10_000 and shape.application_count == 100
    assert shape.service_principal_count == len(catalog.FIRST_PARTY_SERVICE_PRINCIPALS) + 100 + 1
    with pytest.raises(ValueError):
        TenantShape(profile="huge")


def test_serve_accepts_the_profile(make_sim):
    sim = make_sim(users=300, profile="realistic")
    assert len(sim.tenant.service_principals) > 619
    from entra_pipeline.cli.commands import build_parser

    args = build_parser().parse_args(["simulator", "serve", "--profile", "realistic"])
    assert args.profile == "realistic"
