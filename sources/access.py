"""Opening a source: its SQLAlchemy URL checked (driver, host, file), and an engine whose every
transaction is read-only, with a statement timeout, wherever the database has them.

Which hosts: a source is reached from the service's own network, so an address that points
back at the service (loopback), at the link-local range (where clouds serve instance metadata
and credentials) or at a cloud metadata name is refused unless SOURCE_ALLOWED_HOSTS names it
(`host` for any port, or `host:port`). Private networks stay allowed: that is where databases
live. File-based databases (SQLite, DuckDB) are opened only under SOURCE_FILE_ROOT, read-only.
"""

import contextlib
import ipaddress
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from common.validation import InvalidInput

FILE_KINDS = ("sqlite", "duckdb")
# The pip package that brings a dialect or its driver, for the "install it" message.
PACKAGES = {
    "postgresql": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "mysql": "pymysql",
    "pymysql": "pymysql",
    "mysqldb": "mysqlclient",
    "mariadb": "pymysql",
    "duckdb": "duckdb-engine",
    "snowflake": "snowflake-sqlalchemy",
    "bigquery": "sqlalchemy-bigquery",
    "trino": "trino",
    "databricks": "databricks-sqlalchemy",
    "redshift": "sqlalchemy-redshift",
    "redshift_connector": "redshift_connector",
    "mssql": "pyodbc",
    "pyodbc": "pyodbc",
    "pymssql": "pymssql",
    "oracle": "oracledb",
    "clickhouse": "clickhouse-sqlalchemy",
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "redshift": 5439}
METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data"}
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}


