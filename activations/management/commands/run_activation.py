"""Queue a run of an activation now, or run it inline with --wait."""

from django.core.management.base import BaseCommand, CommandError

from activations import runner, services
from activations.models import Activation, Run


class Command(BaseCommand):
    help = (
        "Queue a manual run of an activation for the workers, or with --wait run it in this "
        "process and print how it ended."
    )

    def add_arguments(self, parser):
        parser.add_argument("activation_id", type=int)
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Run here instead of queueing for a worker, and print the result.",
        )

    def handle(self, *args, activation_id, wait, **options):
        activation = Activation.objects.filter(pk=activation_id).first()
        if activation is None:
            raise CommandError(f"There is no activation {activation_id}.")
        try:
            run = services.request_run(
                activation=activation, trigger=Run.Trigger.MANUAL, publish=not wait
            )
        except services.RunConflict as conflict:
            raise CommandError(conflict.message) from None
        if not wait:
            self.stdout.write(f"Queued run {run.pk} of activation {activation.pk} ({activation}).")
            return
        self.stdout.write(f"Running run {run.pk} of activation {activation.pk} ({activation})...")
        runner.execute_run(run.pk, background_heartbeat=True)
        run.refresh_from_db()
        self.stdout.write(f"Run {run.pk}: {Run.Status(run.status).label}")
        self.stdout.write(
            f"Rows read {run.rows_read}, sent {run.rows_sent}, succeeded {run.rows_succeeded}, "
            f"failed {run.rows_failed}"
        )
        if run.salesforce_job_ids:
            self.stdout.write(f"Salesforce jobs: {', '.join(run.salesforce_job_ids)}")
        if run.error:
            self.stdout.write(f"Error: {run.error}")
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} ended {Run.Status(run.status).label.lower()}.")
