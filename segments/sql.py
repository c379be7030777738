"""Segment rule trees compiled to one SQLAlchemy Core WHERE clause, for whichever engine holds
the rows: our profile store (`segments_profile.attributes`, JSON, on PostgreSQL or SQLite) or
a plain table or query in another database (the parent's columns as real columns).

The semantics are those documented in `segments/rules.py`; `tests/segments/test_sql_corpus.py`
runs one corpus of rule trees and rows on SQLite, PostgreSQL and DuckDB and checks they select
the same rows as `rules.to_q`. Pure: reads no rows, imports no Django model.

A `Columns` object says how to read a column where the rows live: `typed(name, type)` for
comparisons (NULL when the value is missing or of another type) and `text(name, type)` (or
`raw` read once, then `text_of`), the value as canonical text (strings as they are, booleans `true`/`false`, numbers in plain
decimal without exponent or ".0", dates `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`
in UTC), which `activations/sqlrender.py` turns into Salesforce's cells.
"""

import datetime
import json
import zoneinfo

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from . import rules

ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# Our column types as SQL types, for a table's or query's columns read as ours.
COLUMN_TYPES = {
    "string": sa.String(),
    "integer": sa.BigInteger(),
    "number": sa.Double(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "timestamp": sa.DateTime(),
}


class UnsupportedStore(ValueError):
    """The rows live in a database the profile store does not support."""


# --- dialect-specific functions -----------------------------------------------------------


class ascii_lower(FunctionElement):  # noqa: N801 (SQL function names are lower case)
    """Lower-cases ASCII letters only, as the rules' `contains`/`starts_with` fold case."""

    type = sa.String()
    inherit_cache = True


@compiles(ascii_lower)
def _ascii_lower(element, compiler, **kw):
    (argument,) = element.clauses
    return "TRANSLATE(%s, '%s', '%s')" % (  # noqa: UP031
        compiler.process(argument, **kw),
        ASCII_UPPER,
        ASCII_UPPER.lower(),
    )


@compiles(ascii_lower, "sqlite")
def _ascii_lower_sqlite(element, compiler, **kw):
    # SQLite's LOWER knows ASCII only (without the ICU extension).
    return "LOWER(%s)" % compiler.process(element.clauses, **kw)  # noqa: UP031


@compiles(ascii_lower, "postgresql")
def _ascii_lower_postgresql(element, compiler, **kw):
    # Under the "C" collation PostgreSQL's LOWER folds ASCII letters only.
    (argument,) = element.clauses
    return 'LOWER((%s) COLLATE "C")' % compiler.process(argument, **kw)  # noqa: UP031


class code_point_order(FunctionElement):  # noqa: N801
    """A string that compares by code point whatever the database's default collation."""

    type = sa.String()
    inherit_cache = True


@compiles(code_point_order)
def _code_point_order(element, compiler, **kw):
    # SQLite and DuckDB compare UTF-8 bytes, i.e. code points.
    (argument,) = element.clauses
    return compiler.process(argument, **kw)


@compiles(code_point_order, "postgresql")
def _code_point_order_postgresql(element, compiler, **kw):
    (argument,) = element.clauses
    return '((%s) COLLATE "C")' % compiler.process(argument, **kw)  # noqa: UP031


def _without_point_zero(text) -> ColumnElement:
    length = sa.func.length(text)
    return sa.case(
        (_substr(text, length - 1) == ".0", _substr(text, 1, length - 2)),
        else_=text,
    )


def _zeros_sql(count: str, dialect_name: str) -> str:
    if dialect_name == "sqlite":
        return f"REPLACE(HEX(ZEROBLOB({count})), '00', '0')"
    return f"REPEAT('0', {count})"


def _substr(*arguments) -> ColumnElement:
    return sa.func.substr(*arguments, type_=sa.String)


def _replace(*arguments) -> ColumnElement:
    return sa.func.replace(*arguments, type_=sa.String)


class plain_number(FunctionElement):  # noqa: N801
    """Shortest round-trip number text ("1e+20", "1.5e-07", "1234.0", "-0.0") written as
    activations.mapping writes numbers: no exponent, no ".0" on whole numbers, "0" for zero,
    NULL for NaN and infinities.

    Expects the form Python's repr, DuckDB's DOUBLE output and SQLite's stored JSON share:
    digits with an optional point, or a mantissa with e±NN for |x| >= 1e16 or < 1e-4.
    """

    type = sa.String()
    inherit_cache = True


@compiles(plain_number)
def _plain_number(element, compiler, **kw):
    (argument,) = element.clauses
    t = compiler.process(argument, **kw)
    digits = f"REPLACE(REPLACE(SUBSTR({t}, 1, INSTR({t}, 'e') - 1), '-', ''), '.', '')"
    exponent = f"CAST(SUBSTR({t}, INSTR({t}, 'e') + 1) AS INTEGER)"
    sign = f"(CASE WHEN SUBSTR({t}, 1, 1) = '-' THEN '-' ELSE '' END)"
    zeros_after = _zeros_sql(f"{exponent} + 1 - LENGTH({digits})", compiler.dialect.name)
    zeros_before = _zeros_sql(f"-{exponent} - 1", compiler.dialect.name)
    return (
        f"(CASE WHEN {t} IN ('NaN', 'nan', '-nan', 'inf', '-inf', 'Infinity', '-Infinity') "
        "THEN NULL "
        f"WHEN INSTR({t}, 'e') > 0 THEN (CASE WHEN {exponent} >= 0 "
        f"THEN {sign} || {digits} || {zeros_after} "
        f"ELSE {sign} || '0.' || {zeros_before} || {digits} END) "
        f"WHEN {t} IN ('0', '-0', '0.0', '-0.0') THEN '0' "
        f"WHEN SUBSTR({t}, LENGTH({t}) - 1) = '.0' THEN SUBSTR({t}, 1, LENGTH({t}) - 2) "
        f"ELSE {t} END)"
    )


@compiles(plain_number, "postgresql")
def _plain_number_postgresql(element, compiler, **kw):
    # numeric's text has no exponent; a jsonb number's text is already numeric's.
    (argument,) = element.clauses
    t = compiler.process(argument, **kw)
    return (
        f"REGEXP_REPLACE(CASE WHEN {t} IN ('NaN', 'Infinity', '-Infinity') THEN NULL "
        f"ELSE (({t})::numeric)::text END, '\\.0$', '')"
    )


# Timestamps are stored as "...T09:30:00Z" or "...T09:30:00.5Z"; as text ".5Z" sorts before
# "Z", so both sides are compared in a fixed width form: the seconds, then 6 fraction digits.
def _fixed_width_timestamp(text) -> ColumnElement:
    fraction = _replace(_replace(_substr(text, 20), "Z", ""), ".", "")
    return _substr(text, 1, 19) + _substr(fraction + "000000", 1, 6)


def _timestamp_text(moment: datetime.datetime) -> str:
    return rules._timestamp_text(moment)


# --- where the rows live --------------------------------------------------------------------


class Columns:
    """How the parent's columns are read where the rows live (see the module doc)."""

    # Timestamps compare as fixed-width text (profile store, SQLite) or as timestamps.
    timestamps_as_text = True
    # Dates compare as "YYYY-MM-DD" text, or as dates.
    dates_as_text = True

    def typed(self, name: str, column_type: str) -> ColumnElement:
        raise NotImplementedError

    def raw(self, name: str, column_type: str) -> ColumnElement:
        """The value as stored, for `text_of`."""
        raise NotImplementedError

    def text_of(self, raw, column_type: str) -> ColumnElement:
        """The canonical text (see the module doc) of a `raw` value."""
        raise NotImplementedError

    def text(self, name: str, column_type: str) -> ColumnElement:
        return self.text_of(self.raw(name, column_type), column_type)


PROFILE_TABLE = sa.table(
    "segments_profile",
    sa.column("id", sa.BigInteger),
    sa.column("parent_segment_id", sa.BigInteger),
    sa.column("key", sa.String),
    sa.column("attributes", sa.JSON),
)


class ProfileColumns(Columns):
    """A parent's columns in `segments_profile.attributes` (JSON) on PostgreSQL or SQLite.

    A value that is missing, JSON null or of another JSON type than its column's is NULL to
    `typed`; `text` renders any JSON value by its own type, as the Python renderer does.
    """

    def __init__(self, dialect_name: str, document=None) -> None:
        if dialect_name not in ("postgresql", "sqlite"):
            raise UnsupportedStore(
                f"the profile store needs PostgreSQL or SQLite, not {dialect_name}"
            )
        self.postgresql = dialect_name == "postgresql"
        self.document = sa.type_coerce(
            PROFILE_TABLE.c.attributes if document is None else document, sa.String
        )

    def _json_type(self, name: str):
        if self.postgresql:
            return sa.func.jsonb_typeof(self.document.op("->")(sa.literal(name, sa.String)))
        return sa.func.json_type(self.document, sa.literal(self._path(name), sa.String))

    def _extract(self, name: str):
        if self.postgresql:
            return self.document.op("->>")(sa.literal(name, sa.String))
        return sa.func.json_extract(self.document, sa.literal(self._path(name), sa.String))

    @staticmethod
    def _path(name: str) -> str:
        # The key is quoted in the JSON path so that any name ("2024", "a.b") is one key.
        return "$." + json.dumps(name)

    def typed(self, name: str, column_type: str) -> ColumnElement:
        json_type = self._json_type(name)
        extract = self._extract(name)
        if self.postgresql:
            if column_type == "boolean":
                return sa.case((json_type == "boolean", sa.cast(extract, sa.Boolean)))
            if column_type == "integer":
                return sa.case((json_type == "number", sa.cast(extract, sa.Numeric)))
            if column_type == "number":
                return sa.case((json_type == "number", sa.cast(extract, sa.Double)))
            text = sa.case((json_type == "string", extract))
        else:
            if column_type == "boolean":
                return sa.case((json_type == "true", 1), (json_type == "false", 0))
            if column_type == "integer":
                return sa.case((json_type.in_(["integer", "real"]), extract))
            if column_type == "number":
                return sa.case((json_type.in_(["integer", "real"]), sa.cast(extract, sa.Float)))
            text = sa.case((json_type == "text", extract))
        if column_type == "timestamp":
            text = _fixed_width_timestamp(text)
        return code_point_order(text)

    def raw(self, name: str, column_type: str) -> ColumnElement:
        """The value read once from the row's JSON (the costly part): its text (->>), on
        SQLite a number's JSON text as stored (the shortest round-trip digits)."""
        if self.postgresql:
            return self._extract(name)
        operator = "->" if column_type == "number" else "->>"
        return self.document.op(operator)(sa.literal(self._path(name), sa.String))

    def text_of(self, raw, column_type: str) -> ColumnElement:
        """Rendering trusts the stored JSON type to be the column's, as imports guarantee
        (a column cannot be retyped while the parent has rows); `typed` does not."""
        if column_type == "number":
            # PostgreSQL gives numeric's text (no exponent), SQLite the stored digits.
            if self.postgresql:
                return _without_point_zero(raw)
            # -> gives a JSON null as the text null.
            return plain_number(sa.func.nullif(raw, "null", type_=sa.String))
        if self.postgresql:
            return raw  # booleans come as true/false
        if column_type == "boolean":
            return sa.case((raw == 1, "true"), (raw == 0, "false"))
        if column_type == "integer":
            return sa.cast(raw, sa.String)
        return raw


class TableColumns(Columns):
    """A parent's columns as real columns of a table or query (a source's database).

    `columns` maps each parent column name to its SQLAlchemy column. Dates and timestamps
    are DATE and TIMESTAMP columns (a timestamp without time zone holds UTC), except on
    SQLite, which has neither: there they are ISO text as the profile store keeps them.
    """

    def __init__(self, dialect_name: str, columns) -> None:
        self.dialect_name = dialect_name
        self.columns = columns
        self.timestamps_as_text = self.dates_as_text = dialect_name == "sqlite"

    def typed(self, name: str, column_type: str) -> ColumnElement:
        column = self.columns[name]
        if column_type == "string" or (column_type == "date" and self.dates_as_text):
            return code_point_order(column)
        if column_type == "timestamp" and self.timestamps_as_text:
            return _fixed_width_timestamp(column)
        return column

    def raw(self, name: str, column_type: str) -> ColumnElement:
        column = self.columns[name]
        if column_type == "timestamp" and not self.timestamps_as_text:
            # Formatted once in the inner SELECT: the cell looks at the text several times.
            return iso_utc_text(column, timezone_aware=_is_aware(column))
        return column

    def text_of(self, raw, column_type: str) -> ColumnElement:
        column = raw
        if column_type == "string":
            return column
        if column_type == "boolean":
            return sa.case((column == sa.true(), "true"), (column == sa.false(), "false"))
        if column_type == "integer":
            return sa.cast(column, sa.String)
        if column_type == "number":
            if self.dialect_name == "sqlite":
                return plain_number(_shortest_real_text(column))
            if self.dialect_name == "postgresql" and _is_numeric(column):
                # numeric's text has no exponent (a snapshot's numbers): only ".0" to cut,
                # cheaper than plain_number's regular expression.
                return _without_point_zero(sa.cast(column, sa.String))
            return plain_number(sa.cast(column, sa.String))
        if column_type == "date":
            return column if self.dates_as_text else sa.cast(column, sa.String)
        return column  # a timestamp's raw value is already its text


def _shortest_real_text(column) -> ColumnElement:
    """SQLite's REAL as its shortest round-trip digits (CAST AS TEXT keeps 15 digits only)."""
    texts = [
        sa.func.printf(sa.literal(f"%!.{digits}g"), column, type_=sa.String) for digits in (15, 16)
    ]
    return sa.case(
        (column.is_(None), sa.null()),  # printf writes NULL as 0
        *((sa.cast(text, sa.Float) == column, text) for text in texts),
        else_=sa.func.printf(sa.literal("%!.17g"), column, type_=sa.String),
    )


def _is_numeric(column) -> bool:
    return isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float)


