"""A refresh from PostgreSQL into PostgreSQL without Python per row: the SQL that turns a
source's typed rows, copied as they are into a staging table, into profile attributes.

The expressions store byte for byte what `loading.import_profiles` stores for the same rows
read as CSV (`loading.parse_value` of the text PostgreSQL writes for each value; the source's
column types stand in for its per-value checks). `tests/segments/test_refresh_copy.py` holds
the two paths to one result. A column whose source type does not match its declared type
(a type overridden by the user) gets no expression here: `plan` answers None and the refresh
takes the checked CSV path, except that any source type may feed a string column (its text
is what the CSV path would read). A number key also takes the checked path (its key text
would be Python's float text).
"""

import decimal
from dataclasses import dataclass

from .models import ColumnType

# Staging column types by source type: the types are kept (a real stays a real, so that its
# text is its own shortest text), integers of every width become bigint.
STAGED_TYPES = {
    "boolean": "boolean",
    "smallint": "bigint",
    "integer": "bigint",
    "bigint": "bigint",
    "real": "real",
    "double precision": "double precision",
    "numeric": "numeric",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}
INTEGERS = ("smallint", "integer", "bigint")
NUMBERS = (*INTEGERS, "real", "double precision", "numeric")
# The source types each declared type copies from (string: any, staged as its text).
ACCEPTED = {
    ColumnType.INTEGER: INTEGERS,
    ColumnType.NUMBER: NUMBERS,
    ColumnType.BOOLEAN: ("boolean",),
    ColumnType.DATE: ("date",),
    ColumnType.TIMESTAMP: ("timestamp", "timestamptz"),
}
# jsonb_build_object takes at most 100 arguments: 50 columns per call, joined with ||.
COLUMNS_PER_OBJECT = 50
# What Python's str.strip() strips (str.isspace; a test checks the list): a key made only of
# these is empty to the CSV import.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The numeric magnitudes float() cannot hold: at least 2**1024 - 2**970 is infinite (an
# error to the CSV import); at most 2**-1075 rounds to zero (0.0 to it, an error to a cast).
with decimal.localcontext(decimal.Context(prec=2000)):
    FLOAT_OVERFLOW = str(decimal.Decimal(2) ** 1024 - decimal.Decimal(2) ** 970)
    FLOAT_UNDERFLOW = format(decimal.Decimal(2) ** -1075, "f")


@dataclass(frozen=True)
class CopyPlan:
    """How one parent's columns are staged and stored. SQL fragments refer to the staging
    columns c0, c1, … (the parent's columns in order)."""

    columns: list[dict]  # the parent's columns this plan was made for
    key_column: str
    source_types: list[str]  # the source's, as reading.postgresql_types names them
    staged_types: list[str]
    key_index: int  # the key column's position (its staged column c<key_index>)
    key: str  # the key text of a staged row
    values: list[str]  # each column's stored value
    attributes: str  # the row's attributes, jsonb
    problems: list[tuple[str, str, str]]  # (column, condition, message) of a refused row


def plan(columns: list[dict], key_column: str, source_types: list[str] | None) -> CopyPlan | None:
    """The plan for these columns read from a PostgreSQL source whose columns have
    `source_types` (reading.postgresql_types), or None when the checked path must run."""
    if source_types is None or len(source_types) != len(columns):
        return None
    staged_types, values, keys, problems = [], [], {}, []
    for index, (column, source_type) in enumerate(zip(columns, source_types, strict=True)):
        name, declared = column["name"], column["type"]
        ref = f"c{index}"
        if declared == ColumnType.STRING:
            staged_types.append("text")
            # An empty string is an empty CSV cell: null.
            values.append(f"NULLIF({ref}, '')")
            keys[name] = ref
            continue
        if source_type not in ACCEPTED.get(declared, ()):
            return None
        staged_types.append(STAGED_TYPES[source_type])
        value, text, problem = _typed(declared, source_type, ref)
        values.append(value)
        keys[name] = text
        if problem:
            problems.append((name, *problem))
    key_index = next((i for i, c in enumerate(columns) if c["name"] == key_column), None)
    if key_index is None or columns[key_index]["type"] == ColumnType.NUMBER:
        return None
    key = keys[key_column]
    problems[:0] = [
        (
            key_column,
            # btrim only for a key whose first character is white space (or none).
            f"{key} IS NULL OR (strpos({literal(WHITESPACE)}, left({key}, 1)) > 0 "
            f"AND btrim({key}, {literal(WHITESPACE)}) = '')",
            "'the key is empty'",
        ),
        (
            key_column,
            f"length({key}) > 255",
            "'the key is longer than 255 characters'",
        ),
    ]
    return CopyPlan(
        columns=columns,
        key_column=key_column,
        source_types=source_types,
        staged_types=staged_types,
        key_index=key_index,
        key=key,
        values=values,
        attributes=_object([c["name"] for c in columns], values),
        problems=problems,
    )


