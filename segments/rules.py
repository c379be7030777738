"""Segment rule trees: validation against the parent's columns, and their semantics.

A rule tree is a group `{"type": "and" | "or", "conditions": [<condition or group>, ...]}`;
a condition is `{"column", "operator", "value"}`. Pure: reads no rows and writes nothing.
`segments/sql.py` compiles a tree to one SQL WHERE clause for the engine holding the rows.

Semantics, identical on every engine (tests/segments/test_sql_corpus.py runs one corpus on
SQLite, PostgreSQL and DuckDB):
- A value that is missing, JSON null, or of another JSON type than its column's is null.
  Null matches only `is_null`: every other operator, `ne` and `not_in` included, is false
  for it (SQL semantics), so `ne "JP"` does not select rows without a country.
- An empty `and` group matches every row; an empty `or` group matches none.
- `contains` and `starts_with` ignore case for ASCII letters only ("a" matches "A", "é" does
  not match "É"): SQLite's LIKE and LOWER know no other case, and PostgreSQL is made to agree.
- Strings order by code point (`gt "M"`), as SQLite does and PostgreSQL's "C" collation does.
- Numbers compare as double precision; integers exactly.
- Timestamps compare to the microsecond. A value without an offset is UTC. On a timestamp
  column `before`/`after` also take a plain date, meaning before that day starts / after it
  ends, in the current time zone (settings.TIME_ZONE; a run: its activation's zone).
- `within_last_days N` selects today and the N days before it (`today - N <= value <= today`;
  for timestamps, from the start of that first day to the end of today in the current time
  zone; a run: its activation's zone); future values are not "within the last days".
"""

import datetime
import math
import re
import string

from common.text import text_problem
from common.validation import ErrorCollector

MAX_DEPTH = 10
MAX_CONDITIONS = 200
MAX_LIST_VALUES = 1000
MAX_DAYS = 100_000
# Values stored by segments.loading are within 64 bits; beyond that SQLite's JSON loses digits.
INTEGER_RANGE = (-(2**63), 2**63 - 1)

GROUP_TYPES = ("and", "or")
GROUP_KEYS = {"type", "conditions"}
CONDITION_KEYS = {"column", "operator", "value"}

COMPARISON = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
NULL_CHECKS = ("is_null", "is_not_null")
TEMPORAL = ("before", "after", "within_last_days")
OPERATORS = (*COMPARISON, "contains", "starts_with", *NULL_CHECKS, *TEMPORAL)
OPERATORS_BY_TYPE = {
    "string": (*COMPARISON, "contains", "starts_with", *NULL_CHECKS),
    "integer": (*COMPARISON, *NULL_CHECKS),
    "number": (*COMPARISON, *NULL_CHECKS),
    "boolean": ("eq", "ne", *NULL_CHECKS),
    "date": (*COMPARISON, *TEMPORAL, *NULL_CHECKS),
    "timestamp": (*COMPARISON, *TEMPORAL, *NULL_CHECKS),
}

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?"
)
EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date like 2024-05-01",
    "timestamp": "a timestamp like 2024-05-01T09:30:00Z",
}


def validate(rules: dict, columns: list[dict]) -> None:
    """Check a rule tree against the parent's columns; return None or raise InvalidInput.

    Every problem is reported, keyed by the path of what failed: `type`,
    `conditions[1].conditions[0].value`, `conditions[2].column`, `conditions[0].value[3]`.
    Groups nest at most MAX_DEPTH levels and a tree holds at most MAX_CONDITIONS conditions
    and groups; a bigger tree is reported at the root path "".
    """
    collector = ErrorCollector()
    _Validator(columns, collector).group(rules, path="", depth=1)
    collector.raise_if_any()


