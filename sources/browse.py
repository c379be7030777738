"""Looking into a source: test it, list its tables and views with typed columns, read a sample,
and propose a parent segment's columns for a table or a query."""

import datetime
import decimal
from dataclasses import dataclass

from sqlalchemy import column, inspect, literal, select, table, text, types
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

from common.validation import InvalidInput

from . import access
from .sql import check_select

SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}
MAX_TABLES = 1000
SAMPLE_ROWS = 20
INFERENCE_ROWS = 200
# psycopg's SQLSTATEs and MySQL's error numbers with a plainer message than the driver's.
SQLSTATE_MESSAGES = {
    "28P01": "wrong user name or password",
    "28000": "the user is not allowed to connect",
    "3D000": "unknown database",
    "57014": "the statement timed out (SOURCE_STATEMENT_TIMEOUT)",
    "42P01": "unknown table",
    "42501": "permission denied",
    "25006": "refused: the source is read-only",
}
MYSQL_MESSAGES = {
    1045: "wrong user name or password",
    1049: "unknown database",
    3024: "the statement timed out",
}


class SourceError(Exception):
    """A source could not be read; the message is safe to show (it never holds the password)."""


@dataclass(frozen=True)
class Relation:
    """What to read from a source: a table/view ("schema.table") or a SELECT."""

    table: str = ""
    query: str = ""


def column_type(sql_type) -> str:
    """Our column type for a SQLAlchemy type (strings for anything else: JSON, UUID, arrays)."""
    if isinstance(sql_type, types.Boolean):
        return "boolean"
    if isinstance(sql_type, types.Integer):
        return "integer"
    if isinstance(sql_type, types.Numeric | types.Float):
        return "number"
    if isinstance(sql_type, types.DateTime):
        return "timestamp"
    if isinstance(sql_type, types.Date):
        return "date"
    return "string"


def value_type(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _text_type(value)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | decimal.Decimal):
        return "number"
    if isinstance(value, datetime.datetime):
        return "timestamp"
    if isinstance(value, datetime.date):
        return "date"
    return "string"


def _text_type(value: str) -> str:
    """SQLite keeps dates as text: ISO dates and timestamps are recognised as such."""
    try:
        if len(value) == 10:
            datetime.date.fromisoformat(value)
            return "date"
        if 16 <= len(value) <= 35 and value[:4].isdigit():
            datetime.datetime.fromisoformat(value)
            return "timestamp"
    except ValueError:
        pass
    return "string"


def error_message(source, error: Exception) -> str:
    """A short, safe description of a failure: a known cause in words, else the driver's first
    line, with the password blanked out wherever the driver repeated it."""
    message = None
    original = getattr(error, "orig", None)
    if isinstance(error, InvalidInput):
        message = " ".join(msg for msgs in error.errors.values() for msg in msgs)
    elif original is not None:
        sqlstate = getattr(original, "sqlstate", None)
        code = original.args[0] if getattr(original, "args", None) else None
        message = SQLSTATE_MESSAGES.get(sqlstate) or (
            MYSQL_MESSAGES.get(code) if isinstance(code, int) else None
        )
        if message is None:
            detail = str(original).strip().splitlines()
            message = detail[0] if detail else type(original).__name__
            lowered = message.lower()
            if "password authentication failed" in lowered or "access denied" in lowered:
                message = "wrong user name or password"
            elif "database" in lowered and "does not exist" in lowered:
                message = "unknown database"
            elif "timeout expired" in lowered or "timed out" in lowered:
                message = f"cannot reach the host (timed out): {message}"
            elif "connection refused" in lowered or "could not translate host" in lowered:
                message = f"cannot reach the host: {message}"
            elif "interrupt" in lowered:
                message = "the statement timed out (SOURCE_STATEMENT_TIMEOUT)"
    else:
        detail = str(error).strip().splitlines()
        message = detail[0] if detail else type(error).__name__
    if source.password:
        message = message.replace(source.password, "********")
    for secret in source.secret_option_values().values():
        if str(secret):
            message = message.replace(str(secret), "********")
    return message


def test_source(source) -> str | None:
    """Connect and run SELECT 1: None when it works, else the reason."""
    try:
        engine = access.engine_for(source)
        try:
            with engine.connect() as connection:
                connection.execute(select(literal(1))).scalar()
        finally:
            engine.dispose()
    except (SQLAlchemyError, InvalidInput, OSError) as error:
        return error_message(source, error)
    return None


def run(source, work):
    """Call work(connection) on a fresh read-only connection; SourceError on any failure."""
    try:
        engine = access.engine_for(source)
    except InvalidInput as error:
        raise SourceError(error_message(source, error)) from None
    try:
        with engine.connect() as connection:
            return work(connection)
    except (DBAPIError, OSError) as error:
        raise SourceError(error_message(source, error)) from None
    except SQLAlchemyError as error:
        raise SourceError(error_message(source, error)) from None
    finally:
        engine.dispose()


