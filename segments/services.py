"""Creating and changing parent segments and segments, and loading a parent's rows."""

import contextlib
import re

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from common import names
from common.validation import ErrorCollector, InvalidInput

from . import backing, live, loading, refresh, rules, snapshots
from .models import ColumnType, ParentSegment, Profile, Segment

COLUMN_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COLUMN_NAME_MAX_LENGTH = 100
MAX_COLUMNS = 500
NAME_MAX_LENGTH = 200
FOLDER_MAX_LENGTH = 200
EMPTY_RULES = {"type": "and", "conditions": []}
# A change of these makes a live parent's source and key be checked again.
LIVE_CHECKED_KEYS = {"source", "storage", "key_column", "columns"}


def create_parent_segment(*, workspace, data: dict) -> ParentSegment:
    """Create a parent segment from `data` (name, description, key_column, columns).

    `columns` is a non-empty list of {"name", "type"}: names are letters, digits and
    underscores (not starting with a digit) and unique; types are ColumnType values; the key
    column is one of them. Raises InvalidInput keyed by field path (`columns[1].type`).
    """
    backing_fields, inferred = backing.checked_backing_fields(
        data, workspace=workspace, current=None
    )
    if inferred is not None:
        data = {**data, "columns": inferred}
    fields = _checked_parent_fields(data, current=None)
    backing.check_cursor_column(backing_fields, fields["columns"])
    _check_name_free(ParentSegment, workspace, fields["name"], None)
    candidate = ParentSegment(workspace=workspace, **fields, **backing_fields)
    if live.is_live(candidate):
        live.check_parent(candidate)  # readable, one row per key
    with _unique_name(fields["name"], ParentSegment), transaction.atomic():
        parent = ParentSegment.objects.create(workspace=workspace, **fields, **backing_fields)
        refresh.sync_schedule(parent)
        return parent


def update_parent_segment(parent: ParentSegment, *, data: dict) -> ParentSegment:
    """Change a parent segment; keys left out of `data` keep their value.

    Once the parent has rows, a column's type and the key column cannot change (the stored
    values and keys were checked against them); a column cannot be retyped while a segment's
    rules use it, nor removed while a segment's rules or an activation's output mapping uses
    it. Raises InvalidInput.
    """
    with _unique_name(data.get("name"), ParentSegment), transaction.atomic():
        parent = ParentSegment.objects.select_for_update().get(pk=parent.pk)
        backing_fields, inferred = backing.checked_backing_fields(
            data, workspace=parent.workspace, current=parent
        )
        if inferred is not None:
            data = {**data, "columns": inferred}
        fields = _checked_parent_fields(data, current=parent)
        backing.check_cursor_column(
            {"refresh_cursor_column": parent.refresh_cursor_column, **backing_fields},
            fields["columns"],
        )
        _check_name_free(ParentSegment, parent.workspace, fields["name"], parent.pk)
        was_live = live.is_live(parent)
        for name, value in {**fields, **backing_fields}.items():
            setattr(parent, name, value)
        if live.is_live(parent) and LIVE_CHECKED_KEYS & data.keys():
            live.check_parent(parent)
        if live.is_live(parent) and not was_live:
            # Live means no copy: the rows an earlier refresh or upload copied go.
            parent.profiles.all().delete()
            parent.snapshot = None
            parent.row_count = 0
        parent.save()
        refresh.sync_schedule(parent)
    snapshots.drop_unused()
    return parent


def create_segment(*, workspace, data: dict) -> Segment:
    """Create a segment from `data` (parent_segment, name, description, folder, rules).

    The parent segment must belong to `workspace`; the rules (default: everyone, an empty
    "and" group) are checked against its columns by segments.rules.validate, whose errors come
    back under `rules` (`rules.conditions[0].column`). Raises InvalidInput.
    """
    fields = _checked_segment_fields(data, workspace=workspace, current=None)
    _check_name_free(Segment, workspace, fields["name"], None)
    with _unique_name(fields["name"], Segment), transaction.atomic():
        return Segment.objects.create(workspace=workspace, **fields)


def update_segment(segment: Segment, *, data: dict) -> Segment:
    """Change a segment; keys left out of `data` keep their value. Raises InvalidInput."""
    with _unique_name(data.get("name"), Segment), transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        fields = _checked_segment_fields(data, workspace=segment.workspace, current=segment)
        _check_name_free(Segment, segment.workspace, fields["name"], segment.pk)
        for name, value in fields.items():
            setattr(segment, name, value)
        segment.save()
        return segment


NOUNS = {ParentSegment: "parent segment", Segment: "segment"}


