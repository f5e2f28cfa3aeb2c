"""The spec's "Transformation Maps", row for row and in the spec's order.

Where the spec is ambiguous the choice is marked DECISION and explained in
docs/transform-decisions.md.
"""

from __future__ import annotations

from .engine import TransformMap, picker, row

ACCOUNT_STATUS = picker("accountEnabled", {True: "ACTIVE", False: "INACTIVE"}, otherwise="UNKNOWN")

GROUPS = TransformMap(
    "groups",
    rows=(
        row("id", "asset.assetHeader.externalAssetId", required=True),
        row("id", "asset.assetHeader.vendorAssetId", required=True),
        row("displayName", "asset.assetDetail.name"),
        row("id", "asset.assetDetail.groupAssetClass.id"),
        row("displayName", "asset.assetDetail.groupAssetClass.name"),
        row("displayName", "asset.assetDetail.groupAssetClass.displayName"),
        row("visibility", "asset.assetDetail.groupAssetClass.visibility"),
        row("description", "asset.assetDetail.groupAssetClass.description"),
        row("appRoleAssignments.value[].id", "asset.assetDetail.groupAssetClass.permissions[].id"),
        row("appRoleAssignments.value[].principalDisplayName", "asset.assetDetail.groupAssetClass.permissions[].name"),
        row(
            "appRoleAssignments.value[].resourceDisplayName", "asset.assetDetail.groupAssetClass.permissions[].resource"
        ),
        row("memberOf.value[].id", "asset.assetRelations[].assetHeader.externalAssetId"),
        row("memberOf.value[].id", "asset.assetRelations[].assetHeader.vendorAssetId"),
        row("memberOf.value[].displayName", "asset.assetRelations[].assetDetail.name"),
        row("memberOf.value[].id", "asset.assetRelations[].assetDetail.roleAssetClass.id"),
        row("memberOf.value[].description", "asset.assetRelations[].assetDetail.roleAssetClass.description"),
        row("memberOf.value[].displayName", "asset.assetRelations[].assetDetail.roleAssetClass.displayName"),
        row("memberOf.value[].displayName", "asset.assetRelations[].assetDetail.roleAssetClass.name"),
        row("securityIdentifier", "asset.assetDetail.typedAttributes.entraGroupSecurityIdentifier"),
        row("securityEnabled", "asset.assetDetail.untypedAttributes.entraGroupSecurityEnabled"),
    ),
)

USERS = TransformMap(
    "users",
    rows=(
        row("userPrincipalName", "asset.assetHeader.externalAssetId", required=True),
        row("id", "asset.assetHeader.vendorAssetId", required=True),
        row(ACCOUNT_STATUS, "asset.assetHeader.status"),
        row("id", "asset.assetDetail.userAssetClass.id"),
        row("displayName", "asset.assetDetail.userAssetClass.name"),
        row("displayName", "asset.assetDetail.name"),
        row(ACCOUNT_STATUS, "asset.assetDetail.userAssetClass.status"),
        row("mail", "asset.assetDetail.userAssetClass.email"),
        row("givenName", "asset.assetDetail.userAssetClass.firstName"),
        row("surname", "asset.assetDetail.userAssetClass.lastName"),
        row("displayName", "asset.assetDetail.userAssetClass.displayName"),
        row("mobilePhone", "asset.assetDetail.userAssetClass.phone"),
        row("jobTitle", "asset.assetDetail.userAssetClass.jobTitle"),
        row("lastPasswordChangeDateTime", "asset.assetDetail.userAssetClass.passwordLastChangedAt"),
        row("streetAddress", "asset.assetDetail.userAssetClass.currentAddress.streetAddress"),
        row("state", "asset.assetDetail.userAssetClass.currentAddress.state"),
        row("city", "asset.assetDetail.userAssetClass.currentAddress.city"),
        row("country", "asset.assetDetail.userAssetClass.currentAddress.country"),
        row("postalCode", "asset.assetDetail.userAssetClass.currentAddress.isoCode"),
        row("appRoleAssignments.value[].id", "asset.assetDetail.userAssetClass.permissions[].id"),
        row("appRoleAssignments.value[].principalDisplayName", "asset.assetDetail.userAssetClass.permissions[].name"),
        row(
            "appRoleAssignments.value[].resourceDisplayName", "asset.assetDetail.userAssetClass.permissions[].resource"
        ),
        row("memberOf.value[].id", "asset.assetRelations[].assetHeader.externalAssetId"),
        row("memberOf.value[].id", "asset.assetRelations[].assetHeader.vendorAssetId"),
        row("memberOf.value[].uniqueName", "asset.assetRelations[].assetHeader.name"),
        row("memberOf.value[].id", "asset.assetRelations[].assetDetail.groupAssetClass.id"),
        row("memberOf.value[].uniqueName", "asset.assetRelations[].assetDetail.groupAssetClass.name"),
        row("memberOf.value[].displayName", "asset.assetRelations[].assetDetail.groupAssetClass.displayName"),
        row("memberOf.value[].visibility", "asset.assetRelations[].assetDetail.groupAssetClass.visibility"),
        row("memberOf.value[].description", "asset.assetRelations[].assetDetail.groupAssetClass.description"),
        row("accountEnabled", "asset.assetDetail.untypedAttributes.entraUserAccountEnabled"),
        row("department", "asset.assetDetail.typedAttributes.entraUserDepartment"),
    ),
)

ROLES = TransformMap(
    "roles",
    rows=(
        row("id", "asset.assetHeader.externalAssetId", required=True),
        row("id", "asset.assetHeader.vendorAssetId", required=True),
        # DECISION: role definitions have no accountEnabled; the lookup reads isEnabled (its own
        # "is this role usable" flag) with the spec's outcomes: ACTIVE if true, else UNKNOWN.
        row(picker("isEnabled", {True: "ACTIVE"}, otherwise="UNKNOWN"), "asset.assetHeader.status"),
        row("displayName", "asset.assetDetail.name"),
        row("id", "asset.assetDetail.roleAssetClass.id"),
        row("displayName", "asset.assetDetail.roleAssetClass.name"),
        row("displayName", "asset.assetDetail.roleAssetClass.displayName"),
        row("description", "asset.assetDetail.roleAssetClass.description"),
        row("resourceScopes", "asset.assetDetail.roleAssetClass.resourceScopes"),
        row("templateId", "asset.assetDetail.typedAttributes.entraRoleTemplateId"),
    ),
)

# Additional maps for ETM Identity (ISPM): `* -> thirdPartyObject.content.&`
TENANT = TransformMap("tenant", passthrough="thirdPartyObject.content")
APPLICATIONS = TransformMap("applications", passthrough="thirdPartyObject.content")
SERVICE_PRINCIPALS = TransformMap("servicePrincipals", passthrough="thirdPartyObject.content")

MAPS = {m.entity: m for m in (USERS, GROUPS, ROLES, TENANT, APPLICATIONS, SERVICE_PRINCIPALS)}
