"""Golden tests: hand-written Graph objects covering every row of every map (present, null,
absent, arrays empty and full, mixed memberOf types) against hand-written records."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from entra_pipeline.transform import engine
from entra_pipeline.transform.engine import apply
from entra_pipeline.transform.maps import APPLICATIONS, GROUPS, MAPS, ROLES, SERVICE_PRINCIPALS, TENANT, USERS

ADA = {
    "id": "u-1",
    "userPrincipalName": "ada@contoso.com",
    "accountEnabled": True,
    "displayName": "Ada Lovelace",
    "mail": "ada@contoso.com",
    "givenName": "Ada",
    "surname": "Lovelace",
    "mobilePhone": "+44 20 0000",
    "jobTitle": "Analyst",
    "lastPasswordChangeDateTime": "2026-01-02T03:04:05Z",
    "streetAddress": "12 St James's Sq",
    "state": "Greater London",
    "city": "London",
    "country": "United Kingdom",
    "postalCode": "SW1Y 4JH",
    "department": "Mathematics",
    "businessPhones": ["not mapped"],
    "appRoleAssignments": {
        "value": [
            {"id": "ara-1", "principalDisplayName": "Ada Lovelace", "resourceDisplayName": "Payroll", "appRoleId": "r"},
            {"id": "ara-2", "principalDisplayName": "Analysts", "resourceDisplayName": None},
        ]
    },
    "memberOf": {
        "value": [
            {
                "@odata.type": "#microsoft.graph.group",
                "id": "g-1",
                "displayName": "Analysts",
                "description": "Numbers",
                "visibility": "Private",
                "uniqueName": "analysts",
            },
            {
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": "dr-1",
                "displayName": "Global Reader",
                "description": "Can read everything",
            },
            {
                "@odata.type": "#microsoft.graph.administrativeUnit",
                "id": "au-1",
                "displayName": "Europe",
                "description": None,
                "visibility": "HiddenMembership",
            },
        ]
    },
}

ADA_RECORD = {
    "asset": {
        "assetHeader": {"externalAssetId": "ada@contoso.com", "vendorAssetId": "u-1", "status": "ACTIVE"},
        "assetDetail": {
            "name": "Ada Lovelace",
            "userAssetClass": {
                "id": "u-1",
                "name": "Ada Lovelace",
                "status": "ACTIVE",
                "email": "ada@contoso.com",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "displayName": "Ada Lovelace",
                "phone": "+44 20 0000",
                "jobTitle": "Analyst",
                "passwordLastChangedAt": "2026-01-02T03:04:05Z",
                "currentAddress": {
                    "streetAddress": "12 St James's Sq",
                    "state": "Greater London",
                    "city": "London",
                    "country": "United Kingdom",
                    "isoCode": "SW1Y 4JH",
                },
                "permissions": [
                    {"id": "ara-1", "name": "Ada Lovelace", "resource": "Payroll"},
                    {"id": "ara-2", "name": "Analysts"},
                ],
            },
            "untypedAttributes": {"entraUserAccountEnabled": True},
            "typedAttributes": {"entraUserDepartment": "Mathematics"},
        },
        "assetRelations": [
            {
                "assetHeader": {"externalAssetId": "g-1", "vendorAssetId": "g-1", "name": "analysts"},
                "assetDetail": {
                    "groupAssetClass": {
                        "id": "g-1",
                        "name": "analysts",
                        "displayName": "Analysts",
                        "visibility": "Private",
                        "description": "Numbers",
                    }
                },
            },
            {
                "assetHeader": {"externalAssetId": "dr-1", "vendorAssetId": "dr-1"},
                "assetDetail": {
                    "groupAssetClass": {
                        "id": "dr-1",
                        "displayName": "Global Reader",
                        "description": "Can read everything",
                    }
                },
            },
            {
                "assetHeader": {"externalAssetId": "au-1", "vendorAssetId": "au-1"},
                "assetDetail": {
                    "groupAssetClass": {"id": "au-1", "displayName": "Europe", "visibility": "HiddenMembership"}
                },
            },
        ],
    }
}


def test_user_with_every_field_present_and_mixed_member_of():
    outcome = apply(USERS, ADA)
    assert outcome.problems == [] and outcome.vendor_asset_id == "u-1"
    assert outcome.record == ADA_RECORD


def test_user_with_nulls_absent_fields_and_empty_arrays():
    bob = {
        "id": "u-2",
        "userPrincipalName": "bob@contoso.com",
        "accountEnabled": False,
        "displayName": None,
        "mail": None,
        "department": None,
        "appRoleAssignments": {"value": []},
        "memberOf": {"value": []},
    }
    assert apply(USERS, bob).record == {
        "asset": {
            "assetHeader": {"externalAssetId": "bob@contoso.com", "vendorAssetId": "u-2", "status": "INACTIVE"},
            "assetDetail": {
                "userAssetClass": {"id": "u-2", "status": "INACTIVE", "permissions": []},
                "untypedAttributes": {"entraUserAccountEnabled": False},
            },
            "assetRelations": [],
        }
    }


def test_user_status_is_unknown_when_account_enabled_is_absent_null_or_not_a_boolean():
    for value in ({}, {"accountEnabled": None}, {"accountEnabled": 1}, {"accountEnabled": "true"}):
        record = apply(USERS, {"id": "u-3", "userPrincipalName": "c@contoso.com", **value}).record
        assert record["asset"]["assetHeader"]["status"] == "UNKNOWN"
        assert record["asset"]["assetDetail"]["userAssetClass"]["status"] == "UNKNOWN"
        assert "assetRelations" not in record["asset"]  # memberOf absent: no key, not an empty array


def test_user_missing_a_required_field_is_not_produced_and_says_why():
    outcome = apply(USERS, {"id": "u-4", "displayName": "No UPN"})
    assert outcome.record is None and outcome.vendor_asset_id == "u-4"
    assert outcome.problems == ["required field userPrincipalName (-> asset.assetHeader.externalAssetId) is missing"]
    assert apply(USERS, {"userPrincipalName": "x@y.z"}).problems == [
        "required field id (-> asset.assetHeader.vendorAssetId) is missing"
    ]
    assert apply(USERS, {"id": "u-5", "userPrincipalName": "  "}).record is None


ANALYSTS = {
    "id": "g-1",
    "displayName": "Analysts",
    "visibility": "Private",
    "description": "Numbers",
    "securityIdentifier": "S-1-12-1-1",
    "securityEnabled": True,
    "uniqueName": "analysts",
    "appRoleAssignments": {
        "value": [{"id": "ara-2", "principalDisplayName": "Analysts", "resourceDisplayName": "Wiki"}]
    },
    "memberOf": {
        "value": [
            {"@odata.type": "#microsoft.graph.group", "id": "g-0", "displayName": "Everyone", "description": None},
            {
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": "dr-2",
                "displayName": "Reports Reader",
                "description": "Reads reports",
            },
        ]
    },
}


def test_group_with_every_field():
    assert apply(GROUPS, ANALYSTS).record == {
        "asset": {
            "assetHeader": {"externalAssetId": "g-1", "vendorAssetId": "g-1"},
            "assetDetail": {
                "name": "Analysts",
                "groupAssetClass": {
                    "id": "g-1",
                    "name": "Analysts",
                    "displayName": "Analysts",
                    "visibility": "Private",
                    "description": "Numbers",
                    "permissions": [{"id": "ara-2", "name": "Analysts", "resource": "Wiki"}],
                },
                "typedAttributes": {"entraGroupSecurityIdentifier": "S-1-12-1-1"},
                "untypedAttributes": {"entraGroupSecurityEnabled": True},
            },
            "assetRelations": [
                {
                    "assetHeader": {"externalAssetId": "g-0", "vendorAssetId": "g-0"},
                    "assetDetail": {
                        "name": "Everyone",
                        "roleAssetClass": {"id": "g-0", "displayName": "Everyone", "name": "Everyone"},
                    },
                },
                {
                    "assetHeader": {"externalAssetId": "dr-2", "vendorAssetId": "dr-2"},
                    "assetDetail": {
                        "name": "Reports Reader",
                        "roleAssetClass": {
                            "id": "dr-2",
                            "description": "Reads reports",
                            "displayName": "Reports Reader",
                            "name": "Reports Reader",
                        },
                    },
                },
            ],
        }
    }


def test_sparse_group_keeps_false_and_drops_nulls():
    record = apply(
        GROUPS,
        {
            "id": "g-2",
            "displayName": None,
            "securityEnabled": False,
            "visibility": None,
            "appRoleAssignments": {"value": []},
            "memberOf": {"value": []},
        },
    ).record
    assert record == {
        "asset": {
            "assetHeader": {"externalAssetId": "g-2", "vendorAssetId": "g-2"},
            "assetDetail": {
                "groupAssetClass": {"id": "g-2", "permissions": []},
                "untypedAttributes": {"entraGroupSecurityEnabled": False},
            },
            "assetRelations": [],
        }
    }


def test_role_status_reads_is_enabled():
    role = {
        "id": "r-1",
        "displayName": "Helpdesk Administrator",
        "description": "Resets passwords",
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    }
    assert apply(ROLES, role).record == {
        "asset": {
            "assetHeader": {"externalAssetId": "r-1", "vendorAssetId": "r-1", "status": "ACTIVE"},
            "assetDetail": {
                "name": "Helpdesk Administrator",
                "roleAssetClass": {
                    "id": "r-1",
                    "name": "Helpdesk Administrator",
                    "displayName": "Helpdesk Administrator",
                    "description": "Resets passwords",
                    "resourceScopes": ["/"],
                },
                "typedAttributes": {"entraRoleTemplateId": "729827e3-9c14-49f7-bb1b-9608f156bbb8"},
            },
        }
    }
    for disabled in ({"isEnabled": False}, {}, {"isEnabled": None}):
        record = apply(ROLES, {"id": "r-2", **disabled}).record
        assert record["asset"]["assetHeader"]["status"] == "UNKNOWN"
    assert "resourceScopes" not in apply(ROLES, {"id": "r-3"}).record["asset"]["assetDetail"]["roleAssetClass"]


def test_pass_through_maps_copy_every_field_but_nulls():
    application = {
        "id": "app-1",
        "appId": "c1",
        "displayName": "Payroll",
        "uniqueName": None,
        "appRoles": [{"id": "x", "value": "payroll.read"}],
        "passwordCredentials": [],
        "info": {"logoUrl": None},
    }
    expected = {
        "thirdPartyObject": {
            "content": {
                "id": "app-1",
                "appId": "c1",
                "displayName": "Payroll",
                "appRoles": [{"id": "x", "value": "payroll.read"}],
                "passwordCredentials": [],
                "info": {"logoUrl": None},
            }
        }
    }
    for transform in (APPLICATIONS, SERVICE_PRINCIPALS, TENANT):
        outcome = apply(transform, application)
        assert outcome.record == expected and outcome.vendor_asset_id == "app-1"


def test_maps_follow_the_specs_tables_row_for_row():
    assert [(r.source, r.target) for r in GROUPS.rows][:3] == [
        ("id", "asset.assetHeader.externalAssetId"),
        ("id", "asset.assetHeader.vendorAssetId"),
        ("displayName", "asset.assetDetail.name"),
    ]
    assert len(GROUPS.rows) == 20 and len(USERS.rows) == 32 and len(ROLES.rows) == 10
    assert [r.target for r in USERS.rows if r.required] == [
        "asset.assetHeader.externalAssetId",
        "asset.assetHeader.vendorAssetId",
    ]
    assert set(MAPS) == {"users", "groups", "roles", "tenant", "applications", "servicePrincipals"}


def row_by_row(transform, source: dict) -> dict:
    """The maps applied literally, one row at a time: what the engine's merged array steps must equal."""
    record: dict = {}
    for rule in transform.rows:
        value = (
            rule.source.pick(source) if isinstance(rule.source, engine.Picker) else engine.resolve(source, rule.source)
        )
        engine.place(record, rule.target, value)
    return record


