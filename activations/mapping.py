"""The output mapping: validation, the output column names, and the row renderer.

A mapping is `{"export_all_columns": bool, "columns": [{"source", "output"}],
"strings": [{"output", "parts": [{"type", "value", "format", "timezone"}]}]}`. A timestamp
part's optional `timezone` (an IANA name such as Asia/Tokyo) is the zone it is written in;
without it, the render context's (the activation's schedule time zone). The output columns are, in
this order: every parent column under its own name (Export All Columns, in the parent's
order), then the added columns, then the strings. An added column's `output` defaults to its
source name. Pure: takes plain data, reads and writes nothing.
"""

import datetime
import json
import math
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from common.validation import ErrorCollector

MAPPING_KEYS = {"export_all_columns", "columns", "strings"}
# In the order the error messages name them.
COLUMN_KEYS = ("source", "output")
STRING_KEYS = ("output", "parts")
PART_KEYS = ("type", "value", "format", "timezone")
PART_TYPES = ("string", "timestamp", "segment_id", "segment_name", "audience_id")
MAX_COLUMNS = 500
MAX_PARTS = 50
MAX_FORMAT_LENGTH = 100

NULL_CELLS = {"leave": "", "clear": "#N/A"}
ISO_8601 = "%Y-%m-%dT%H:%M:%SZ"
# strftime directives whose output is the same on every platform.
FORMAT_DIRECTIVES = set("aAbBdHIjmMpSyYzZf%")

# A Salesforce field API name: a letter, then letters, digits and single underscores, not
# ending in one; 40 characters at most. Custom fields end in __c (person account fields in
# __pc) and may carry a namespace prefix (ns__Field__c). A relationship column names a parent
# record by one of its indexed fields: Rel.Field, custom Rel__r.Field__c, or for a polymorphic
# relationship Type:Rel.Field (Bulk API 2.0 CSV headers).
_NAME = r"[A-Za-z](?:[A-Za-z0-9]|_(?=[A-Za-z0-9]))*"
_NAMESPACE = r"(?:[A-Za-z][A-Za-z0-9]{0,14}__)"
_FIELD = rf"(?:{_NAMESPACE}?(?P<custom>{_NAME})__(?:c|pc)|(?P<standard>{_NAME}))"
_OBJECT = rf"(?:{_NAMESPACE}?{_NAME}__c|{_NAME})"
_RELATIONSHIP = rf"(?:{_NAMESPACE}?(?P<relationship>{_NAME})__r|(?P<standard_relationship>{_NAME}))"
FIELD_NAME = re.compile(_FIELD)
RELATIONSHIP_COLUMN = re.compile(rf"(?:{_OBJECT}:)?{_RELATIONSHIP}\.{_FIELD}")
NAME_MAX_LENGTH = 40
NAME_RULES = (
    "not a Salesforce field API name: use letters, digits and single underscores, start "
    "with a letter, do not end with an underscore (custom fields end in __c; a parent "
    "record's field is Relationship.Field)"
)


@dataclass(frozen=True)
class RenderContext:
    """What one run's string-builder parts draw on; one timestamp for all its rows."""

    segment_id: int
    segment_name: str
    audience_id: int  # the parent segment's id
    timestamp: datetime.datetime  # aware
    # For timestamp parts without their own zone: the schedule's. None keeps the old
    # behaviour: ISO 8601 in UTC, a format in the timestamp's own zone.
    timezone: str | None = None