def _check_name_free(model, workspace, name: str, current_pk) -> None:
    names.check_name_free(
        model.objects.filter(workspace=workspace),
        name=name,
        current_pk=current_pk,
        noun=NOUNS[model],
    )


@contextlib.contextmanager
def _unique_name(name, model):
    """A save that lost a race for its name to another says so, instead of a 500."""
    try:
        yield
    except IntegrityError as error:
        invalid = names.name_taken_error(error, name=str(name or ""), noun=NOUNS[model])
        if invalid is None:
            raise
        raise invalid from None


def import_profiles_file(
    *, parent_segment: ParentSegment, file, mode: str = "replace", allow_empty: bool = False
):
    """Load a CSV file into the parent's rows; see segments.loading.import_profiles.

    An unknown mode is an InvalidInput on `mode` (the loader itself raises ValueError).
    """
    if mode not in loading.MODES:
        raise InvalidInput({"mode": [f"must be one of: {', '.join(loading.MODES)}"]})
    if live.is_live(parent_segment):
        raise live.NotCopied(live.UPLOAD_REFUSED)
    return loading.import_profiles(
        parent_segment=parent_segment, file=file, mode=mode, allow_empty=allow_empty
    )


# --- parent segments ----------------------------------------------------------------------


def activations_of(target: ParentSegment | Segment) -> list:
    """The activations that send `target` (a segment, or any segment of a parent), by name.

    Read through the reverse relation `activations`: segments never imports that app.
    """
    if isinstance(target, Segment):
        activations = list(target.activations.all())
    else:
        segments = target.segments.prefetch_related("activations")
        activations = [
            activation for segment in segments for activation in segment.activations.all()
        ]
    return sorted(activations, key=lambda activation: (activation.name, activation.pk))


def delete(target: ParentSegment | Segment) -> None:
    """Delete a parent segment (with its rows and segments) or a segment.

    Raises ProtectedError while activations send it: deleting it would delete them and their
    schedules, a side effect nobody asked for. The API answers that error with a 409.
    """
    blocking = activations_of(target)
    if blocking:
        raise ProtectedError(f"{target} is used by activations.", set(blocking))
    target.delete()
    snapshots.drop_unused()  # a deleted parent's snapshot table


def _checked_parent_fields(data: dict, *, current: ParentSegment | None) -> dict:
    collector = ErrorCollector()
    fields = {}

    def given(name: str, default):
        if name in data:
            return data[name]
        return getattr(current, name) if current is not None else default

    name = given("name", "")
    fields["name"] = _checked_name(name, "name", collector)
    fields["description"] = _checked_text(given("description", ""), "description", collector)
    columns = given("columns", None)
    checked_columns = _checked_columns(columns, collector)
    fields["columns"] = checked_columns
    key_column = given("key_column", "")
    if not isinstance(key_column, str) or not key_column:
        collector.add("key_column", "required: the name of the column that identifies a row")
    elif checked_columns is not None and key_column not in {c["name"] for c in checked_columns}:
        collector.add("key_column", f"{key_column!r} is not one of the columns")
    fields["key_column"] = key_column

    if current is not None and checked_columns is not None and not collector.errors:
        _check_column_changes(current, checked_columns, key_column, collector)
    collector.raise_if_any()
    return fields


def _checked_columns(columns, collector: ErrorCollector) -> list[dict] | None:
    """The columns as plain {"name", "type"} dicts, or None when the list itself is unusable."""
    if not isinstance(columns, list) or not columns:
        collector.add("columns", 'required: a non-empty list of {"name", "type"}')
        return None
    if len(columns) > MAX_COLUMNS:
        collector.add("columns", f"at most {MAX_COLUMNS} columns")
        return None
    checked = []
    seen = set()
    for index, column in enumerate(columns):
        path = f"columns[{index}]"
        if not isinstance(column, dict):
            collector.add(path, 'must be an object {"name", "type"}')
            continue
        for key in sorted(set(column) - {"name", "type"}, key=str):
            collector.add(f"{path}.{key}", f"unknown key {key!r}; a column has name, type")
        name = column.get("name")
        if not isinstance(name, str) or not name:
            collector.add(f"{path}.name", "required")
        elif len(name) > COLUMN_NAME_MAX_LENGTH:
            collector.add(f"{path}.name", f"at most {COLUMN_NAME_MAX_LENGTH} characters")
        elif not COLUMN_NAME_PATTERN.fullmatch(name):
            collector.add(
                f"{path}.name",
                "use letters, digits and underscores, not starting with a digit",
            )
        elif name in seen:
            collector.add(f"{path}.name", f"duplicate column name {name!r}")
        seen.add(name)
        column_type = column.get("type")
        if column_type not in ColumnType.values:
            collector.add(
                f"{path}.type",
                f"unknown type {column_type!r}; use one of: " + ", ".join(ColumnType.values),
            )
        checked.append({"name": name, "type": column_type})
    return checked