def parse_url(text) -> URL:
    """The URL as SQLAlchemy reads it; InvalidInput on `url`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput({"url": ["required: a SQLAlchemy URL, e.g. postgresql://user@host/db"]})
    try:
        return make_url(text.strip())
    except ArgumentError:
        raise InvalidInput(
            {"url": ["not a SQLAlchemy URL; use dialect[+driver]://user@host[:port]/database"]}
        ) from None


def without_password(url: URL) -> URL:
    # URL.set(password=None) means "unchanged"; a new URL drops it.
    return URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )


def kind_of(url: URL) -> str:
    return url.get_backend_name()


def check_url(url: URL) -> None:
    """Refuse a dialect that is not installed, a host that is not allowed, a file outside
    SOURCE_FILE_ROOT. Raises InvalidInput on `url`."""
    _check_driver(url)
    if kind_of(url) in FILE_KINDS:
        file_path(url)
    else:
        check_host(url)


def _check_driver(url: URL) -> None:
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except NoSuchModuleError:
        raise InvalidInput({"url": [_missing(url, "dialect")]}) from None
    except ImportError:
        raise InvalidInput({"url": [_missing(url, "driver")]}) from None


def _missing(url: URL, what: str) -> str:
    package = PACKAGES.get(url.get_driver_name() if what == "driver" else "") or PACKAGES.get(
        kind_of(url)
    )
    name = url.drivername
    if package is None:
        return f"no SQLAlchemy {what} is installed for {name!r}: install its package with pip"
    return f"the {what} for {name!r} is not installed: pip install '{package}'"


def file_path(url: URL) -> Path:
    """The database file of a SQLite/DuckDB URL, which must exist under SOURCE_FILE_ROOT."""
    root = settings.SOURCE_FILE_ROOT
    if not root:
        raise InvalidInput(
            {"url": ["file-based sources are disabled: set SOURCE_FILE_ROOT to allow them"]}
        )
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise InvalidInput({"url": [f"name a database file under {root}"]})
    root_path = Path(root).resolve()
    path = (root_path / database).resolve()
    if not path.is_relative_to(root_path):
        raise InvalidInput({"url": [f"the database file must be under SOURCE_FILE_ROOT ({root})"]})
    if not path.is_file():
        raise InvalidInput({"url": [f"no database file {database!r} under {root}"]})
    return path


def check_host(url: URL) -> None:
    host = (url.host or "").strip("[]").lower()
    if not host:
        return  # a dialect that finds its server another way (a socket, an account name)
    port = url.port or DEFAULT_PORTS.get(kind_of(url))
    allowed = {entry.lower() for entry in settings.SOURCE_ALLOWED_HOSTS}
    if host in allowed or f"{host}:{port}" in allowed:
        return
    reason = _refused_reason(host)
    if reason:
        raise InvalidInput(
            {
                "url": [
                    f"{host} {reason}: sources may not reach the service's own machine or "
                    "cloud metadata; list it in SOURCE_ALLOWED_HOSTS to allow it"
                ]
            }
        )


def _refused_reason(host: str) -> str | None:
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        return "is a local or metadata host name"
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return None  # not resolvable now: connecting will say it is unreachable
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        if address in METADATA_ADDRESSES:
            return f"resolves to the cloud metadata address {address}"
        if address.is_loopback or address.is_unspecified:
            return f"resolves to the loopback address {address}"
        if address.is_link_local:
            return f"resolves to the link-local address {address}"
    return None


def full_url(source) -> URL:
    """The stored URL with the password and the options put back."""
    url = make_url(source.url)
    if source.password:
        url = url.set(password=source.password)
    query = {**(source.options or {}), **source.secret_option_values()}
    if query:
        url = url.update_query_dict({key: str(value) for key, value in query.items()})
    return url


def engine_for(source, *, timeout: int | None = None) -> Engine:
    """A read-only engine for the source (no pooling: one short-lived connection per use).

    `timeout`: seconds a statement may run (default SOURCE_STATEMENT_TIMEOUT).

    Checks the URL again on every use: SOURCE_ALLOWED_HOSTS, SOURCE_FILE_ROOT or DNS may have
    changed since the source was saved.
    """
    url = full_url(source)
    check_url(url)
    kind = kind_of(url)
    timeout = timeout or settings.SOURCE_STATEMENT_TIMEOUT
    connect_timeout = settings.SOURCE_CONNECT_TIMEOUT
    if kind == "sqlite":
        path = file_path(url)
        engine = create_engine(
            URL.create(url.drivername, database=f"file:{path}?mode=ro", query={"uri": "true"}),
            poolclass=NullPool,
        )
        _sqlite_read_only(engine, timeout)
    elif kind == "duckdb":
        path = file_path(url)
        engine = create_engine(
            url.set(database=str(path)), poolclass=NullPool, connect_args={"read_only": True}
        )
        _interrupt_after(engine, timeout)
    elif kind == "postgresql":
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": connect_timeout}
        )
        _postgresql_read_only(engine, timeout)
    elif kind in ("mysql", "mariadb"):
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": connect_timeout}
        )
        _mysql_read_only(engine, timeout)
    else:
        # Warehouses: no read-only transaction to ask for; the single-SELECT check guards.
        engine = create_engine(url, poolclass=NullPool)
    return engine


def _postgresql_read_only(engine: Engine, timeout: int) -> None:
    @event.listens_for(engine, "begin")
    def begin(connection):
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")


def _mysql_read_only(engine: Engine, timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, record):
        with contextlib.closing(dbapi_connection.cursor()) as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute(f"SET SESSION max_execution_time = {int(timeout * 1000)}")


def _sqlite_read_only(engine: Engine, timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, record):
        dbapi_connection.execute("PRAGMA query_only = ON")
        record.info["deadline"] = None

        def over_time():
            deadline = record.info.get("deadline")
            return 1 if deadline is not None and time.monotonic() > deadline else 0

        # SQLite has no statement timeout: the progress handler aborts a statement that runs
        # longer (it raises "interrupted").
        dbapi_connection.set_progress_handler(over_time, 10_000)

    @event.listens_for(engine, "before_cursor_execute")
    def start_clock(connection, cursor, statement, parameters, context, executemany):
        connection.connection._connection_record.info["deadline"] = time.monotonic() + timeout


def _interrupt_after(engine: Engine, timeout: int) -> None:
    """DuckDB has no statement timeout: a timer interrupts a statement that runs too long."""

    @event.listens_for(engine, "before_cursor_execute")
    def start_timer(connection, cursor, statement, parameters, context, executemany):
        dbapi_connection = connection.connection.dbapi_connection
        timer = threading.Timer(timeout, _interrupt, [dbapi_connection])
        timer.daemon = True
        timer.start()
        connection.info["timer"] = timer

    @event.listens_for(engine, "after_cursor_execute")
    def stop_timer(connection, cursor, statement, parameters, context, executemany):
        timer = connection.info.pop("timer", None)
        if timer is not None:
            timer.cancel()


def _interrupt(dbapi_connection) -> None:
    with contextlib.suppress(Exception):
        dbapi_connection.interrupt()
