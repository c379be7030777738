"""The benchmarks' database: a temporary SQLite file or a PostgreSQL URL, migrated, Django set up."""

import os
import resource
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    with psycopg.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"],
        port=config["PORT"] or 5432,
        autocommit=True,
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{config["NAME"]}"')


def set_up(database_url: str, *, workdir: Path, settings: str = "config.settings") -> None:
    """Point Django at `database_url` (a SQLite file in `workdir` when empty), set it up and
    migrate. Call before importing any model."""
    if str(REPOSITORY) not in sys.path:
        sys.path.insert(0, str(REPOSITORY))
    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith(("postgres://", "postgresql://")):
        ensure_postgres_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = settings

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    if connection.vendor == "postgresql":
        # Dead rows left by earlier benchmarks (each deletes its rows at the end) would slow
        # the scans down where autovacuum is off or has not come round yet.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE segments_profile")


def describe_machine() -> str:
    """The database and how busy the machine is: other work slows the figures down."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        version = cursor.fetchone()[0]
    return (
        f"database: {connection.vendor} {version} ({connection.settings_dict['NAME']}); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


def max_rss_mib() -> float:
    """The process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