# --- validation -------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Validator:
    def __init__(self, columns: list[dict], collector: ErrorCollector) -> None:
        self.types = {column["name"]: column["type"] for column in columns}
        self.collector = collector
        self.count = 0
        self.too_many = False

    def add(self, path: str, message: str) -> None:
        self.collector.add(path, message)

    def group(self, node, *, path: str, depth: int) -> None:
        if not isinstance(node, dict):
            self.add(path, 'must be a group: {"type": "and" | "or", "conditions": [...]}')
            return
        for key in sorted(set(node) - GROUP_KEYS, key=str):
            self.add(_join(path, str(key)), f"unknown key {key!r}; a group has type, conditions")
        if node.get("type") not in GROUP_TYPES:
            self.add(_join(path, "type"), 'must be "and" or "or"')
        conditions = node.get("conditions")
        if not isinstance(conditions, list):
            self.add(_join(path, "conditions"), "must be a list of conditions and groups")
            return
        for index, child in enumerate(conditions):
            self.count += 1
            if self.count > MAX_CONDITIONS:
                if not self.too_many:
                    self.too_many = True
                    self.add("", f"too many conditions: at most {MAX_CONDITIONS}")
                return
            child_path = _join(path, f"conditions[{index}]")
            if isinstance(child, dict) and ("type" in child or "conditions" in child):
                if depth >= MAX_DEPTH:
                    self.add(child_path, f"groups nest at most {MAX_DEPTH} levels deep")
                else:
                    self.group(child, path=child_path, depth=depth + 1)
            else:
                self.condition(child, path=child_path)

    def condition(self, node, *, path: str) -> None:
        if not isinstance(node, dict):
            self.add(path, "must be a condition {column, operator, value} or a group")
            return
        for key in sorted(set(node) - CONDITION_KEYS, key=str):
            self.add(
                _join(path, str(key)),
                f"unknown key {key!r}; a condition has column, operator, value",
            )
        column = node.get("column")
        operator = node.get("operator")
        column_type = None
        if column is None:
            self.add(_join(path, "column"), "required")
        elif not isinstance(column, str) or column not in self.types:
            self.add(
                _join(path, "column"),
                f"unknown column {column!r}; the parent segment has: " + ", ".join(self.types),
            )
        else:
            column_type = self.types[column]
        if operator is None:
            self.add(_join(path, "operator"), "required")
            return
        if not isinstance(operator, str) or operator not in OPERATORS:
            self.add(
                _join(path, "operator"),
                f"unknown operator {operator!r}; use one of: " + ", ".join(OPERATORS),
            )
            return
        if column_type is None:
            return
        allowed = OPERATORS_BY_TYPE.get(column_type, NULL_CHECKS)
        if operator not in allowed:
            self.add(
                _join(path, "operator"),
                f"{operator} does not apply to {column_type} column {column!r}; "
                "use one of: " + ", ".join(allowed),
            )
            return
        value_path = _join(path, "value")
        try:
            _operand(operator, column_type, node.get("value"), present="value" in node)
        except _BadValue as error:
            self.add(value_path + error.where, error.message)


class _BadValue(Exception):
    def __init__(self, message: str, where: str = "") -> None:
        self.message = message
        self.where = where  # "[2]" for the third item of a list value


def _operand(operator: str, column_type: str, value, *, present: bool):
    """The checked, normalised value of a condition, or _BadValue.

    Dates become "YYYY-MM-DD"; timestamps aware UTC datetimes (or a date, for a plain-date
    `before`/`after` on a timestamp column); numbers floats.
    """
    if operator in NULL_CHECKS:
        if value is not None:
            raise _BadValue(f"{operator} takes no value")
        return None
    if not present or value is None:
        raise _BadValue("required")
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _BadValue(f"{operator} needs a non-empty list of values")
        if len(value) > MAX_LIST_VALUES:
            raise _BadValue(f"at most {MAX_LIST_VALUES} values")
        return [_scalar(column_type, item, where=f"[{index}]") for index, item in enumerate(value)]
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _BadValue("between needs a list of two values [low, high]")
        low = _scalar(column_type, value[0], where="[0]")
        high = _scalar(column_type, value[1], where="[1]")
        if low > high:
            raise _BadValue("the low value is greater than the high value")
        return [low, high]
    if operator in ("contains", "starts_with"):
        if not isinstance(value, str) or not value:
            raise _BadValue("expected a non-empty string")
        return _storable(value)
    if operator == "within_last_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise _BadValue(f"expected a whole number of days from 0 to {MAX_DAYS}")
        return value
    if operator in ("before", "after") and column_type == "timestamp":
        if isinstance(value, str) and DATE_PATTERN.fullmatch(value):
            return datetime.date.fromisoformat(_scalar("date", value))
        return _scalar(column_type, value, expected="a timestamp or a date")
    return _scalar(column_type, value)


def _scalar(column_type: str, value, *, where: str = "", expected: str = ""):
    expected = expected or EXPECTED[column_type]
    if column_type == "string":
        if isinstance(value, str):
            return _storable(value, where)
    elif column_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            if INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
                return value
            raise _BadValue("the integer is out of range (64 bits)", where)
    elif column_type == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
            raise _BadValue("the number is out of range", where)
    elif column_type == "boolean":
        if isinstance(value, bool):
            return value
    elif column_type == "date":
        if isinstance(value, str) and DATE_PATTERN.fullmatch(value):
            try:
                return datetime.date.fromisoformat(value).isoformat()
            except ValueError:
                raise _BadValue(f"{value!r} is not a date", where) from None
    elif (
        column_type == "timestamp" and isinstance(value, str) and TIMESTAMP_PATTERN.fullmatch(value)
    ):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise _BadValue(f"{value!r} is not a timestamp", where) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC)
    raise _BadValue(f"expected {expected}", where)


def _storable(text: str, where: str = "") -> str:
    """`text`, unless no database could compare with it (NUL, lone surrogates)."""
    problem = text_problem(text)
    if problem:
        raise _BadValue(problem, where)
    return text


# --- shared with the SQL compiler (segments/sql.py) ----------------------------------

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _like_pattern(value: str, *, prefix: bool) -> str:
    escaped = value.translate(_ASCII_LOWER)
    for special in ("\\", "%", "_"):
        escaped = escaped.replace(special, "\\" + special)
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _timestamp_text(moment: datetime.datetime) -> str:
    """The fixed-width text timestamps compare as: "YYYY-MM-DDTHH:MM:SS" + 6 digits."""
    naive_utc = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return naive_utc.isoformat(timespec="microseconds").replace(".", "")