def validate(mapping: dict, columns: list[dict]) -> None:
    """Check a mapping against the parent's columns; return None or raise InvalidInput.

    Paths are relative to the mapping: `columns[2].source`, `columns[0].output`,
    `strings[1].parts[0].format`, `export_all_columns`, and "" for the mapping as a whole.
    A duplicate output name (compared ignoring case, as Salesforce matches headers) is
    reported on the later of the two.
    """
    errors = ErrorCollector()
    if not isinstance(mapping, dict):
        errors.add("", "must be an object with export_all_columns, columns and strings")
        errors.raise_if_any()
    for key in sorted(set(mapping) - MAPPING_KEYS, key=str):
        errors.add(
            str(key), f"unknown key {key!r}; a mapping has export_all_columns, columns, strings"
        )
    names = [column["name"] for column in columns]
    # Lower-cased output name -> (where it is first output, its spelling there).
    seen: dict[str, tuple[str, str]] = {}

    def claim(name: str, path: str, where: str) -> None:
        if not _check_output_name(name, path, errors):
            return
        if name.lower() not in seen:
            seen[name.lower()] = (where, name)
            return
        first_where, first_name = seen[name.lower()]
        if first_name == name:
            errors.add(path, f"duplicate output name {name!r}: {first_where} already outputs it")
        else:
            errors.add(
                path,
                f"duplicate output name {name!r}: {first_where} already outputs "
                f"{first_name!r} (Salesforce ignores case)",
            )

    export_all = mapping.get("export_all_columns", False)
    if not isinstance(export_all, bool):
        errors.add("export_all_columns", "must be true or false")
    elif export_all:
        for name in names:
            if not _is_field_name(name):
                errors.add(
                    "export_all_columns",
                    f"parent column {name!r} is {NAME_RULES}; add it under another name instead",
                )
            elif name.lower() in seen:
                errors.add(
                    "export_all_columns",
                    f"parent columns {seen[name.lower()][1]!r} and {name!r} differ only in "
                    "case, which Salesforce ignores; add one of them under another name",
                )
            else:
                seen[name.lower()] = ("Export All Columns", name)

    added = _list_of(mapping, "columns", errors)
    strings = _list_of(mapping, "strings", errors)
    if len(added) + len(strings) > MAX_COLUMNS:
        errors.add("", f"too many columns: at most {MAX_COLUMNS} added columns and strings")
        errors.raise_if_any()

    for index, column in enumerate(added):
        path = f"columns[{index}]"
        if not _check_object(column, path, "column", COLUMN_KEYS, errors):
            continue
        source = column.get("source")
        if source is None or source == "":
            errors.add(f"{path}.source", "required")
            continue
        if not isinstance(source, str) or source not in names:
            errors.add(
                f"{path}.source",
                f"unknown column {source!r}; the parent segment has: " + ", ".join(names),
            )
            continue
        output = column.get("output")
        # Messages count from 1, as the editor and the preview number their rows.
        claim(source if output is None else output, f"{path}.output", f"column {index + 1}")

    for index, builder in enumerate(strings):
        path = f"strings[{index}]"
        if not _check_object(builder, path, "string", STRING_KEYS, errors):
            continue
        if builder.get("output") is None:
            errors.add(f"{path}.output", "required")
        else:
            claim(builder["output"], f"{path}.output", f"string column {index + 1}")
        parts = builder.get("parts")
        if not isinstance(parts, list) or not parts:
            errors.add(f"{path}.parts", "add at least one part")
            continue
        if len(parts) > MAX_PARTS:
            errors.add(f"{path}.parts", f"at most {MAX_PARTS} parts")
            continue
        for part_index, part in enumerate(parts):
            _check_part(part, f"{path}.parts[{part_index}]", errors)

    if not errors.errors and not export_all and not added and not strings:
        errors.add("", "nothing to export: choose Export All Columns, or add columns or strings")
    errors.raise_if_any()


def output_columns(mapping: dict, columns: list[dict]) -> list[str]:
    """The CSV header of a valid mapping: export-all columns, added columns, strings."""
    return [output for output, _, _ in _sources(mapping, columns)] + [
        builder["output"] for builder in mapping.get("strings") or []
    ]


def output_column_types(mapping: dict, columns: list[dict]) -> dict[str, str]:
    """The parent column type behind each output column of a valid mapping ("string" for
    String Builder columns), so a destination can refuse a type its field cannot hold."""
    types = {output: column_type for output, _, column_type in _sources(mapping, columns)}
    types.update((builder["output"], "string") for builder in mapping.get("strings") or [])
    return types


