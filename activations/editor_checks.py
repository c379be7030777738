"""The editor's "check before save": the form, the payload and the destination, every problem
keyed by where the editor shows it.

Keys are form field names (`object_name`, `key`, `connection`) or mapping paths
(`output_mapping.columns[2].output`). The destination is asked the same questions a run asks
first (`connector.export_problems`, the list form of `validate_export`), so a mapping that
passes here does not fail on its settings when it runs.
"""

from common.validation import InvalidInput
from connectors.base import ConnectorError
from connectors.services import without_secrets

from . import runner, services
from .models import Activation


def check(form, *, instance: Activation | None) -> dict:
    """{"problems": {key: [message, ...]}, "destination_checked": bool} for a bound form."""
    problems: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if not form.is_valid():
        for name, messages in form.errors.items():
            for message in messages:
                add(name or "__all__", message)
        form.check_mapping()
        _mapping_problems(form, add)
        return {"problems": problems, "destination_checked": False}
    try:
        values = services.validate_activation(
            form.payload(), workspace=form.segment.workspace, instance=instance
        )
    except InvalidInput as error:
        for path, messages in error.errors.items():
            field, _ = form.field_for_path(path)
            for message in messages:
                add(field or path, message)
        return {"problems": problems, "destination_checked": False}

    unsaved = Activation(workspace=form.segment.workspace, **values)
    columns = runner.output_columns(unsaved)
    connection = values["connection"]
    try:
        found = connection.connector.export_problems(runner.export_params(unsaved), columns)
    except ConnectorError as error:  # a login failure: the fix is in the connection
        add("connection", without_secrets(connection, error.message))
        return {"problems": problems, "destination_checked": False}
    unreachable = [problem for problem in found if problem.field in (None, "connection")]
    if unreachable:  # login or transport trouble: the destination could not judge anything
        for problem in unreachable:
            add("connection", without_secrets(connection, problem.message))
        return {"problems": problems, "destination_checked": False}
    for problem in found:
        add(
            _key_of(problem.field, form, unsaved.output_mapping),
            without_secrets(connection, problem.message),
        )
    return {"problems": problems, "destination_checked": True}


def _mapping_problems(form, add) -> None:
    for index, row in enumerate(form.mapping["columns"]):
        for field, messages in row["errors"].items():
            for message in messages:
                add(f"output_mapping.columns[{index}].{field}", message)
    for index, string in enumerate(form.mapping["strings"]):
        for field, messages in string["errors"].items():
            for message in messages:
                add(f"output_mapping.strings[{index}].{field}", message)
    for message in form.mapping_errors:
        add("output_mapping", message)


def _key_of(field: str | None, form, output_mapping: dict) -> str:
    """Where the editor shows a destination problem: a setting's form field, the row that
    outputs the named column, or the mapping as a whole."""
    if not field:
        return "connection"
    if field.startswith("export."):
        name, _ = form.field_for_path(field)
        return name or field
    if field == "connection":
        return field
    for index, column in enumerate(output_mapping.get("columns") or []):
        if (column.get("output") or column.get("source")) == field:
            return f"output_mapping.columns[{index}].output"
    for index, string in enumerate(output_mapping.get("strings") or []):
        if string.get("output") == field:
            return f"output_mapping.strings[{index}].output"
    if output_mapping.get("export_all_columns"):
        return "export_all_columns"
    return "output_mapping"
