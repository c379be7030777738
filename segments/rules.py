"""Segment rule trees: validation against the parent's columns, and compilation to one Q.

A rule tree is a group `{"type": "and" | "or", "conditions": [<condition or group>, ...]}`;
a condition is `{"column", "operator", "value"}`. Pure: reads no rows and writes nothing.

Semantics, identical on SQLite and PostgreSQL (the tests run on both):
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
  ends, in the current time zone (settings.TIME_ZONE).
- `within_last_days N` selects today and the N days before it (`today - N <= value <= today`;
  for timestamps, from the start of that first day to the end of today in the current time
  zone); future values are not "within the last days".
"""

import datetime
import json
import math
import re
import string

from django.db import NotSupportedError
from django.db.models import BooleanField, F, FloatField, IntegerField, Q, TextField
from django.db.models.expressions import Expression
from django.db.models.lookups import In, Lookup, Range
from django.utils import timezone

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


def to_q(rules: dict, columns: list[dict], *, today: datetime.date | None = None) -> Q:
    """A Q over segments.Profile selecting the rows that match `rules` (see the module doc).

    Validates first (raises InvalidInput). `today` anchors `within_last_days`; it defaults to
    timezone.localdate(). The Q compiles to one WHERE clause, without joins or subqueries.
    """
    validate(rules, columns)
    compiler = _Compiler(
        {column["name"]: column["type"] for column in columns},
        today or timezone.localdate(),
    )
    compiled = compiler.group(rules)
    if compiled is True:
        return Q()
    if compiled is False:
        # An empty IN is Django's "matches nothing"; the query is then not even sent.
        return Q(pk__in=[])
    return compiled


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


# --- compilation ------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _like_pattern(value: str, *, prefix: bool) -> str:
    escaped = value.translate(_ASCII_LOWER)
    for special in ("\\", "%", "_"):
        escaped = escaped.replace(special, "\\" + special)
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _timestamp_text(moment: datetime.datetime) -> str:
    """The fixed-width text Attribute gives timestamps: "YYYY-MM-DDTHH:MM:SS" + 6 digits."""
    naive_utc = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return naive_utc.isoformat(timespec="microseconds").replace(".", "")


def _start_of_day(day: datetime.date) -> datetime.datetime:
    local = datetime.datetime.combine(day, datetime.time.min, timezone.get_current_timezone())
    return local.astimezone(datetime.UTC)


class _Compiler:
    def __init__(self, types: dict[str, str], today: datetime.date) -> None:
        self.types = types
        self.today = today

    def group(self, node: dict) -> Q | bool:
        """A Q, or True / False for a group that matches every row / no row."""
        is_and = node["type"] == "and"
        parts: list[Q] = []
        for child in node["conditions"]:
            if "type" in child or "conditions" in child:
                compiled = self.group(child)
            else:
                compiled = self.condition(child)
            if compiled is (not is_and):
                # False in an "and" or True in an "or" decides the whole group.
                return compiled
            if compiled is not is_and:
                parts.append(compiled)
        if not parts:
            return is_and
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if is_and else (result | part)
        return result

    def condition(self, node: dict) -> Q:
        column, operator = node["column"], node["operator"]
        column_type = self.types[column]
        value = _operand(operator, column_type, node.get("value"), present="value" in node)
        attribute = Attribute(column, column_type)
        if column_type == "timestamp":
            value = self._timestamp_operand(operator, value)
        if operator == "is_null":
            return Q(IsNullValue(attribute, True))
        if operator == "is_not_null":
            return Q(IsNullValue(attribute, False))
        if operator == "within_last_days":
            first_day = self.today - datetime.timedelta(days=value)
            if column_type == "date":
                return Q(Range(attribute, [first_day.isoformat(), self.today.isoformat()]))
            return Q(
                Compare(attribute, _timestamp_text(_start_of_day(first_day)), operator=">=")
            ) & Q(
                Compare(
                    attribute,
                    _timestamp_text(_start_of_day(self.today + datetime.timedelta(days=1))),
                    operator="<",
                )
            )
        if operator == "contains":
            return Q(LikeIgnoringAsciiCase(attribute, _like_pattern(value, prefix=False)))
        if operator == "starts_with":
            return Q(LikeIgnoringAsciiCase(attribute, _like_pattern(value, prefix=True)))
        if operator == "in":
            return Q(In(attribute, value))
        if operator == "not_in":
            return Q(NotIn(attribute, value))
        if operator == "between":
            return Q(Range(attribute, value))
        if isinstance(value, tuple):
            # A plain date on a timestamp column: before the day starts, or after it ends
            # (from the start of the next day).
            start, next_start = value
            if operator == "before":
                return Q(Compare(attribute, start, operator="<"))
            return Q(Compare(attribute, next_start, operator=">="))
        return Q(Compare(attribute, value, operator=SQL_OPERATORS[operator]))

    def _timestamp_operand(self, operator: str, value):
        if operator == "within_last_days" or value is None:
            return value
        if isinstance(value, list):
            return [_timestamp_text(item) for item in value]
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            next_day = value + datetime.timedelta(days=1)
            return (
                _timestamp_text(_start_of_day(value)),
                _timestamp_text(_start_of_day(next_day)),
            )
        return _timestamp_text(value)


