"""Everything the simulator serves fits Microsoft Graph's published v1.0 schema (CSDL, a gzipped
copy of ../shared/reference/msgraph-v1.0-metadata.xml kept in data/ so CI needs nothing outside
the repository): property names exist on the type or its base
types, and values have the Edm type's JSON shape, down into complex types and collections."""

from __future__ import annotations

import datetime as dt
import gzip
import uuid
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import pytest

METADATA = Path(__file__).resolve().parent / "data" / "msgraph-v1.0-metadata.xml.gz"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@lru_cache(maxsize=1)
def schema() -> dict[str, dict]:
    types: dict[str, dict] = {}
    with gzip.open(METADATA) as handle:
        root = ET.parse(handle).getroot()
    graph_schema = next(
        s for s in root.iter(f"{EDM}Schema") if s.get("Namespace") == "microsoft.graph"
    )  # other namespaces reuse names like "group"
    for node in graph_schema:
        if node.tag in (f"{EDM}EntityType", f"{EDM}ComplexType"):
            types[node.get("Name")] = {
                "base": (node.get("BaseType") or "").replace("graph.", "") or None,
                "properties": {p.get("Name"): p.get("Type") for p in node.findall(f"{EDM}Property")},
            }
        elif node.tag == f"{EDM}EnumType":
            types[node.get("Name")] = {"enum": {m.get("Name") for m in node.findall(f"{EDM}Member")}}
    return types


def properties_of(type_name: str) -> dict[str, str]:
    result: dict[str, str] = {}
    while type_name:
        entry = schema()[type_name]
        result = {**entry["properties"], **result}
        type_name = entry["base"]
    return result


def check_value(value, edm_type: str, where: str) -> None:
    if value is None:
        return
    if edm_type.startswith("Collection("):
        assert isinstance(value, list), f"{where}: expected a list for {edm_type}"
        for index, item in enumerate(value):
            check_value(item, edm_type[len("Collection(") : -1], f"{where}[{index}]")
        return
    simple = {"Edm.String": str, "Edm.Boolean": bool, "Edm.Int32": int, "Edm.Int64": int, "Edm.Double": (int, float)}
    if edm_type in simple:
        assert isinstance(value, simple[edm_type]) and not (edm_type != "Edm.Boolean" and isinstance(value, bool)), (
            f"{where}: {value!r} is not {edm_type}"
        )
    elif edm_type == "Edm.Guid":
        uuid.UUID(value)
    elif edm_type == "Edm.DateTimeOffset":
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif edm_type.startswith("graph."):
        name = edm_type[len("graph.") :]
        entry = schema()[name]
        if "enum" in entry:
            assert all(part.strip() in entry["enum"] for part in value.split(",")), f"{where}: {value!r} not in {name}"
        else:
            check_object(value, name, where)
    else:
        pytest.fail(f"{where}: unhandled Edm type {edm_type}")


def check_object(obj: dict, type_name: str, where: str) -> None:
    known = properties_of(type_name)
    for name, value in obj.items():
        if name.startswith("@") or "@" in name:
            continue
        assert name in known, f"{where}: '{name}' is not a property of microsoft.graph.{type_name}"
        check_value(value, known[name], f"{where}.{name}")


TRUTH_TYPES = {
    "users": "user",
    "deletedUsers": "user",
    "groups": "group",
    "directoryRoles": "directoryRole",
    "administrativeUnits": "administrativeUnit",
    "roleDefinitions": "unifiedRoleDefinition",
    "roleAssignments": "unifiedRoleAssignment",
    "roleEligibilitySchedules": "unifiedRoleEligibilitySchedule",
    "applications": "application",
    "servicePrincipals": "servicePrincipal",
    "appRoleAssignments": "appRoleAssignment",
    "organization": "organization",
}


@pytest.mark.parametrize("collection", sorted(TRUTH_TYPES))
def test_every_stored_object_fits_the_v1_schema(sim, collection):
    objects = sim.truth()[collection]
    assert objects or collection == "deletedUsers"
    for obj in objects:
        check_object(obj, TRUTH_TYPES[collection], f"{collection}/{obj['id']}")


def test_served_pages_fit_the_schema_including_mixed_collections(wire, sim):
    user = next(
        m for r in sim.tenant.directory_roles for m in sim.tenant.live_members(r) if sim.tenant.kind_of(m) == "user"
    )
    for item in wire.all(f"/users/{user}/memberOf"):
        check_object(item, item["@odata.type"].split(".")[-1], "memberOf")
    for item in wire.ok(
        "/users?$select="
        + ",".join(
            properties_of("user").keys()
            & {"accountEnabled", "department", "lastPasswordChangeDateTime", "city", "postalCode", "userType"}
        )
    )["value"]:
        check_object(item, "user", "users")


def test_every_property_the_simulator_can_serve_is_in_the_schema():
    from entra_pipeline.simulator import catalog

    lists = {
        "user": catalog.USER_PROPERTIES,
        "group": catalog.GROUP_PROPERTIES,
        "directoryRole": catalog.DIRECTORY_ROLE_PROPERTIES,
        "administrativeUnit": catalog.ADMINISTRATIVE_UNIT_PROPERTIES,
        "unifiedRoleDefinition": catalog.ROLE_DEFINITION_PROPERTIES,
        "unifiedRoleAssignment": catalog.ROLE_ASSIGNMENT_PROPERTIES,
        "unifiedRoleEligibilitySchedule": catalog.ROLE_ELIGIBILITY_SCHEDULE_PROPERTIES,
        "application": catalog.APPLICATION_PROPERTIES,
        "servicePrincipal": catalog.SERVICE_PRINCIPAL_PROPERTIES,
        "appRoleAssignment": catalog.APP_ROLE_ASSIGNMENT_PROPERTIES,
        "organization": catalog.ORGANIZATION_PROPERTIES,
    }
    for type_name, names in lists.items():
        missing = [n for n in names if n not in properties_of(type_name)]
        assert not missing, f"microsoft.graph.{type_name} has no {missing}"
