"""The output mapping: validation, the output column names, and the row renderer.

Pure: takes plain data, reads and writes nothing. OWNER: helper A2 (stub).
"""


def validate(mapping: dict, columns: list[dict]) -> None:
    """Raise InvalidInput with paths relative to the mapping (`columns[2].output`)."""
    raise NotImplementedError


def output_columns(mapping: dict, columns: list[dict]) -> list[str]:
    raise NotImplementedError


def render_rows(mapping, *, columns, rows, context, null_value="leave"):
    """Yield one list of final CSV cell strings per input attributes dict."""
    raise NotImplementedError