SQL_OPERATORS = {
    "eq": "=",
    "ne": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "before": "<",
    "after": ">",
}

_OUTPUT_FIELDS = {
    "string": TextField,
    "integer": IntegerField,
    "number": FloatField,
    "boolean": BooleanField,
    "date": TextField,
    "timestamp": TextField,
}

# Timestamps are stored as "...T09:30:00Z" or "...T09:30:00.5Z"; as text ".5Z" sorts before
# "Z", so both sides are compared in a fixed width form: the seconds, then 6 fraction digits.
_TIMESTAMP_SQL = (
    "SUBSTR({text}, 1, 19) || "
    "SUBSTR(REPLACE(REPLACE(SUBSTR({text}, 20), 'Z', ''), '.', '') || '000000', 1, 6)"
)


class Attribute(Expression):
    """One column of Profile.attributes as a typed SQL value.

    NULL when the key is missing, JSON null, or of another JSON type than the column's, so a
    stray value never makes the database raise a cast error.
    """

    def __init__(self, column: str, column_type: str) -> None:
        super().__init__(output_field=_OUTPUT_FIELDS[column_type]())
        self.column = column
        self.column_type = column_type
        self.source = F("attributes")

    def get_source_expressions(self):
        return [self.source]

    def set_source_expressions(self, expressions):
        (self.source,) = expressions

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"segment rules need SQLite or PostgreSQL, not {connection.vendor}")

    def as_sqlite(self, compiler, connection):
        document, document_params = compiler.compile(self.source)
        # The key is quoted in the JSON path so that any name ("2024", "a.b") is one key.
        path = "$." + json.dumps(self.column)
        json_type = f"JSON_TYPE({document}, %s)"
        extract = f"JSON_EXTRACT({document}, %s)"
        pair = (*document_params, path, *document_params, path)
        if self.column_type == "boolean":
            sql = f"(CASE {json_type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
            return sql, (*document_params, path)
        if self.column_type == "integer":
            return f"(CASE WHEN {json_type} IN ('integer', 'real') THEN {extract} END)", pair
        if self.column_type == "number":
            sql = f"(CASE WHEN {json_type} IN ('integer', 'real') THEN CAST({extract} AS REAL) END)"
            return sql, pair
        text = f"(CASE WHEN {json_type} = 'text' THEN {extract} END)"
        if self.column_type == "timestamp":
            return f"({_TIMESTAMP_SQL.format(text=text)})", pair * 2
        return text, pair

    def as_postgresql(self, compiler, connection):
        document, document_params = compiler.compile(self.source)
        json_type = f"JSONB_TYPEOF({document} -> %s)"
        text = f"({document} ->> %s)"
        pair = (*document_params, self.column, *document_params, self.column)
        if self.column_type == "boolean":
            return f"(CASE WHEN {json_type} = 'boolean' THEN {text}::boolean END)", pair
        if self.column_type == "integer":
            return f"(CASE WHEN {json_type} = 'number' THEN {text}::numeric END)", pair
        if self.column_type == "number":
            sql = f"(CASE WHEN {json_type} = 'number' THEN {text}::double precision END)"
            return sql, pair
        string_value = f"(CASE WHEN {json_type} = 'string' THEN {text} END)"
        if self.column_type == "timestamp":
            string_value = f"({_TIMESTAMP_SQL.format(text=string_value)})"
            pair = pair * 2
        # "C" orders by code point, like SQLite, whatever the database's default collation.
        return f'({string_value} COLLATE "C")', pair


class Compare(Lookup):
    """`attribute <operator> value`; false for a null attribute."""

    lookup_name = "rule_compare"

    def __init__(self, lhs, rhs, *, operator: str) -> None:
        self.operator = operator
        super().__init__(lhs, rhs)

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} {self.operator} {rhs_sql}", (*lhs_params, *rhs_params)


class NotIn(In):
    """`attribute NOT IN (...)`; false for a null attribute, as in SQL."""

    lookup_name = "rule_not_in"

    def get_rhs_op(self, connection, rhs):
        return f"NOT IN {rhs}"


class IsNullValue(Lookup):
    """`attribute IS NULL` (rhs True) or `IS NOT NULL` (rhs False)."""

    lookup_name = "rule_is_null"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} IS {'' if self.rhs else 'NOT '}NULL", lhs_params


class LikeIgnoringAsciiCase(Lookup):
    """`LOWER(attribute) LIKE pattern`, the pattern already lower-cased and escaped."""

    lookup_name = "rule_like"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"LOWER({lhs_sql}) LIKE %s ESCAPE '\\'", (*lhs_params, self.rhs)
