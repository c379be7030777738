"""One corpus of rule trees and rows, compiled by segments.sql and run on every engine that
can hold a segment's rows: our profile store (JSON attributes) on SQLite and PostgreSQL, and a
plain table with real columns on SQLite, PostgreSQL and DuckDB. Every engine must select the
rows tests/segments/test_rules.py expects (proven there against the Django Q compiler this
one replaced, whose answers it keeps), and render through the mapping (activations.sqlrender) the bytes
the Python path writes (`mapping.render_rows` → `csvio.encode_row`).

PostgreSQL runs in a scratch database created for the session on the server of DATABASE_URL
(or 127.0.0.1:5432); DuckDB in process.
"""

import datetime
import json
import os
import uuid
import zoneinfo

import pytest
import sqlalchemy as sa
from django.db import connection

from activations import mapping, sqlrender
from common import csvio
from segments import sql, sqlexec
from segments.models import Profile
from tests.factories import (
    CUSTOMER_COLUMNS,
    make_parent_segment,
    make_parent_with_rows,
    make_workspace,
)
from tests.segments.test_rules import OPERATOR_CASES, ROWS

UTC = datetime.UTC
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def condition(column, operator, value=None):
    return {"column": column, "operator": operator, "value": value}


def tree(*conditions, type="and"):
    return {"type": type, "conditions": list(conditions)}


# (rule tree, today, zone, keys selected from ROWS)
CASES = [
    (tree(condition(column, operator, value)), datetime.date(2024, 5, 1), UTC, keys)
    for column, operator, value, keys in OPERATOR_CASES
] + [
    (tree(condition("signup_date", "within_last_days", 0)), datetime.date(2024, 5, 1), UTC, "e"),
    (
        tree(condition("signup_date", "within_last_days", 122)),
        datetime.date(2024, 5, 1),
        UTC,
        "abe",
    ),
    (
        tree(condition("signup_date", "within_last_days", 365)),
        datetime.date(2024, 4, 30),
        UTC,
        "ab",
    ),
    (tree(condition("last_seen_at", "within_last_days", 0)), datetime.date(2024, 5, 1), UTC, "ab"),
    (tree(condition("last_seen_at", "within_last_days", 1)), datetime.date(2024, 5, 1), UTC, "abc"),
    (tree(condition("last_seen_at", "within_last_days", 0)), datetime.date(2024, 5, 2), UTC, "e"),
    (tree(condition("last_seen_at", "within_last_days", 10)), datetime.date(2024, 4, 29), UTC, ""),
    # Day boundaries are those of the zone given (the activation's).
    (tree(condition("last_seen_at", "before", "2024-05-02")), None, TOKYO, "abc"),
    (tree(condition("last_seen_at", "after", "2024-05-01")), None, TOKYO, "e"),
    (
        tree(condition("last_seen_at", "within_last_days", 0)),
        datetime.date(2024, 5, 1),
        TOKYO,
        "abc",
    ),
    # Groups: nesting, nulls in an or, empty groups.
    (
        tree(
            condition("consent", "eq", True),
            tree(
                condition("country", "eq", "JP"),
                tree(condition("age", "lt", 20), condition("email", "contains", ".jp")),
                type="or",
            ),
        ),
        None,
        UTC,
        "ae",
    ),
    (
        tree(condition("age", "ne", 30), condition("country", "not_in", ["JP"]), type="or"),
        None,
        UTC,
        "bce",
    ),
    (tree(), None, UTC, "abcdef"),
    (tree(type="or"), None, UTC, ""),
    (tree(tree(), condition("age", "eq", 30), type="or"), None, UTC, "abcdef"),
    (tree(tree(type="or"), condition("age", "eq", 30)), None, UTC, ""),
    (tree(tree(type="or"), condition("age", "eq", 30), type="or"), None, UTC, "a"),
]

# Rows for rendering: the cell formats' edge cases (exponents, whole floats, fractions of a
# second, quotes and line breaks, nulls), all of their column's type.
RENDER_ROWS = {
    "r1": {
        "customer_id": "r1",
        "email": 'say "hi", then\nleave',
        "first_name": "",
        "country": "JP",
        "age": -42,
        "lifetime_value": 1e20,
        "consent": True,
        "signup_date": "2024-02-29",
        "last_seen_at": "2024-05-01T09:30:00.000400Z",
    },
    "r2": {
        "customer_id": "r2",
        "email": "東京@example.jp",
        "first_name": "a\rb",
        "country": None,
        "age": 9007199254740993,
        "lifetime_value": 1.5e-07,
        "consent": False,
        "signup_date": None,
        "last_seen_at": "2024-05-01T09:30:00Z",
    },
    "r3": {
        "customer_id": "r3",
        "lifetime_value": 1234.0,
        "last_seen_at": "1999-12-31T23:59:59.999999Z",
    },
    "r4": {
        "customer_id": "r4",
        "email": "#N/A",
        "lifetime_value": 1234.5678901234567,
        "age": 0,
        "last_seen_at": "2024-05-01T09:30:00.25Z",
    },
    "r5": {"customer_id": "r5", "lifetime_value": -0.0, "first_name": "x"},
    "r6": {"customer_id": "r6", "lifetime_value": -2.5e-05, "country": "US"},
    "r7": {"customer_id": "r7", "lifetime_value": 12, "country": "a,b"},
    # JSON nulls in every column.
    "r8": {
        **{column["name"]: None for column in CUSTOMER_COLUMNS},
        "customer_id": "r8",
    },
}

