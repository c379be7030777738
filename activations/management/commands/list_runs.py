"""List recent runs as a table, for operators."""

from django.core.management.base import BaseCommand, CommandError

from activations.models import Run

COLUMNS = [
    ("ID", 6),
    ("ACTIVATION", 24),
    ("TRIGGER", 8),
    ("STATUS", 16),
    ("QUEUED AT (UTC)", 19),
    ("READ", 9),
    ("SUCCEEDED", 9),
    ("FAILED", 9),
    ("ERROR", 0),
]


class Command(BaseCommand):
    help = "List runs, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--activation", type=int, help="Only runs of this activation id.")
        parser.add_argument(
            "--status",
            choices=Run.Status.values,
            help="Only runs in this status.",
        )
        parser.add_argument("--limit", type=int, default=20, help="At most this many (20).")

    def handle(self, *args, activation, status, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        runs = Run.objects.select_related("activation")
        if activation is not None:
            runs = runs.filter(activation_id=activation)
        if status:
            runs = runs.filter(status=status)
        runs = list(runs[:limit])
        if not runs:
            self.stdout.write("No runs.")
            return
        self.stdout.write(self._line([title for title, _ in COLUMNS]))
        for run in runs:
            error = run.error.splitlines()[0] if run.error else ""
            self.stdout.write(
                self._line(
                    [
                        str(run.pk),
                        f"{run.activation_id} {run.activation.name}",
                        run.trigger,
                        run.status,
                        run.queued_at.strftime("%Y-%m-%d %H:%M:%S"),
                        str(run.rows_read),
                        str(run.rows_succeeded),
                        str(run.rows_failed),
                        error[:80],
                    ]
                )
            )

    def _line(self, cells: list[str]) -> str:
        parts = []
        for cell, (_, width) in zip(cells, COLUMNS, strict=True):
            if width and len(cell) > width:
                cell = cell[: width - 1] + "…"
            parts.append(cell.ljust(width) if width else cell)
        return "  ".join(parts).rstrip()