def _is_aware(column) -> bool:
    return bool(getattr(column.type, "timezone", False))


class iso_utc_text(FunctionElement):  # noqa: N801
    """A TIMESTAMP as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" in UTC, as the profile store keeps it."""

    type = sa.String()
    inherit_cache = True

    def __init__(self, column, *, timezone_aware: bool = False) -> None:
        super().__init__(column)
        self.timezone_aware = timezone_aware


@compiles(iso_utc_text, "postgresql")
def _iso_utc_text_postgresql(element, compiler, **kw):
    (argument,) = element.clauses
    value = compiler.process(argument, **kw)
    if element.timezone_aware:
        value = f"(({value}) AT TIME ZONE 'UTC')"
    # The fraction only when there is one: a CASE costs a third of a regular expression.
    return (
        f"TO_CHAR({value}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"MOD(DATE_PART('microseconds', {value})::bigint, 1000000) = 0 THEN 'Z' "
        f"ELSE TO_CHAR({value}, '.US') || 'Z' END"
    )


@compiles(iso_utc_text)
def _iso_utc_text(element, compiler, **kw):
    # DuckDB (and engines with its strftime): %f is the microseconds, six digits.
    (argument,) = element.clauses
    value = compiler.process(argument, **kw)
    if element.timezone_aware:
        value = f"TIMEZONE('UTC', {value})"
    # The format as a bound value: a literal "%" would clash with "format" paramstyles.
    iso_format = compiler.process(sa.literal("%Y-%m-%dT%H:%M:%S.%f", sa.String), **kw)
    return f"REGEXP_REPLACE(STRFTIME({value}, {iso_format}), '\\.000000$', '') || 'Z'"


