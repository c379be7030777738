"""Connections whose names repeat in a workspace get " (2)", " (3)"…, so the unique
constraint of the next migration can be added."""

from django.db import migrations

from common.names import deduplicate_names


def rename_duplicates(apps, schema_editor):
    deduplicate_names(apps.get_model("connectors", "Connection"))


class Migration(migrations.Migration):
    dependencies = [("connectors", "0001_initial")]

    operations = [migrations.RunPython(rename_duplicates, migrations.RunPython.noop)]