MAPPINGS = [
    {"export_all_columns": True},
    {
        "export_all_columns": False,
        "columns": [
            {"source": "customer_id", "output": "Customer_Key__c"},
            {"source": "last_seen_at", "output": "Last_Seen__c"},
            {"source": "lifetime_value", "output": "LTV__c"},
            {"source": "consent"},
        ],
        "strings": [
            {
                "output": "Description",
                "parts": [
                    {"type": "string", "value": 'Segment "'},
                    {"type": "segment_name"},
                    {"type": "string", "value": '" #'},
                    {"type": "segment_id"},
                    {"type": "string", "value": " of "},
                    {"type": "audience_id"},
                    {"type": "string", "value": " at "},
                    {"type": "timestamp", "format": "%Y-%m-%d %H:%M %z"},
                    {"type": "string", "value": " / "},
                    {"type": "timestamp"},
                ],
            }
        ],
    },
    # One column: a lone empty cell is written "".
    {"columns": [{"source": "first_name"}]},
]

CONTEXT = mapping.RenderContext(
    segment_id=7,
    segment_name='VIP, "gold"',
    audience_id=3,
    timestamp=datetime.datetime(2026, 11, 25, 15, 20, 38, 123456, tzinfo=TOKYO),
)

TYPES = {column["name"]: column["type"] for column in CUSTOMER_COLUMNS}


# --- the engines --------------------------------------------------------------------------


def _typed_value(value, column_type: str, dialect_name: str):
    """A JSON value as a real column holds it (None for a value of another type)."""
    expected = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
        "date": (str,),
        "timestamp": (str,),
    }[column_type]
    if value is None or not isinstance(value, expected):
        return None
    if isinstance(value, bool) and column_type != "boolean":
        return None
    if dialect_name == "sqlite":
        return value
    if column_type == "date":
        return datetime.date.fromisoformat(value)
    if column_type == "timestamp":
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    return value


SQL_TYPES = {
    "string": sa.Text,
    "integer": sa.BigInteger,
    "number": sa.Double,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "timestamp": sa.DateTime,
}


class EngineStore:
    """One engine, holding the rows as JSON profiles or as a table with real columns."""

    def __init__(self, engine: sa.Engine, *, json_profiles: bool) -> None:
        self.engine = engine
        self.dialect_name = engine.dialect.name
        self.json_profiles = json_profiles
        self.name = f"{self.dialect_name}-{'profiles' if json_profiles else 'table'}"

    def load(self, rows: dict) -> None:
        if getattr(self, "loaded", None) is rows:
            return
        self.loaded = rows
        metadata = sa.MetaData()
        if self.json_profiles:
            attributes_type = (
                sa.dialects.postgresql.JSONB if self.dialect_name == "postgresql" else sa.Text
            )
            table = sa.Table(
                "segments_profile",
                metadata,
                sa.Column("id", sa.BigInteger, primary_key=True),
                sa.Column("parent_segment_id", sa.BigInteger),
                sa.Column("key", sa.Text),
                sa.Column("attributes", attributes_type),
            )
            values = [
                {
                    "id": index,
                    "parent_segment_id": 1,
                    "key": key,
                    "attributes": attributes
                    if self.dialect_name == "postgresql"
                    else json.dumps(attributes, separators=(",", ":")),
                }
                for index, (key, attributes) in enumerate(rows.items())
            ]
            # Another parent's row never leaks in.
            values.append({**values[0], "id": 999, "parent_segment_id": 2})
        else:
            text_dates = self.dialect_name == "sqlite"
            table = sa.Table(
                "customers",
                metadata,
                *(
                    sa.Column(
                        name,
                        sa.Text
                        if text_dates and column_type in ("date", "timestamp")
                        else SQL_TYPES[column_type],
                    )
                    for name, column_type in TYPES.items()
                ),
            )
            values = [
                {
                    name: _typed_value(attributes.get(name), column_type, self.dialect_name)
                    for name, column_type in TYPES.items()
                }
                for attributes in rows.values()
            ]
        with self.engine.begin() as connection:
            metadata.drop_all(connection)
            metadata.create_all(connection)
            connection.execute(table.insert(), values)
        self.table = table

    def rows(self, rule_tree, *, today, zone) -> sql.Rows:
        today = today or datetime.date(2024, 5, 1)
        if self.json_profiles:
            return sql.profile_rows(
                self.dialect_name, 1, rule_tree, CUSTOMER_COLUMNS, today=today, zone=zone
            )
        return sql.table_rows(
            self.dialect_name,
            self.table,
            "customer_id",
            rule_tree,
            CUSTOMER_COLUMNS,
            today=today,
            zone=zone,
        )

    def keys(self, rule_tree, *, today, zone) -> str:
        rows = self.rows(rule_tree, today=today, zone=zone)
        key = rows.key
        with self.engine.connect() as connection:
            return "".join(connection.execute(rows.select(key)).scalars())

    def select(self, output_mapping, **options):
        """The SELECT of every row as `output_mapping` exports it."""
        rows = self.rows(tree(), today=None, zone=UTC)
        return sqlrender.select(
            rows,
            output_mapping,
            columns=CUSTOMER_COLUMNS,
            context=CONTEXT,
            null_value=self.null_value,
            **options,
        )

    def copy_csv(self, output_mapping) -> bytes:
        """PostgreSQL's COPY … CSV of the SELECT made for it (empty cells as NULL)."""
        statement = self.select(output_mapping, empty_as_null=True)
        compiled = statement.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        raw = self.engine.raw_connection()
        try:
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params
                ) as copy,
            ):
                return b"".join(bytes(line) for line in copy)
        finally:
            raw.close()

    def csv(self, output_mapping) -> bytes:
        statement = self.select(output_mapping)
        with self.engine.connect() as connection:
            return b"".join(csvio.encode_row(row) for row in connection.execute(statement))


