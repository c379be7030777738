"""The org's records per object, the recycle bin, and the indexes behind unique fields."""

import datetime

from .ids import IdMaker
from .schema import Schema


def now_stamp() -> str:
    """The current time as Salesforce prints it in JobInfo and audit fields."""
    moment = datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Store:
    """Records are dicts keyed by field API name; callers hold the org lock while writing."""

    def __init__(self, schema: Schema, id_maker: IdMaker) -> None:
        self.schema = schema
        self.id_maker = id_maker
        self.records: dict[str, dict[str, dict]] = {name: {} for name in schema.objects}
        self.bin: dict[str, dict[str, dict]] = {name: {} for name in schema.objects}
        # Every id ever issued, so a purged id can answer ENTITY_IS_DELETED.
        self.issued: set[str] = set()

    def get(self, object_name: str, record_id: str) -> dict | None:
        return self.records[object_name].get(record_id)

    def is_deleted(self, object_name: str, record_id: str) -> bool:
        return record_id in self.issued and record_id not in self.records[object_name]

    def create(self, object_name: str, values: dict) -> dict:
        """Store a new record with defaults filled in; returns it (with Id)."""
        record_id = self.id_maker.make(self.schema.key_prefix(object_name))
        stamp = now_stamp()
        record = {}
        for field in self.schema.fields(object_name):
            record[field["name"]] = field["defaultValue"]
        record.update(values)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=stamp,
            LastModifiedDate=stamp,
            SystemModstamp=stamp,
        )
        self.refresh_computed(object_name, record)
        self.records[object_name][record_id] = record
        self.issued.add(record_id)
        return record

    def update(self, object_name: str, record_id: str, values: dict) -> dict:
        record = self.records[object_name][record_id]
        record.update(values)
        record["LastModifiedDate"] = record["SystemModstamp"] = now_stamp()
        self.refresh_computed(object_name, record)
        return record

    def delete(self, object_name: str, record_id: str, *, hard: bool) -> None:
        record = self.records[object_name].pop(record_id)
        if not hard:
            record["IsDeleted"] = True
            self.bin[object_name][record_id] = record

    def refresh_computed(self, object_name: str, record: dict) -> None:
        # Contact.Name is the compound of FirstName and LastName.
        if object_name == "Contact":
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(part for part in parts if part) or None

    def find(self, object_name: str, field: dict, value, *, exclude_id: str | None = None):
        """Ids of live records whose `field` equals `value` (text compared case-insensitively)."""
        matches = []
        wanted = fold(value, field)
        for record_id, record in self.records[object_name].items():
            if record_id != exclude_id and fold(record.get(field["name"]), field) == wanted:
                matches.append(record_id)
        return matches


def fold(value, field: dict):
    if isinstance(value, str) and not field.get("caseSensitive"):
        return value.lower()
    return value
