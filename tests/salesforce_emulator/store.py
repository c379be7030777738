"""The org's records per object, the recycle bin, and the indexes behind unique fields."""

import datetime
import time
from collections import defaultdict

from .ids import IdMaker
from .schema import Schema


def now_stamp() -> str:
    """The current time as Salesforce prints it in JobInfo and audit fields."""
    moment = datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


JOB_INFO_KEYS = ("id", "operation", "object", "createdById", "createdDate")
JOB_INFO_KEYS += ("systemModstamp", "state")


def job_info_start(job) -> dict:
    """The JobInfo keys ingest and query jobs both begin with, in Salesforce's order."""
    return {key: getattr(job, key) for key in JOB_INFO_KEYS}


def start_in_progress(org, job) -> float | None:
    """Move an UploadComplete job to InProgress and wait the processing delay; the time it
    started, or None when the job had moved on (aborted, deleted) before."""
    with org.lock:
        if job.state != "UploadComplete":
            return None
        job.set_state("InProgress")
    started = time.monotonic()
    time.sleep(org.settings.processing_delay)
    return started


class Store:
    """Records are dicts keyed by field API name; callers hold the org lock while writing."""

    def __init__(self, schema: Schema, id_maker: IdMaker) -> None:
        self.schema = schema
        self.id_maker = id_maker
        self.records: dict[str, dict[str, dict]] = {name: {} for name in schema.objects}
        self.bin: dict[str, dict[str, dict]] = {name: {} for name in schema.objects}
        # Every id ever issued, so a purged id can answer ENTITY_IS_DELETED.
        self.issued: set[str] = set()
        # (object, field) -> folded value -> ids; built on first lookup, kept up to date after,
        # so unique and external id checks stay fast on 10,000-row jobs.
        self.indexes: dict[tuple[str, str], dict] = {}

    def get(self, object_name: str, record_id: str) -> dict | None:
        return self.records[object_name].get(record_id)

    def is_deleted(self, object_name: str, record_id: str) -> bool:
        return record_id in self.issued and record_id not in self.records[object_name]

    def create(self, object_name: str, values: dict, *, record_id: str | None = None) -> dict:
        """Store a new record with defaults filled in; returns it (with Id)."""
        record_id = record_id or self.id_maker.make(self.schema.key_prefix(object_name))
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
        self.index_record(object_name, record, add=True)
        return record

    def update(self, object_name: str, record_id: str, values: dict) -> dict:
        record = self.records[object_name][record_id]
        self.index_record(object_name, record, add=False)
        record.update(values)
        record["LastModifiedDate"] = record["SystemModstamp"] = now_stamp()
        self.refresh_computed(object_name, record)
        self.index_record(object_name, record, add=True)
        return record

    def delete(self, object_name: str, record_id: str, *, hard: bool) -> None:
        record = self.records[object_name].pop(record_id)
        self.index_record(object_name, record, add=False)
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
        if field["name"] == "Id":
            found = [value] if value in self.records[object_name] else []
        else:
            found = sorted(self.index(object_name, field).get(fold(value, field), ()))
        return [record_id for record_id in found if record_id != exclude_id]

    def index(self, object_name: str, field: dict) -> dict:
        key = (object_name, field["name"])
        if key not in self.indexes:
            index = defaultdict(set)
            for record_id, record in self.records[object_name].items():
                index[fold(record.get(field["name"]), field)].add(record_id)
            self.indexes[key] = index
        return self.indexes[key]

    def index_record(self, object_name: str, record: dict, *, add: bool) -> None:
        for (indexed_object, field_name), index in self.indexes.items():
            if indexed_object != object_name:
                continue
            field = self.schema.field(object_name, field_name)
            value = fold(record.get(field_name), field)
            if add:
                index[value].add(record["Id"])
            else:
                index[value].discard(record["Id"])


def fold(value, field: dict):
    if isinstance(value, str) and not field.get("caseSensitive"):
        return value.lower()
    return value