# --- the compiler -----------------------------------------------------------------------------


def where(
    tree: dict,
    columns: list[dict],
    source: Columns,
    *,
    today: datetime.date,
    zone: datetime.tzinfo,
) -> ColumnElement:
    """The WHERE clause selecting the rows that match `tree` (see rules.py for the meaning).

    Validates first (raises common.validation.InvalidInput). `today` and `zone` anchor
    `within_last_days` and plain-date `before`/`after` on timestamps: the day boundaries are
    those of `zone`. An empty `and` is TRUE, an empty `or` FALSE.
    """
    rules.validate(tree, columns)
    types = {column["name"]: column["type"] for column in columns}
    return _Compiler(types, source, today, zone).group(tree)


def zone_named(name: str | None) -> datetime.tzinfo:
    return zoneinfo.ZoneInfo(name) if name else datetime.UTC


class _Compiler:
    def __init__(self, types, source: Columns, today: datetime.date, zone) -> None:
        self.types = types
        self.source = source
        self.today = today
        self.zone = zone

    def group(self, node: dict) -> ColumnElement:
        parts = []
        for child in node["conditions"]:
            if "type" in child or "conditions" in child:
                parts.append(self.group(child))
            else:
                parts.append(self.condition(child))
        if node["type"] == "and":
            return sa.and_(sa.true(), *parts)
        return sa.or_(sa.false(), *parts)

    def _start_of_day(self, day: datetime.date) -> datetime.datetime:
        local = datetime.datetime.combine(day, datetime.time.min, self.zone)
        return local.astimezone(datetime.UTC)

    def _moment(self, moment: datetime.datetime, aware: bool):
        """A UTC moment as the column compares: fixed-width text, or a timestamp literal."""
        if self.source.timestamps_as_text:
            return _timestamp_text(moment)
        if aware:
            return sa.literal(moment.astimezone(datetime.UTC), sa.DateTime(timezone=True))
        naive = moment.astimezone(datetime.UTC).replace(tzinfo=None)
        return sa.literal(naive, sa.DateTime())

    def _day(self, day: str):
        if self.source.dates_as_text:
            return day
        return sa.literal(datetime.date.fromisoformat(day), sa.Date())

    def condition(self, node: dict) -> ColumnElement:
        column, operator = node["column"], node["operator"]
        column_type = self.types[column]
        value = rules._operand(operator, column_type, node.get("value"), present="value" in node)
        expression = self.source.typed(column, column_type)
        if operator == "is_null":
            return expression.is_(None)
        if operator == "is_not_null":
            return expression.is_not(None)
        aware = _is_aware(self.source.columns[column]) if hasattr(self.source, "columns") else False
        if operator == "within_last_days":
            first_day = self.today - datetime.timedelta(days=value)
            if column_type == "date":
                return expression.between(
                    self._day(first_day.isoformat()), self._day(self.today.isoformat())
                )
            start = self._start_of_day(first_day)
            end = self._start_of_day(self.today + datetime.timedelta(days=1))
            return sa.and_(
                expression >= self._moment(start, aware), expression < self._moment(end, aware)
            )
        if operator in ("contains", "starts_with"):
            pattern = rules._like_pattern(value, prefix=operator == "starts_with")
            return ascii_lower(expression).like(sa.literal(pattern, sa.String), escape="\\")
        if column_type == "timestamp" and type(value) is datetime.date:
            # A plain date on a timestamp column: before the day starts, or after it ends.
            if operator == "before":
                return expression < self._moment(self._start_of_day(value), aware)
            next_day = self._start_of_day(value + datetime.timedelta(days=1))
            return expression >= self._moment(next_day, aware)
        operand = self._operand(column_type, value, aware)
        if operator == "in":
            return expression.in_(operand)
        if operator == "not_in":
            return expression.not_in(operand)
        if operator == "between":
            return expression.between(*operand)
        return expression.operate(_OPERATORS[operator], operand)

    def _operand(self, column_type: str, value, aware: bool):
        if isinstance(value, list):
            return [self._operand(column_type, item, aware) for item in value]
        if column_type == "timestamp":
            return self._moment(value, aware)
        if column_type == "date":
            return self._day(value)
        if column_type == "integer":
            return sa.literal(value, sa.BigInteger)
        if column_type == "number":
            return sa.literal(value, sa.Double)
        if column_type == "boolean":
            return sa.literal(value, sa.Boolean)
        return sa.literal(value, sa.String)