def _check_column_changes(
    parent: ParentSegment, columns: list[dict], key_column: str, collector: ErrorCollector
) -> None:
    old_types = parent.column_types()
    new_names = {column["name"] for column in columns}
    has_rows = (
        snapshots.is_snapshot(parent) or Profile.objects.filter(parent_segment=parent).exists()
    )
    if has_rows:
        for index, column in enumerate(columns):
            old_type = old_types.get(column["name"])
            if old_type is not None and old_type != column["type"]:
                collector.add(
                    f"columns[{index}].type",
                    f"cannot change {column['name']!r} from {old_type} to {column['type']}: "
                    "the parent segment has rows; import them again into a new parent segment",
                )
        if key_column != parent.key_column:
            collector.add(
                "key_column", "cannot change the key column of a parent segment with rows"
            )
    # A segment's rule values were checked against the column's type, so retyping a column
    # that rules use would leave those segments unable to compile.
    retyped = {
        column["name"]: index
        for index, column in enumerate(columns)
        if old_types.get(column["name"]) not in (None, column["type"])
    }
    if retyped:
        for segment in parent.segments.all():
            for name in sorted(_rule_columns(segment.rules) & retyped.keys()):
                collector.add(
                    f"columns[{retyped[name]}].type",
                    f"cannot change the type of {name!r}: segment {segment.name!r} uses it "
                    "in its rules",
                )
    removed = set(old_types) - new_names
    if not removed:
        return
    for name, user in _column_users(parent):
        if name in removed:
            collector.add("columns", f"cannot remove column {name!r}: {user} uses it")


def _column_users(parent: ParentSegment):
    """(column name, "segment 'X'" or "activation 'Y'") for every use of a column."""
    for segment in parent.segments.all():
        for name in _rule_columns(segment.rules):
            yield name, f"segment {segment.name!r}"
    for activation in activations_of(parent):
        mapping = activation.output_mapping if isinstance(activation.output_mapping, dict) else {}
        for column in mapping.get("columns") or []:
            if isinstance(column, dict) and isinstance(column.get("source"), str):
                yield column["source"], f"activation {activation.name!r}"


def _rule_columns(node) -> set[str]:
    if not isinstance(node, dict):
        return set()
    if isinstance(node.get("column"), str):
        return {node["column"]}
    names = set()
    for child in node.get("conditions") or []:
        names |= _rule_columns(child)
    return names


# --- segments -----------------------------------------------------------------------------


def _checked_segment_fields(data: dict, *, workspace, current: Segment | None) -> dict:
    collector = ErrorCollector()
    fields = {}

    def given(name: str, default):
        if name in data:
            return data[name]
        return getattr(current, name) if current is not None else default

    fields["name"] = _checked_name(given("name", ""), "name", collector)
    fields["description"] = _checked_text(given("description", ""), "description", collector)
    folder = _checked_text(given("folder", ""), "folder", collector).strip()
    if len(folder) > FOLDER_MAX_LENGTH:
        collector.add("folder", f"at most {FOLDER_MAX_LENGTH} characters")
    fields["folder"] = folder

    parent = given("parent_segment", None)
    if not isinstance(parent, ParentSegment):
        collector.add("parent_segment", "required")
        parent = None
    elif parent.workspace_id != workspace.pk:
        collector.add("parent_segment", "must be a parent segment of the same workspace")
        parent = None
    fields["parent_segment"] = parent

    rule_tree = given("rules", None)
    if rule_tree is None:
        rule_tree = dict(EMPTY_RULES)
    if parent is not None:
        try:
            rules.validate(rule_tree, parent.columns)
        except InvalidInput as error:
            for path, messages in error.prefixed("rules").items():
                for message in messages:
                    collector.add(path, message)
    fields["rules"] = rule_tree
    collector.raise_if_any()
    return fields


# --- shared -------------------------------------------------------------------------------


def _checked_name(value, path: str, collector: ErrorCollector) -> str:
    if not isinstance(value, str) or not value.strip():
        collector.add(path, "required")
        return ""
    value = value.strip()
    if len(value) > NAME_MAX_LENGTH:
        collector.add(path, f"at most {NAME_MAX_LENGTH} characters")
    return value


def _checked_text(value, path: str, collector: ErrorCollector) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        collector.add(path, "must be text")
        return ""
    return value
