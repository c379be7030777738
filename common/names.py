"""Names unique per workspace (segments, parent segments, connections), compared ignoring
case: the check services make before saving, and the fix-up for rows saved before the rule."""

from django.db import IntegrityError

from .validation import InvalidInput


def check_name_free(queryset, *, name: str, current_pk=None, noun: str) -> None:
    """Raise InvalidInput on `name` when another row of `queryset` (one workspace's rows)
    already has this name, ignoring case."""
    if not name:
        return
    clash = queryset.filter(name__iexact=name)
    if current_pk is not None:
        clash = clash.exclude(pk=current_pk)
    existing = clash.values_list("name", flat=True).first()
    if existing is not None:
        raise InvalidInput(
            {"name": [f"A {noun} named “{existing}” already exists in this workspace."]}
        )


def name_taken_error(error: IntegrityError, *, name: str, noun: str) -> InvalidInput | None:
    """The InvalidInput for a unique-name violation that a concurrent save won, else None."""
    if "name" not in str(error).lower():
        return None
    return InvalidInput({"name": [f"A {noun} named “{name}” already exists in this workspace."]})


def deduplicate_names(model, *, max_length: int = 200) -> None:
    """Rename rows whose name repeats another's in the same workspace (ignoring case):
    the oldest keeps it, the others become "Name (2)", "Name (3)"… For a data migration,
    before the unique constraint is added; works on historical models."""
    seen: dict[tuple[int, str], int] = {}
    taken = {
        (row.workspace_id, row.name.lower()) for row in model.objects.only("workspace_id", "name")
    }
    for row in model.objects.order_by("pk").only("pk", "workspace_id", "name"):
        key = (row.workspace_id, row.name.lower())
        if key not in seen:
            seen[key] = 1
            continue
        number = seen[key]
        while True:
            number += 1
            suffix = f" ({number})"
            candidate = row.name[: max_length - len(suffix)] + suffix
            if (row.workspace_id, candidate.lower()) not in taken:
                break
        seen[key] = number
        taken.add((row.workspace_id, candidate.lower()))
        model.objects.filter(pk=row.pk).update(name=candidate)
