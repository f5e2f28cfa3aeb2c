"""Static facts the generated tenant is made of: property sets, role templates, permissions.

Property names and types follow Microsoft Graph v1.0's published schema
(`../shared/reference/msgraph-v1.0-metadata.xml`); a test checks every property the
simulator serves against it.
"""

from __future__ import annotations

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
DEFAULT_ACCESS_ROLE_ID = "00000000-0000-0000-0000-000000000000"

ODATA_TYPE = {
    "user": "#microsoft.graph.user",
    "group": "#microsoft.graph.group",
    "directoryRole": "#microsoft.graph.directoryRole",
    "administrativeUnit": "#microsoft.graph.administrativeUnit",
    "servicePrincipal": "#microsoft.graph.servicePrincipal",
    "application": "#microsoft.graph.application",
}

# GET /users (and /users/delta) without $select returns exactly these (user-list.md).
USER_DEFAULT_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
)
USER_PROPERTIES = USER_DEFAULT_PROPERTIES + (
    "accountEnabled", "city", "companyName", "country", "createdDateTime", "deletedDateTime",
    "department", "employeeId", "lastPasswordChangeDateTime", "onPremisesSyncEnabled",
    "postalCode", "state", "streetAddress", "usageLocation", "userType",
)

# group-list.md example plus securityIdentifier (returned by default per the group resource page).
GROUP_DEFAULT_PROPERTIES = (
    "id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName",
    "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname",
    "membershipRule", "membershipRuleProcessingState", "onPremisesLastSyncDateTime",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation",
    "preferredLanguage", "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions",
    "resourceProvisioningOptions", "securityEnabled", "securityIdentifier", "theme", "visibility",
    "onPremisesProvisioningErrors",
)
GROUP_PROPERTIES = GROUP_DEFAULT_PROPERTIES + ("uniqueName",)

DIRECTORY_ROLE_PROPERTIES = ("id", "deletedDateTime", "description", "displayName", "roleTemplateId")
ADMINISTRATIVE_UNIT_PROPERTIES = (
    "id", "deletedDateTime", "description", "displayName", "isMemberManagementRestricted",
    "membershipRule", "membershipRuleProcessingState", "membershipType", "visibility",
)
ROLE_DEFINITION_PROPERTIES = (
    "id", "description", "displayName", "isBuiltIn", "isEnabled", "resourceScopes",
    "rolePermissions", "templateId", "version",
)
ROLE_ASSIGNMENT_PROPERTIES = (
    "id", "appScopeId", "condition", "directoryScopeId", "principalId", "roleDefinitionId",
)
ROLE_ELIGIBILITY_SCHEDULE_PROPERTIES = (
    "id", "appScopeId", "createdDateTime", "createdUsing", "directoryScopeId", "memberType",
    "modifiedDateTime", "principalId", "roleDefinitionId", "scheduleInfo", "status",
)
APPLICATION_PROPERTIES = (
    "id", "deletedDateTime", "appId", "appRoles", "createdDateTime", "description", "displayName",
    "identifierUris", "keyCredentials", "passwordCredentials", "publisherDomain", "signInAudience",
    "tags", "uniqueName",
)
SERVICE_PRINCIPAL_PROPERTIES = (
    "id", "deletedDateTime", "accountEnabled", "appDisplayName", "appId", "appOwnerOrganizationId",
    "appRoleAssignmentRequired", "appRoles", "description", "displayName", "homepage",
    "keyCredentials", "passwordCredentials", "replyUrls",
    "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags",
)
APP_ROLE_ASSIGNMENT_PROPERTIES = (
    "id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId",
    "principalType", "resourceDisplayName", "resourceId",
)
ORGANIZATION_PROPERTIES = (
    "id", "deletedDateTime", "businessPhones", "city", "country", "countryLetterCode",
    "createdDateTime", "displayName", "marketingNotificationEmails", "onPremisesSyncEnabled",
    "postalCode", "preferredLanguage", "privacyProfile", "securityComplianceNotificationMails",
    "securityComplianceNotificationPhones", "state", "street", "technicalNotificationMails",
    "tenantType", "verifiedDomains",
)

PROPERTIES_BY_KIND = {
    "user": USER_PROPERTIES,
    "group": GROUP_PROPERTIES,
    "directoryRole": DIRECTORY_ROLE_PROPERTIES,
    "administrativeUnit": ADMINISTRATIVE_UNIT_PROPERTIES,
    "servicePrincipal": SERVICE_PRINCIPAL_PROPERTIES,
    "application": APPLICATION_PROPERTIES,
}
DEFAULT_PROPERTIES_BY_KIND = {
    "user": USER_DEFAULT_PROPERTIES,
    "group": GROUP_DEFAULT_PROPERTIES,
}