_OPERATORS = {
    "eq": sa.sql.operators.eq,
    "ne": sa.sql.operators.ne,
    "gt": sa.sql.operators.gt,
    "gte": sa.sql.operators.ge,
    "lt": sa.sql.operators.lt,
    "lte": sa.sql.operators.le,
    "before": sa.sql.operators.lt,
    "after": sa.sql.operators.gt,
}


# --- a segment's rows ---------------------------------------------------------------------


class Rows:
    """Where a segment's rows are read from: the source of its columns, the FROM clause,
    the WHERE clause of its rules and the key to order by."""

    def __init__(self, source: Columns, from_, condition: ColumnElement, key) -> None:
        self.source = source
        self.from_ = from_
        self.condition = condition
        self.key = key

    def select(self, *columns, ordered: bool = True) -> sa.Select:
        """SELECT `columns` of the matching rows, in key order unless not `ordered`."""
        statement = sa.select(*columns).select_from(self.from_).where(self.condition)
        return statement.order_by(self.key) if ordered else statement

    def count(self) -> sa.Select:
        return sa.select(sa.func.count()).select_from(self.from_).where(self.condition)


def profile_rows(
    dialect_name: str,
    parent_segment_id: int,
    tree: dict,
    columns: list[dict],
    *,
    today: datetime.date,
    zone: datetime.tzinfo,
) -> Rows:
    """A segment's rows in our profile store (`segments_profile`)."""
    source = ProfileColumns(dialect_name)
    condition = sa.and_(
        PROFILE_TABLE.c.parent_segment_id == sa.literal(parent_segment_id, sa.BigInteger),
        where(tree, columns, source, today=today, zone=zone),
    )
    return Rows(source, PROFILE_TABLE, condition, PROFILE_TABLE.c.key)


def table_rows(
    dialect_name: str,
    from_,
    key_column: str,
    tree: dict,
    columns: list[dict],
    *,
    today: datetime.date,
    zone: datetime.tzinfo,
) -> Rows:
    """A segment's rows in a table or subquery (`from_`) whose columns are the parent's."""
    source = TableColumns(
        dialect_name, {column["name"]: from_.c[column["name"]] for column in columns}
    )
    condition = where(tree, columns, source, today=today, zone=zone)
    return Rows(source, from_, condition, from_.c[key_column])
