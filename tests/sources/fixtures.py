"""Real source databases for the tests: a PostgreSQL database of our own on 127.0.0.1:5432
(created and dropped per test), SQLite and DuckDB files under a SOURCE_FILE_ROOT."""

import contextlib
import uuid

import psycopg
import pytest

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def source_settings(settings, tmp_path):
    settings.SOURCE_FILE_ROOT = str(tmp_path)
    settings.SOURCE_ALLOWED_HOSTS = ["127.0.0.1:5432"]
    settings.SOURCE_STATEMENT_TIMEOUT = 30
    return settings


@pytest.fixture
def pg_source(source_settings):
    """(SQLAlchemy URL, a psycopg connection in autocommit) for a fresh database."""
    name = f"src_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    connection = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}", connection
    finally:
        connection.close()
        with (
            psycopg.connect(PG_ADMIN, autocommit=True) as admin,
            contextlib.suppress(psycopg.Error),
        ):
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_file(source_settings, tmp_path):
    import sqlite3

    path = tmp_path / "customers.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, score REAL,
                                    vip BOOLEAN, born DATE, seen TIMESTAMP);
            INSERT INTO customers VALUES (1, 'ann@example.com', 1.5, 1, '1990-02-03',
                                          '2024-05-01 09:30:00');
            INSERT INTO customers VALUES (2, NULL, NULL, 0, NULL, NULL);
            CREATE VIEW vips AS SELECT id, email FROM customers WHERE vip;
            """
        )
        connection.commit()
    return path


@pytest.fixture
def duckdb_file(source_settings, tmp_path):
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute(
        "CREATE TABLE customers (id BIGINT, email VARCHAR, vip BOOLEAN, score DOUBLE, "
        "amount DECIMAL(10, 2), born DATE, seen TIMESTAMPTZ)"
    )
    connection.execute(
        "INSERT INTO customers VALUES (1, 'ann@example.com', true, 1.5, 2.25, '1990-02-03', "
        "'2024-05-01 09:30:00+00'), (2, NULL, false, NULL, NULL, NULL, NULL)"
    )
    connection.close()
    return path
