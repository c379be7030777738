"""The database cache's table (settings.CACHES without REDIS_URL/CACHE_URL), where throttle
counters are shared by every web process; `migrate` on a fresh machine creates it."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # Creates the table of each configured DatabaseCache (none with Redis); idempotent.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
