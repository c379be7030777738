"""Segments and parent segments whose names repeat in a workspace get " (2)", " (3)"…, so
the unique constraints of the next migration can be added."""

from django.db import migrations

from common.names import deduplicate_names


def rename_duplicates(apps, schema_editor):
    deduplicate_names(apps.get_model("segments", "ParentSegment"))
    deduplicate_names(apps.get_model("segments", "Segment"))


class Migration(migrations.Migration):
    dependencies = [("segments", "0003_audiencesize")]

    operations = [migrations.RunPython(rename_duplicates, migrations.RunPython.noop)]