def render_rows(
    mapping: dict,
    *,
    columns: list[dict],
    rows: Iterable[dict],
    context: RenderContext,
    null_value: str = "leave",
) -> Iterator[list[str]]:
    """Yield one list of final CSV cell strings per attributes dict of `rows`, lazily.

    Validates the mapping and `null_value` at once (InvalidInput / ValueError), then reads
    `rows` one at a time. Cells: strings as they are; booleans "true"/"false"; numbers as
    plain decimals (no exponent, no ".0" on whole numbers); dates YYYY-MM-DD; timestamps
    ISO 8601 in UTC, with milliseconds when there is a fraction ("2024-05-01T09:30:00.250Z");
    a list or object value as JSON; null (a missing key or JSON null) as "" for null_value
    "leave" (Salesforce keeps the field) or "#N/A" for "clear" (Salesforce empties it).
    A string column is the same on every row of a run: it is built once from `context`.
    """
    if null_value not in NULL_CELLS:
        raise ValueError(f"null_value must be one of: {', '.join(NULL_CELLS)}")
    validate(mapping, columns)
    sources = _sources(mapping, columns)
    timestamp_positions = [
        position
        for position, (_, _, column_type) in enumerate(sources)
        if column_type == "timestamp"
    ]
    tail = [_build_string(builder["parts"], context) for builder in mapping.get("strings") or []]
    return _render(
        [source for _, source, _ in sources],
        timestamp_positions,
        tail,
        rows,
        NULL_CELLS[null_value],
    )


def format_timestamp(
    moment: datetime.datetime, timestamp_format: str | None = None, timezone: str | None = None
) -> str:
    """The export timestamp as a string part shows it, in `timezone` (an IANA name; None
    keeps the moment's own zone).

    Without a format: ISO 8601 to the second, "2026-11-25T15:20:38Z" in UTC or with the
    offset elsewhere ("2026-11-26T00:20:38+09:00"); Salesforce date-time fields take both.
    With a strftime format: the format's fields in that zone (%z shows its offset).
    """
    if timezone:
        moment = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    if not timestamp_format:
        if not timezone or moment.utcoffset() == datetime.timedelta(0):
            return moment.astimezone(datetime.UTC).strftime(ISO_8601)
        return moment.isoformat(timespec="seconds")
    return moment.strftime(timestamp_format)


# --- validation helpers -----------------------------------------------------------------


def _list_of(mapping: dict, key: str, errors: ErrorCollector) -> list:
    value = mapping.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(key, "must be a list")
        return []
    return value


def _is_field_name(name: str) -> bool:
    match = FIELD_NAME.fullmatch(name) or RELATIONSHIP_COLUMN.fullmatch(name)
    if not match:
        return False
    # The 40-character limit applies to each name without its namespace and suffix.
    return all(
        len(part) <= NAME_MAX_LENGTH for part in match.groupdict().values() if part is not None
    )


def _check_object(
    value, path: str, noun: str, keys: tuple[str, ...], errors: ErrorCollector
) -> bool:
    """Whether `value` is an object; reports it if not, and each key it has beyond `keys`."""
    if not isinstance(value, dict):
        errors.add(path, f"must be an object {{{', '.join(keys)}}}")
        return False
    for key in sorted(set(value) - set(keys), key=str):
        errors.add(f"{path}.{key}", f"unknown key {key!r}; a {noun} has {', '.join(keys)}")
    return True


def _check_output_name(name, path: str, errors: ErrorCollector) -> bool:
    if not isinstance(name, str):
        errors.add(path, "must be a string")
        return False
    if not name.strip():
        errors.add(path, "must not be empty")
        return False
    if not _is_field_name(name):
        errors.add(path, f"{name!r} is {NAME_RULES}")
        return False
    return True


def _check_part(part, path: str, errors: ErrorCollector) -> None:
    if not _check_object(part, path, "part", PART_KEYS, errors):
        return
    part_type = part.get("type")
    if part_type not in PART_TYPES:
        errors.add(
            f"{path}.type", f"unknown part type {part_type!r}; use one of: " + ", ".join(PART_TYPES)
        )
        return
    value = part.get("value")
    if part_type == "string":
        if value is None or value == "":
            errors.add(f"{path}.value", "required: the text of this part")
        elif not isinstance(value, str):
            errors.add(f"{path}.value", "must be a string")
    elif value not in (None, ""):
        errors.add(f"{path}.value", "only a string part has a value")
    timestamp_format = part.get("format")
    if part_type == "timestamp":
        message = _format_problem(timestamp_format)
        if message:
            errors.add(f"{path}.format", message)
    elif timestamp_format not in (None, ""):
        errors.add(f"{path}.format", "only a timestamp part has a format")
    timezone = part.get("timezone")
    if part_type == "timestamp":
        message = _timezone_problem(timezone)
        if message:
            errors.add(f"{path}.timezone", message)
    elif timezone not in (None, ""):
        errors.add(f"{path}.timezone", "only a timestamp part has a time zone")