related = st.fixed_dictionaries(
    {},
    optional={
        "id": st.uuids().map(str),
        "displayName": st.one_of(st.none(), st.text(max_size=5)),
        "description": st.one_of(st.none(), st.text(max_size=5)),
        "principalDisplayName": st.text(max_size=5),
        "resourceDisplayName": st.text(max_size=5),
        "@odata.type": st.sampled_from(["#microsoft.graph.group"]),
    },
)
array = st.one_of(st.none(), st.fixed_dictionaries({"value": st.lists(st.one_of(st.none(), related), max_size=4)}))


@settings(max_examples=200, deadline=None)
@given(member_of=array, assignments=array, enabled=st.sampled_from([True, False, None]))
def test_merged_array_steps_equal_the_rows_applied_one_by_one(member_of, assignments, enabled):
    source = {
        "id": "u1",
        "userPrincipalName": "u1@x",
        "accountEnabled": enabled,
        "memberOf": member_of,
        "appRoleAssignments": assignments,
    }
    for transform in (MAPS["users"], MAPS["groups"]):
        assert engine.apply(transform, source).record == row_by_row(transform, source)


def test_each_maps_generated_function_builds_what_the_step_walk_builds():
    """engine.generate compiles a map into one function for speed; on documents with every
    field present, absent, null or of the wrong type (arrays too), it must agree with the
    step-by-step walk exactly, key order included."""
    import copy
    import json
    import random

    from entra_pipeline.transform import engine
    from entra_pipeline.transform.maps import MAPS

    rng = random.Random(17)
    values = [None, "", " ", "text", "Ünïcode ✓", 0, 7, True, False, [], {}, ["x"], {"a": 1}]

    def document(transform) -> dict:
        doc: dict = {}
        for rule in transform.rows:
            source = rule.source.field if isinstance(rule.source, engine.Picker) else rule.source
            head, _, rest = source.partition("[]")
            parts = head.split(".")
            if rng.random() < 0.2:
                continue
            node = doc
            for part in parts[:-1]:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
            if not rest:
                node[parts[-1]] = copy.deepcopy(rng.choice(values))
                continue
            items = node.setdefault(parts[-1], []) if isinstance(node.get(parts[-1], []), list) else []
            while len(items) < rng.randrange(0, 4):
                items.append({} if rng.random() < 0.9 else copy.deepcopy(rng.choice(values)))
            for item in items:
                if isinstance(item, dict) and rng.random() < 0.8:
                    item[rest.strip(".")] = copy.deepcopy(rng.choice(values))
        return doc

    covered = [m for m in MAPS.values() if m.fast is not None]
    assert {m.entity for m in covered} >= {"users", "groups", "roles"}
    for transform in covered:
        for _ in range(400):
            doc = document(transform)
            vendor_id = doc.get("id") if isinstance(doc.get("id"), str) and doc.get("id") else None
            fast, walked = engine.apply(transform, doc), engine._walk(transform, doc, vendor_id)
            assert (fast.record, fast.problems) == (walked.record, walked.problems), (transform.entity, doc)
            assert json.dumps(fast.record) == json.dumps(walked.record)  # key order too