def _typed(declared: str, source_type: str, ref: str) -> tuple[str, str | None, tuple | None]:
    """(the stored value, its key text, (a refused row's condition, message) or None)."""
    if declared == ColumnType.INTEGER:
        return ref, f"{ref}::text", None
    if declared == ColumnType.BOOLEAN:
        return ref, f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END", None
    if declared == ColumnType.NUMBER:
        return _number(source_type, ref)
    if declared == ColumnType.DATE:
        text = f"to_char({ref}, 'YYYY-MM-DD')"
        return text, text, _out_of_range(ref, ref, "a date (YYYY-MM-DD)")
    # Timestamps: UTC, whole seconds without a fraction, else six digits, and a Z.
    utc = f"({ref} AT TIME ZONE 'UTC')" if source_type == "timestamptz" else ref
    text = (
        f"CASE WHEN date_trunc('second', {utc}) = {utc} "
        f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )
    return text, text, _out_of_range(utc, ref, "a timestamp (ISO 8601, e.g. 2024-05-01T09:30:00Z)")


def _out_of_range(value: str, ref: str, what: str) -> tuple[str, str]:
    # Python's dates span the years 1 to 9999; so do the ISO texts we store.
    return (
        f"NOT ({value} >= '0001-01-01' AND {value} < '10000-01-01')",
        f"quote_literal({ref}::text) || ' is not {what}'",
    )


def _number(source_type: str, ref: str) -> tuple[str, None, tuple[str, str] | None]:
    """A number as loading._parse_number stores the source's text of it: a text without a
    point or exponent of at most 18 characters is an integer; any other is a float, whose
    JSON text (Python's repr) ends in .0 when it is whole below 10**16 and is otherwise the
    shortest text that reads back, as PostgreSQL writes floats too."""
    text = f"{ref}::text"
    floating = f"{text}::float8"
    value = (
        f"CASE WHEN strpos({text}, '.') = 0 AND strpos({text}, 'e') = 0 "
        f"AND length({text}) <= 18 THEN {text}::numeric "
    )
    if source_type == "numeric":
        # Only a numeric with more than 323 decimals can be that small: the scale is checked
        # first, the comparison with the 1,100-digit bound costs (a snapshot is read often).
        value += f"WHEN scale({ref}) > 323 AND abs({ref}) <= {FLOAT_UNDERFLOW} THEN 0.0 "
    value += (
        f"WHEN {floating} = trunc({floating}) AND abs({floating}) < 1e16 "
        f"THEN round({floating}::text::numeric, 1) "
        f"ELSE {floating}::text::numeric END"
    )
    if source_type in INTEGERS:
        return value, None, None  # always a finite number
    not_finite = f"{text} IN ('NaN', 'Infinity', '-Infinity')"
    # NaN sorts above every number: these comparisons find it without writing each value as
    # text (the check reads every row).
    condition = f"NOT ({ref} > '-Infinity' AND {ref} < 'Infinity')"
    message = f"quote_literal({text}) || ' is not a number'"
    if source_type == "numeric":
        condition = f"abs({ref}) >= {FLOAT_OVERFLOW}"  # also NaN, and ±Infinity (PG 14+)
        message = (
            f"quote_literal({text}) || CASE WHEN {not_finite} THEN ' is not a number' "
            "ELSE ' is out of range for a number' END"
        )
    return value, None, (condition, message)


def _object(names: list[str], values: list[str]) -> str:
    parts = []
    for start in range(0, len(names), COLUMNS_PER_OBJECT):
        end = start + COLUMNS_PER_OBJECT
        pairs = zip(names[start:end], values[start:end], strict=True)
        parts.append(
            "jsonb_build_object(" + ", ".join(f"{literal(n)}, {v}" for n, v in pairs) + ")"
        )
    return " || ".join(parts)


def literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings, PostgreSQL's default: a backslash is
    an ordinary character). Statements built with it run without parameters, so % is too."""
    return "'" + text.replace("'", "''") + "'"


def any_problem(plan: CopyPlan) -> str:
    """A condition true for the staged rows the import refuses."""
    return " OR ".join(f"({condition})" for _, condition, _ in plan.problems)


def problem_columns(plan: CopyPlan) -> str:
    """The column of a refused row's first problem, and (problem_messages) its message."""
    return _first(plan, [literal(name) for name, _, _ in plan.problems])


def problem_messages(plan: CopyPlan) -> str:
    return _first(plan, [message for _, _, message in plan.problems])


def _first(plan: CopyPlan, results: list[str]) -> str:
    cases = " ".join(
        f"WHEN {condition} THEN {result}"
        for (_, condition, _), result in zip(plan.problems, results, strict=True)
    )
    return f"CASE {cases} END"