def _timezone_problem(timezone) -> str | None:
    """Why a part's time zone is unusable, or None (empty means the schedule's)."""
    if timezone is None or timezone == "":
        return None
    if not isinstance(timezone, str):
        return "must be a string"
    if timezone in ("localtime", "Factory"):
        return f"unknown time zone {timezone!r}; use an IANA name such as Asia/Tokyo"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {timezone!r}; use an IANA name such as Asia/Tokyo"
    return None


def _format_problem(timestamp_format) -> str | None:
    """Why a timestamp format is unusable, or None (empty means ISO 8601)."""
    if timestamp_format is None or timestamp_format == "":
        return None
    if not isinstance(timestamp_format, str):
        return "must be a string"
    if len(timestamp_format) > MAX_FORMAT_LENGTH:
        return f"at most {MAX_FORMAT_LENGTH} characters"
    directives = re.findall(r"%(.?)", timestamp_format)
    bad = [f"%{directive}" for directive in directives if directive not in FORMAT_DIRECTIVES]
    if bad:
        return (
            f"unknown directive {bad[0]!r}; use strftime directives "
            + " ".join(f"%{directive}" for directive in sorted(FORMAT_DIRECTIVES))
            + ", or leave it empty for ISO 8601"
        )
    if not [directive for directive in directives if directive != "%"]:
        return "has no strftime directive such as %Y-%m-%d; leave it empty for ISO 8601"
    return None


# --- rendering helpers ------------------------------------------------------------------


def _sources(mapping: dict, columns: list[dict]) -> list[tuple[str, str, str]]:
    """(output name, source column, column type) for export-all and added columns, in order."""
    types = {column["name"]: column["type"] for column in columns}
    result = []
    if mapping.get("export_all_columns"):
        result += [(column["name"], column["name"], column["type"]) for column in columns]
    for column in mapping.get("columns") or []:
        source = column["source"]
        output = column.get("output")
        result.append((source if output is None else output, source, types[source]))
    return result


def _build_string(parts: list[dict], context: RenderContext) -> str:
    pieces = []
    for part in parts:
        part_type = part["type"]
        if part_type == "string":
            pieces.append(part["value"])
        elif part_type == "timestamp":
            pieces.append(
                format_timestamp(
                    context.timestamp,
                    part.get("format"),
                    part.get("timezone") or context.timezone,
                )
            )
        elif part_type == "segment_id":
            pieces.append(str(context.segment_id))
        elif part_type == "segment_name":
            pieces.append(context.segment_name)
        else:
            pieces.append(str(context.audience_id))
    return "".join(pieces)


def _render(sources, timestamp_positions, tail, rows, null_cell) -> Iterator[list[str]]:
    # This runs once per cell on millions of rows: strings, the common case, pass through
    # without a function call, and timestamps are fixed up afterwards.
    cell = _cell
    for row in rows:
        cells = [
            value if type(value) is str else null_cell if value is None else cell(value, null_cell)
            for value in map(row.get, sources)
        ]
        for position in timestamp_positions:
            cells[position] = _timestamp_cell(cells[position])
        cells += tail
        yield cells


def _cell(value, null_cell: str) -> str:
    """A non-null JSON value as Salesforce reads it."""
    value_type = type(value)
    if value_type is str:
        return value
    if value_type is bool:
        return "true" if value else "false"
    if value_type is int:
        return str(value)
    if value_type is float:
        return _number(value, null_cell)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: float, null_cell: str) -> str:
    if not math.isfinite(value):
        return null_cell
    if value == 0:
        return "0"  # also for -0.0
    text = repr(value)
    if "e" in text:
        # Shortest round-trip digits, written out without the exponent.
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        return text[:-2]
    return text


def _timestamp_cell(text: str) -> str:
    """Stored "...T09:30:00Z" / "...T09:30:00.250000Z" -> Salesforce's ".SSS" precision.

    Gets the cell text, so a null cell or a value of another type passes through unchanged.
    """
    if len(text) < 21 or text[19] != "." or text[-1] != "Z" or text[10] != "T":
        return text
    return text[:19] + "." + (text[20:-1] + "000")[:3] + "Z"
