"""Describe metadata of the emulated org's objects, in the shape of the REST describe resource."""

import copy

# soapType and the xsd type named in Bulk API deserialisation errors, per field type.
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "picklist": "xsd:string",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}


def field(name: str, field_type: str, label: str, **properties) -> dict:
    """One describe `fields[]` item with the real key names and realistic defaults."""
    custom = name.endswith("__c")
    text_like = field_type in ("string", "textarea", "email", "phone", "url", "picklist")
    length = properties.pop("length", 255 if text_like else 0)
    item = {
        "aggregatable": field_type != "textarea",
        "autoNumber": False,
        "byteLength": length * 3 if text_like else 0,
        "calculated": False,
        "caseSensitive": False,
        "createable": True,
        "custom": custom,
        "defaultValue": None,
        "defaultedOnCreate": field_type == "boolean",
        "digits": 0,
        "externalId": False,
        "filterable": field_type != "textarea",
        "groupable": field_type not in ("textarea", "double", "currency", "percent"),
        "idLookup": False,
        "label": label,
        "length": length,
        "name": name,
        "nameField": False,
        "nillable": field_type != "boolean",
        "picklistValues": [],
        "polymorphicForeignKey": False,
        "precision": 0,
        "referenceTo": [],
        "relationshipName": None,
        "restrictedPicklist": False,
        "scale": 0,
        "soapType": SOAP_TYPES[field_type],
        "sortable": field_type != "textarea",
        "type": field_type,
        "unique": False,
        "updateable": True,
    }
    if field_type == "boolean":
        item["defaultValue"] = False
    if field_type in ("double", "currency", "percent"):
        item.update(precision=18, scale=2)
    item.update(properties)
    return item


# A field Salesforce fills in itself: never written, never empty.
COMPUTED = {"createable": False, "updateable": False, "nillable": False}


def id_field() -> dict:
    return field(
        "Id",
        "id",
        "Record ID",
        length=18,
        byteLength=18,
        createable=False,
        updateable=False,
        nillable=False,
        defaultedOnCreate=True,
        idLookup=True,
    )


def customer_key_field() -> dict:
    """The unique External ID the app's segments upsert by, shared by several objects."""
    return field(
        "Customer_Key__c",
        "string",
        "Customer Key",
        length=64,
        externalId=True,
        idLookup=True,
        unique=True,
    )


def audit_fields() -> list[dict]:
    """System fields every object has; neither createable nor updateable."""
    system = {"createable": False, "updateable": False, "defaultedOnCreate": True}
    return [
        field("IsDeleted", "boolean", "Deleted", **system),
        *(
            field(name, "datetime", label, nillable=False, **system)
            for name, label in (
                ("CreatedDate", "Created Date"),
                ("LastModifiedDate", "Last Modified Date"),
                ("SystemModstamp", "System Modstamp"),
            )
        ),
    ]


def picklist(values: list[str], default: str | None = None) -> list[dict]:
    return [
        {
            "active": True,
            "defaultValue": value == default,
            "label": value,
            "validFor": None,
            "value": value,
        }
        for value in values
    ]


def account_fields() -> list[dict]:
    industries = ["Agriculture", "Banking", "Education", "Retail", "Technology"]
    return [
        id_field(),
        field("Name", "string", "Account Name", nillable=False, nameField=True),
        field("Phone", "phone", "Account Phone", length=40),
        field("Website", "url", "Website"),
        field("Industry", "picklist", "Industry", length=255, picklistValues=picklist(industries)),
        field("AnnualRevenue", "currency", "Annual Revenue"),
        field("NumberOfEmployees", "int", "Employees", digits=8),
        field("BillingCity", "string", "Billing City", length=40),
        field("ShippingCity", "string", "Shipping City", length=40),
        field("Description", "textarea", "Account Description", length=32000),
        reference("OwnerId", "Owner ID", ["User"], "Owner", defaultedOnCreate=True),
        customer_key_field(),
        # The External ID field the Bulk API 2.0 upsert walkthrough adds to Account.
        field("customExtIdField__c", "string", "customExtIdField", externalId=True, idLookup=True),
        *audit_fields(),
    ]