def duckdb_type(name: str) -> str:
    """Our column type for a DuckDB type name (duckdb-engine's reflection fails on SQLAlchemy
    2.1, so DuckDB is listed from its information_schema)."""
    name = name.upper()
    if name == "BOOLEAN":
        return "boolean"
    if name.endswith("INT") or name in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        return "integer"
    if name.startswith(("DECIMAL", "NUMERIC")) or name in ("DOUBLE", "FLOAT", "REAL"):
        return "number"
    if name == "DATE":
        return "date"
    if name.startswith("TIMESTAMP"):
        return "timestamp"
    return "string"


def _duckdb_tables(connection) -> list[dict]:
    tables = {}
    for schema, name, table_type in connection.execute(
        text(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY table_schema, table_name"
        )
    ):
        kind = "view" if table_type == "VIEW" else "table"
        tables[(schema, name)] = {"name": f"{schema}.{name}", "kind": kind, "columns": []}
    for schema, name, column_name, data_type in connection.execute(
        text(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns WHERE table_catalog = current_database() "
            "ORDER BY table_schema, table_name, ordinal_position"
        )
    ):
        if (schema, name) in tables:
            tables[(schema, name)]["columns"].append(
                {"name": column_name, "type": duckdb_type(data_type)}
            )
    return list(tables.values())[:MAX_TABLES]


def list_tables(source) -> list[dict]:
    """[{"name": "schema.table", "kind": "table"|"view", "columns": [{"name", "type"}]}]."""

    def work(connection):
        if source.kind == "duckdb":
            return _duckdb_tables(connection)
        inspector = inspect(connection)
        found = []
        for schema in _schemas(inspector):
            names = [(name, "table") for name in inspector.get_table_names(schema=schema)]
            names += [(name, "view") for name in inspector.get_view_names(schema=schema)]
            for name, kind in sorted(names):
                if len(found) >= MAX_TABLES:
                    return found
                columns = inspector.get_columns(name, schema=schema)
                found.append(
                    {
                        "name": f"{schema}.{name}",
                        "kind": kind,
                        "columns": [
                            {"name": c["name"], "type": column_type(c["type"])} for c in columns
                        ],
                    }
                )
        return found

    return run(source, work)


def _schemas(inspector) -> list[str]:
    default = inspector.default_schema_name
    try:
        names = inspector.get_schema_names()
    except (NotImplementedError, SQLAlchemyError):
        return [default]
    schemas = [n for n in names if n not in SYSTEM_SCHEMAS and not n.startswith("pg_")]
    # DuckDB lists the schemas of its own catalogs too; the default comes first.
    return sorted(set(schemas), key=lambda n: (n != default, n))


def split_table_name(name) -> tuple[str | None, str]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput({"table": ['required: "schema.table"']})
    schema, dot, table_name = name.strip().partition(".")
    return (schema, table_name) if dot else (None, schema)


def relation_columns(source, relation: Relation) -> list[dict]:
    """The columns (name and our type) of a table or a query, from the source.

    A table's types come from the database's catalog; a query's from the values of its first
    rows (a column with only NULLs there is a string).
    """
    if relation.table:
        schema, name = split_table_name(relation.table)

        def reflect(connection):
            if source.kind == "duckdb":
                default = connection.execute(text("SELECT current_schema()")).scalar()
                wanted = f"{schema or default}.{name}"
                found = [t for t in _duckdb_tables(connection) if t["name"] == wanted]
                return found[0]["columns"] if found else None
            try:
                columns = inspect(connection).get_columns(name, schema=schema)
            except NoSuchTableError:
                return None
            return [{"name": c["name"], "type": column_type(c["type"])} for c in columns]

        columns = run(source, reflect)
        if not columns:
            raise InvalidInput({"table": [f"no table or view {relation.table!r} in the source"]})
        return columns
    names, rows = _sample(source, relation, INFERENCE_ROWS)
    inferred = []
    for index, name in enumerate(names):
        found = {value_type(row[index]) for row in rows} - {None}
        if found == {"integer", "number"}:
            found = {"number"}
        inferred.append({"name": name, "type": found.pop() if len(found) == 1 else "string"})
    return inferred


def sample_rows(source, relation: Relation, limit: int = SAMPLE_ROWS) -> dict:
    """{"columns": [names], "rows": [[values as JSON-safe values]]}, the first `limit` rows."""
    names, rows = _sample(source, relation, limit)
    return {"columns": names, "rows": [[_json_value(v) for v in row] for row in rows]}


def _sample(source, relation: Relation, limit: int):
    statement = select_all(source, relation).limit(limit)

    def work(connection):
        result = connection.execute(statement)
        return list(result.keys()), [tuple(row) for row in result.fetchall()]

    return run(source, work)


def select_all(source, relation: Relation, columns: list[str] | None = None):
    """A SELECT of the relation's rows (the given columns, or all), quoted by SQLAlchemy."""
    if relation.table:
        schema, name = split_table_name(relation.table)
        from_ = table(name, schema=schema)
    else:
        query = check_select(relation.query, source.kind)
        from_ = text(query).columns().subquery("source_query")
    if columns is None:
        return select(text("*")).select_from(from_)
    return select(*[column(name) for name in columns]).select_from(from_)


def _json_value(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
