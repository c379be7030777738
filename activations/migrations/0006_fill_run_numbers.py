"""Number every existing run within its activation, oldest first."""

from django.db import migrations


def fill_run_numbers(apps, schema_editor):
    Run = apps.get_model("activations", "Run")
    changed = []
    activation_id, number = None, 0
    for run in Run.objects.order_by("activation_id", "queued_at", "pk").only(
        "pk", "activation_id", "number"
    ):
        if run.activation_id != activation_id:
            activation_id, number = run.activation_id, 0
        number += 1
        run.number = number
        changed.append(run)
        if len(changed) >= 1000:
            Run.objects.bulk_update(changed, ["number"])
            changed = []
    Run.objects.bulk_update(changed, ["number"])


class Migration(migrations.Migration):
    dependencies = [("activations", "0005_run_number")]

    operations = [migrations.RunPython(fill_run_numbers, migrations.RunPython.noop)]