def reference(name: str, label: str, targets: list[str], relationship: str, **properties) -> dict:
    """A lookup field; several targets make it polymorphic (like Task.WhoId)."""
    return field(
        name,
        "reference",
        label,
        length=18,
        referenceTo=targets,
        relationshipName=relationship,
        polymorphicForeignKey=len(targets) > 1,
        **properties,
    )


def contact_fields() -> list[dict]:
    return [
        id_field(),
        reference("AccountId", "Account ID", ["Account"], "Account"),
        reference("ReportsToId", "Reports To ID", ["Contact"], "ReportsTo"),
        reference("OwnerId", "Owner ID", ["User"], "Owner", defaultedOnCreate=True),
        field("FirstName", "string", "First Name", length=40),
        field("LastName", "string", "Last Name", length=80, nillable=False),
        field("Title", "string", "Title", length=128),
        # Salesforce composes a Contact's Name from its first and last names.
        field("Name", "string", "Full Name", length=121, nameField=True, **COMPUTED),
        field("Email", "email", "Email", length=80, idLookup=True),
        field("Phone", "phone", "Business Phone", length=40),
        field("MobilePhone", "phone", "Mobile Phone", length=40),
        field("Birthdate", "date", "Birthdate"),
        field("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
        field("Description", "textarea", "Contact Description", length=32000),
        customer_key_field(),
        field("Lifetime_Value__c", "currency", "Lifetime Value"),
        field("Last_Seen_At__c", "datetime", "Last Seen At"),
        field("Age__c", "double", "Age", precision=3, scale=0),
        *audit_fields(),
    ]


def lead_fields() -> list[dict]:
    statuses = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted"]
    return [
        id_field(),
        field("FirstName", "string", "First Name", length=40),
        field("LastName", "string", "Last Name", length=80, nillable=False),
        field("Company", "string", "Company", nillable=False),
        field("Email", "email", "Email", length=80, idLookup=True),
        field("Phone", "phone", "Phone", length=40),
        field(
            "Status",
            "picklist",
            "Status",
            length=40,
            nillable=False,
            defaultedOnCreate=True,
            defaultValue="Open - Not Contacted",
            picklistValues=picklist(statuses, default="Open - Not Contacted"),
            restrictedPicklist=True,
        ),
        field("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
        *audit_fields(),
    ]


def audience_member_fields() -> list[dict]:
    return [
        id_field(),
        field("Name", "string", "Audience Member Name", length=80, nameField=True),
        customer_key_field(),
        field("Email__c", "email", "Email", length=80),
        field("Segment_Name__c", "string", "Segment Name"),
        field("Exported_At__c", "datetime", "Exported At"),
        field("Lifetime_Value__c", "currency", "Lifetime Value"),
        field("Consent__c", "boolean", "Consent"),
        *audit_fields(),
    ]


def user_fields() -> list[dict]:
    return [
        id_field(),
        field(
            "Username", "string", "Username", length=80, nillable=False, idLookup=True, unique=True
        ),
        field("Email", "email", "Email", length=128, nillable=False, idLookup=True),
        field("FirstName", "string", "First Name", length=40),
        field("LastName", "string", "Last Name", length=80, nillable=False),
        field("IsActive", "boolean", "Active"),
        *audit_fields(),
    ]


def task_fields() -> list[dict]:
    return [
        id_field(),
        field("Subject", "string", "Subject"),
        # Who is polymorphic: CSV headers name the type, e.g. Lead:Who.Email.
        reference("WhoId", "Name ID", ["Contact", "Lead"], "Who"),
        field("Description", "textarea", "Description", length=32000),
        *audit_fields(),
    ]


OBJECTS = {
    "Account": {"label": "Account", "keyPrefix": "001", "fields": account_fields},
    "Contact": {"label": "Contact", "keyPrefix": "003", "fields": contact_fields},
    "Lead": {"label": "Lead", "keyPrefix": "00Q", "fields": lead_fields},
    "Task": {"label": "Task", "keyPrefix": "00T", "fields": task_fields},
    "User": {"label": "User", "keyPrefix": "005", "fields": user_fields},
    "Audience_Member__c": {
        "label": "Audience Member",
        "keyPrefix": "a0A",
        "fields": audience_member_fields,
    },
}
# Object-level permissions of the describe; tests turn them off with Schema.set_object.
OBJECT_PERMISSIONS = ("createable", "updateable", "deletable", "queryable")


class Schema:
    """The org's objects; lookups are case-insensitive as Salesforce's are."""

    def __init__(self) -> None:
        self.objects = {name: copy.deepcopy(spec) for name, spec in OBJECTS.items()}
        for spec in self.objects.values():
            spec["fields"] = spec["fields"]()
            spec.update(dict.fromkeys(OBJECT_PERMISSIONS, True))

    def object_name(self, name: str) -> str | None:
        """The canonical spelling of an object name, or None when the org has no such object."""
        for known in self.objects:
            if known.lower() == name.lower():
                return known
        return None

    def fields(self, object_name: str) -> list[dict]:
        return self.objects[object_name]["fields"]

    def field(self, object_name: str, field_name: str) -> dict | None:
        for item in self.fields(object_name):
            if item["name"].lower() == field_name.lower():
                return item
        return None

    def key_prefix(self, object_name: str) -> str:
        return self.objects[object_name]["keyPrefix"]

    def object_for_id(self, record_id: str) -> str | None:
        for name, spec in self.objects.items():
            if record_id.startswith(spec["keyPrefix"]):
                return name
        return None

    def relationship(self, object_name: str, relationship_name: str) -> dict | None:
        """The reference field whose relationshipName this is (case-insensitive), or None."""
        for item in self.fields(object_name):
            name = item["relationshipName"]
            if item["type"] == "reference" and name and name.lower() == relationship_name.lower():
                return item
        return None

    def set_field(self, object_name: str, field_name: str, **properties) -> None:
        """Change describe properties of a field (tests use it to make a field read-only etc.)."""
        self.field(object_name, field_name).update(properties)

    def set_object(self, object_name: str, **permissions: bool) -> None:
        """Turn object-level permissions (createable, updateable, deletable, queryable) off or
        on; the describe reports them and jobs and queries enforce them."""
        unknown = set(permissions) - set(OBJECT_PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown object permissions: {', '.join(sorted(unknown))}")
        self.objects[object_name].update(permissions)

    def allows(self, object_name: str, permission: str) -> bool:
        return self.objects[object_name][permission]

    def describe(self, object_name: str, *, base_path: str) -> dict:
        """The body of GET sobjects/{object}/describe."""
        spec = self.objects[object_name]
        custom = object_name.endswith("__c")
        object_path = f"{base_path}/sobjects/{object_name}"
        return {
            "activateable": False,
            "childRelationships": [],
            "createable": spec["createable"],
            "custom": custom,
            "customSetting": False,
            "deletable": spec["deletable"],
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "fields": copy.deepcopy(spec["fields"]),
            "keyPrefix": spec["keyPrefix"],
            "label": spec["label"],
            "labelPlural": spec["label"] + "s",
            "layoutable": True,
            "mergeable": not custom,
            "name": object_name,
            "queryable": spec["queryable"],
            "recordTypeInfos": [],
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": spec["deletable"],
            "updateable": spec["updateable"],
            "urls": {
                "compactLayouts": f"{object_path}/describe/compactLayouts",
                "rowTemplate": f"{object_path}/{{ID}}",
                "describe": f"{object_path}/describe",
                "sobject": object_path,
            },
        }
