"""`manage.py import_profiles <parent segment> <file.csv> [--mode replace|upsert]`."""

from django.core.management.base import BaseCommand, CommandError

from common.ids import parse_id
from segments.loading import MODES, import_profiles
from segments.models import ParentSegment


class Command(BaseCommand):
    help = (
        "Load a CSV file into a parent segment's rows. The header names the parent's columns "
        "(the key column is required). Nothing changes if any row is bad; the errors are "
        "listed with their line and column."
    )

    def add_arguments(self, parser):
        parser.add_argument("parent_segment", help="the parent segment's id or name")
        parser.add_argument("file", help="path of a UTF-8 CSV file")
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="replace",
            help="replace: the rows become exactly the file's (default); "
            "upsert: update rows by key, add new keys, keep the others",
        )

    def handle(self, *args, parent_segment, file, mode, **options):
        parent = find_parent_segment(parent_segment)
        try:
            with open(file, "rb") as csv_file:
                result = import_profiles(parent_segment=parent, file=csv_file, mode=mode)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        if not result.ok:
            for row_error in result.errors:
                self.stderr.write(str(row_error))
            if result.error_count > len(result.errors):
                self.stderr.write(f"... and {result.error_count - len(result.errors)} more")
            raise CommandError(
                f"{file} has {result.error_count} error(s); "
                f"{parent.name!r} (id {parent.pk}) was not changed."
            )
        self.stdout.write(
            f"Imported {result.rows_imported} rows into {parent.name!r} (id {parent.pk}, "
            f"mode {mode}); it now has {parent.row_count} rows."
        )


def find_parent_segment(reference: str) -> ParentSegment:
    if parse_id(reference) is not None:
        parent = ParentSegment.objects.filter(pk=parse_id(reference)).first()
        if parent is not None:
            return parent
    matches = list(ParentSegment.objects.filter(name=reference).select_related("workspace"))
    if not matches:
        raise CommandError(f"No parent segment has the id or name {reference!r}.")
    if len(matches) > 1:
        choices = ", ".join(f"{p.pk} (workspace {p.workspace.name!r})" for p in matches)
        raise CommandError(
            f"Several parent segments are named {reference!r}: ids {choices}; give the id."
        )
    return matches[0]