def _postgresql_server_url() -> sa.URL | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        url = "postgresql://postgres@127.0.0.1:5432/postgres"
    parsed = sa.make_url(url).set(drivername="postgresql+psycopg")
    probe = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with probe.connect():
            return parsed
    except sa.exc.OperationalError:
        return None
    finally:
        probe.dispose()


@pytest.fixture(scope="module")
def postgresql_engine():
    server = _postgresql_server_url()
    if server is None:
        pytest.skip("no PostgreSQL server at DATABASE_URL or 127.0.0.1:5432")
    name = f"scratch_sqlpipe_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    engine = sa.create_engine(server.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def engines(postgresql_engine):
    sqlite_engine = sa.create_engine("sqlite://")
    duckdb_engine = sa.create_engine("duckdb:///:memory:")
    stores = [
        EngineStore(sqlite_engine, json_profiles=True),
        EngineStore(sqlite_engine, json_profiles=False),
        EngineStore(postgresql_engine, json_profiles=True),
        EngineStore(postgresql_engine, json_profiles=False),
        EngineStore(duckdb_engine, json_profiles=False),
    ]
    yield stores
    sqlite_engine.dispose()
    duckdb_engine.dispose()


@pytest.fixture
def corpus_engines(engines):
    for store in engines:
        store.load(ROWS)
    return engines


# --- the corpus ----------------------------------------------------------------------------


@pytest.fixture
def parent(db):
    return make_parent_with_rows(ROWS)


@pytest.mark.parametrize(("rule_tree", "today", "zone", "keys"), CASES)
def test_every_engine_selects_the_same_rows(corpus_engines, parent, rule_tree, today, zone, keys):
    rows = sqlexec.parent_rows(
        parent, rule_tree, today=today or datetime.date(2024, 5, 1), zone=zone
    )
    django_store = "".join(key for (key,) in sqlexec.fetch_all(rows.select(rows.key)))
    selected = {f"{connection.vendor}-django": django_store}
    for store in corpus_engines:
        selected[store.name] = store.keys(rule_tree, today=today, zone=zone)

    assert selected == dict.fromkeys(selected, keys)


# --- rendering -----------------------------------------------------------------------------


def _python_csv(rows: dict, output_mapping: dict, null_value: str) -> bytes:
    rendered = mapping.render_rows(
        output_mapping,
        columns=CUSTOMER_COLUMNS,
        rows=[rows[key] for key in sorted(rows)],
        context=CONTEXT,
        null_value=null_value,
    )
    return b"".join(csvio.encode_row(row) for row in rendered)


@pytest.fixture
def render_engines(engines):
    for store in engines:
        store.load(RENDER_ROWS)
    return engines


@pytest.mark.parametrize("null_value", ["leave", "clear"])
@pytest.mark.parametrize("output_mapping", MAPPINGS)
def test_every_engine_renders_the_bytes_of_the_python_path(
    render_engines, db, output_mapping, null_value
):
    expected = _python_csv(RENDER_ROWS, output_mapping, null_value)
    parent = make_parent_segment(workspace=make_workspace())
    Profile.objects.bulk_create(
        Profile(parent_segment=parent, key=key, attributes=attributes)
        for key, attributes in RENDER_ROWS.items()
    )
    statement = sqlrender.select(
        sqlexec.parent_rows(parent, tree()),
        output_mapping,
        columns=CUSTOMER_COLUMNS,
        context=CONTEXT,
        null_value=null_value,
    )
    rendered = {
        f"{connection.vendor}-django": b"".join(
            csvio.encode_row(row) for row in sqlexec.fetch_all(statement)
        )
    }
    for store in render_engines:
        store.null_value = null_value
        rendered[store.name] = store.csv(output_mapping)
        if store.dialect_name == "postgresql":
            rendered[f"{store.name}-copy"] = store.copy_csv(output_mapping)

    assert rendered == dict.fromkeys(rendered, expected)