# Application permissions of Microsoft Graph that this simulator knows (name -> app role id,
# as published on the Microsoft Graph service principal).
GRAPH_APP_ROLES = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "RoleManagement.Read.All": "c7fbd983-d9aa-4fa7-84b8-17382c103bc4",
    "RoleEligibilitySchedule.Read.Directory": "ff278e11-4a33-4d0c-83d2-d01dc58929a5",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "AdministrativeUnit.Read.All": "134fd756-38ce-4afd-ba33-e9623dbe66c2",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
    # Delegated-only in real Entra, but the spec lists it, so a test can grant or withhold it.
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
}

# What the spec's "Permissions Required" table names: the simulator grants these by default.
SPEC_PERMISSIONS = (
    "GroupMember.Read.All", "Directory.Read.All", "User.Read.All", "User.Read",
    "RoleManagement.Read.Directory", "RoleEligibilitySchedule.Read.Directory", "Policy.Read.All",
)

# Built-in directory roles (display name, template id) as Entra publishes them.
BUILT_IN_ROLES = (
    ("Global Administrator", "62e90394-69f5-4237-9190-012177145e10"),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8"),
    ("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    ("Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"),
    ("Cloud Application Administrator", "158c047a-c907-4556-b7ef-446551a6b5f7"),
    ("Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de"),
    ("SharePoint Administrator", "f28a1f50-f6e7-4571-818b-6a12f2af6b6c"),
    ("Teams Administrator", "69091246-20e8-4a56-aa4d-066075b2a7a8"),
    ("Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814"),
    ("Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c"),
    ("Billing Administrator", "b0f54661-2d74-4c50-afa3-1ec803f12efe"),
    ("Conditional Access Administrator", "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"),
    ("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"),
    ("Intune Administrator", "3a2c62db-5318-420d-8d74-23affee5d9d5"),
    ("Authentication Administrator", "c4e39bd9-1100-46d3-8c65-fb160da0071f"),
    ("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    ("Guest Inviter", "95e79109-95c0-4d8e-aee3-d01accf2d47b"),
    ("Password Administrator", "966707d0-3269-4727-9be2-8c3a10f19b9d"),
    ("License Administrator", "4d6ac14f-3453-41d0-bef9-a3e0c569773a"),
    ("Compliance Administrator", "17315797-102d-40b4-93e0-432062caca18"),
    ("Privileged Authentication Administrator", "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"),
    ("Directory Writers", "9360feb5-f418-4baa-8175-e2a00bac4301"),
    ("Hybrid Identity Administrator", "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"),
    ("Service Support Administrator", "f023fd81-a637-4b56-95fd-791ac0226033"),
    ("Power Platform Administrator", "11648597-926c-4cf3-9c36-bcebb0ba8dcc"),
    ("Dynamics 365 Administrator", "44367163-eba1-44c3-98af-f5787879f96a"),
    ("Azure DevOps Administrator", "e3973bdf-4987-49ae-837a-ba8e231c7286"),
    ("Message Center Reader", "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"),
    ("Security Operator", "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"),
    ("Cloud Device Administrator", "7698a772-787b-4ac8-901f-60d6b08affd2"),
    ("Directory Synchronization Accounts", "d29b2b05-8046-44ba-8758-1e26182fcf32"),
    ("Partner Tier1 Support", "4ba39ca4-527c-499a-b93d-d9b492c50246"),
    ("Partner Tier2 Support", "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8"),
    ("Application Developer", "cf1c38e5-3621-4004-a7cb-879624dced7c"),
    ("Attack Simulation Administrator", "c430b396-e693-46cc-96f3-db01bf8bb62a"),
)
# Entra has ~100 built-in roles; the rest are filled with synthetic, clearly named ones.
BUILT_IN_ROLE_COUNT = 100
SYNTHETIC_ROLE_AREAS = (
    "Search", "Printer", "Knowledge", "Insights", "Fabric", "Kaizala", "Skype for Business",
    "Windows 365", "Windows Update Deployment", "Lifecycle Workflows", "Identity Governance",
    "External ID User Flow", "Domain Name", "Customer LockBox Access", "Desktop Analytics",
    "Edge", "Network", "Organizational Messages", "Permissions Management", "Tenant Creator",
    "Usage Summary Reports", "Virtual Visits", "Viva Goals", "Viva Pulse", "Yammer",
    "Teams Communications", "Teams Devices", "Exchange Recipient", "B2C IEF Keyset",
    "B2C IEF Policy", "Authentication Policy", "Authentication Extensibility", "Azure Information Protection",
    "Cloud App Security", "Compliance Data", "Dragon", "Extended Directory User", "External Identity Provider",
    "Global Secure Access", "Insights Business Leader", "Microsoft Hardware Warranty", "Attribute Assignment",
    "Attribute Definition", "Attribute Log", "Agent ID", "AI", "Places", "Purview Workload Content",
    "Security Copilot", "Sync Service", "Teams Telephony", "User Experience Success", "Exchange Backup",
    "Entra Backup", "Windows Autopilot", "Microsoft 365 Migration", "Organizational Branding", "People",
    "Password Policy", "Reports Data", "Bookings", "Forms", "Planner", "Stream",
)

FIRST_NAMES = (
    "Adele", "Alex", "Allan", "Bianca", "Christie", "Debra", "Diego", "Emily", "Enrico", "Grady",
    "Henrietta", "Irvin", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam",
    "Nestor", "Patti", "Pradeep", "Sanjay", "José", "Zoë", "Øyvind", "Françoise", "Björn", "Łukasz",
    "Ngozi", "Aiyana", "Søren", "Chloé", "Renée", "Ömer", "Şebnem", "Dương", "Ярослав", "Анна",
    "李", "王", "さくら", "太郎", "민준", "Αλέξανδρος", "Σοφία", "محمد", "Fatma", "Tomás",
)
LAST_NAMES = (
    "Vance", "Wilber", "Deyoung", "Kelly", "Cline", "Berger", "Siciliani", "Braun", "Zeman",
    "Archie", "Cheng", "Sink", "Langer", "Lauer", "Sherman", "Gu", "Holloway", "Valenzuela",
    "Bowen", "Hooper", "Wilke", "Fernandez", "Rai", "Patel", "García", "Müller", "Åström",
    "Nuñez", "O'Brien", "Kowalczyk", "Øverland", "Dubois", "Nguyễn", "Иванов", "Петрова",
    "张", "田中", "김", "Παπαδόπουλος", "الحسن", "Yılmaz", "Okonkwo", "Schäfer", "Lévesque",
)
DEPARTMENTS = (
    "Sales", "Marketing", "Engineering", "Finance", "Human Resources", "Legal", "Operations",
    "IT", "Research & Development", "Customer Success", "Procurement", "Security",
)
JOB_TITLES = (
    "Engineer", "Senior Engineer", "Analyst", "Manager", "Director", "Consultant", "Designer",
    "Accountant", "Recruiter", "Sales Representative", "Support Specialist", "Architect",
)
CITIES = (
    ("Redmond", "WA", "United States", "98052", "US"),
    ("Seattle", "WA", "United States", "98101", "US"),
    ("London", None, "United Kingdom", "EC1A 1BB", "GB"),
    ("München", "Bayern", "Germany", "80331", "DE"),
    ("Bengaluru", "Karnataka", "India", "560001", "IN"),
    ("São Paulo", "SP", "Brazil", "01000-000", "BR"),
    ("Tokyo", None, "Japan", "100-0001", "JP"),
    ("Montréal", "QC", "Canada", "H2X 1Y4", "CA"),
    ("Zürich", "ZH", "Switzerland", "8001", "CH"),
    ("Kraków", None, "Poland", "30-001", "PL"),
)
STREETS = ("Main Street", "Rue de la Paix", "Hauptstraße", "MG Road", "Avenida Paulista", "High Street")
APP_NAMES = (
    "Payroll", "Expense Tracker", "HR Portal", "CRM Sync", "Build Pipeline", "Wiki", "Ticketing",
    "Data Warehouse Loader", "Backup Agent", "Analytics Dashboard", "Partner Portal", "Mobile App",
)
FIRST_PARTY_SERVICE_PRINCIPALS = (
    ("Microsoft Graph", GRAPH_APP_ID),
    ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
    ("Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000"),
    ("Microsoft Teams Services", "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe"),
    ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
)

# Navigation properties of each type in Microsoft's v1.0 CSDL (msgraph-v1.0-metadata.xml):
# a $expand naming one the simulator does not model is 501, one the type lacks is 400.
NAVIGATION_PROPERTIES = {
    "group": (
        "acceptedSenders", "appRoleAssignments", "calendar", "calendarView", "conversations", "createdOnBehalfOf",
        "drive", "drives", "events", "extensions", "groupLifecyclePolicies", "memberOf", "members",
        "membersWithLicenseErrors", "onPremisesSyncBehavior", "onenote", "owners", "permissionGrants", "photo",
        "photos", "planner", "rejectedSenders", "settings", "sites", "team", "threads", "transitiveMemberOf",
        "transitiveMembers",
    ),
    "servicePrincipal": (
        "appManagementPolicies", "appRoleAssignedTo", "appRoleAssignments", "claimsMappingPolicies",
        "createdObjects", "delegatedPermissionClassifications", "endpoints", "federatedIdentityCredentials",
        "homeRealmDiscoveryPolicies", "memberOf", "oauth2PermissionGrants", "ownedObjects", "owners",
        "remoteDesktopSecurityConfiguration", "synchronization", "tokenIssuancePolicies", "tokenLifetimePolicies",
        "transitiveMemberOf",
    ),
}
