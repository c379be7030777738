"""An activation's output mapping as SQL: the SELECT list whose values are the final CSV cells,
byte for byte what `mapping.render_rows` makes of the same rows (see `mapping.py`).

Pure (SQLAlchemy Core, no Django model): the cells are built where the rows live, from the
canonical text `segments.sql.Columns.text` gives, so the database hands out rows that only
need CSV encoding (or that PostgreSQL's COPY encodes itself).
"""

import sqlalchemy as sa

from segments import sql

from . import mapping


def salesforce_timestamp(text) -> sa.ColumnElement:
    """Stored "...T09:30:00Z" / "...T09:30:00.250000Z" -> Salesforce's ".SSS" precision;
    any other text passes unchanged (mapping._timestamp_cell in SQL)."""
    length = sa.func.length(text)
    fraction = sql._substr(text, 21, length - 21)
    return sa.case(
        (
            sa.and_(
                length >= 21,
                sql._substr(text, 20, 1) == ".",
                sql._substr(text, length, 1) == "Z",
                sql._substr(text, 11, 1) == "T",
            ),
            sql._substr(text, 1, 19) + "." + sql._substr(fraction + "000", 1, 3) + "Z",
        ),
        else_=text,
    )


def _empty_as_null(cell):
    return sa.func.nullif(cell, "")


def select(
    rows: sql.Rows,
    output_mapping: dict,
    *,
    columns: list[dict],
    context: mapping.RenderContext,
    null_value: str = "leave",
    empty_as_null: bool = False,
    limit: int | None = None,
    with_key: bool = False,
    key_index: int | None = None,
) -> sa.Select:
    """The SELECT of a segment's rows rendered through the mapping, in key order: one
    expression per output column, in `mapping.output_columns` order.

    `with_key` adds a trailing cell, the row's key as a run records it: the cell of output
    column `key_index` (update mode's key), or without one the parent's key column as text.

    Validates the mapping (InvalidInput) and `null_value` (ValueError) as render_rows does.
    `empty_as_null` turns empty cells into NULL, which PostgreSQL's COPY … CSV writes
    unquoted as the csv module does (an empty string it would write as ""); it is ignored
    for a single output column, where both write a lone empty cell as "".

    Two levels: the inner SELECT reads each value once (`Columns.raw`: for the profile store
    the one costly read of the row's JSON), the outer one turns it into its cell, looking at
    it as often as that takes (databases do not share a repeated expression). OFFSET 0 keeps
    PostgreSQL and SQLite from merging the two.
    """
    if null_value not in mapping.NULL_CELLS:
        raise ValueError(f"null_value must be one of: {', '.join(mapping.NULL_CELLS)}")
    mapping.validate(output_mapping, columns)
    null_cell = sa.literal(mapping.NULL_CELLS[null_value], sa.String)
    sources = mapping._sources(output_mapping, columns)
    raws = [
        rows.source.raw(name, column_type).label(f"v{index}")
        for index, (_output, name, column_type) in enumerate(sources)
    ]
    inner = rows.select(*raws, rows.key.label("row_key")).offset(0)
    values = inner.subquery("source_rows")
    strings = output_mapping.get("strings") or []
    empty_as_null = empty_as_null and len(sources) + len(strings) > 1
    cells = []
    for index, (_output, _name, column_type) in enumerate(sources):
        text = rows.source.text_of(values.c[f"v{index}"], column_type)
        if column_type == "timestamp":
            text = salesforce_timestamp(text)
        cells.append(
            text if null_cell.value == "" and empty_as_null else sa.func.coalesce(text, null_cell)
        )
    for builder in strings:
        cells.append(sa.literal(mapping._build_string(builder["parts"], context), sa.String))
    if empty_as_null:
        cells = [_empty_as_null(cell) for cell in cells]
    if with_key:
        cells.append(
            sa.cast(values.c.row_key, sa.String) if key_index is None else cells[key_index]
        )
    statement = sa.select(*(cell.label(f"c{index}") for index, cell in enumerate(cells)))
    statement = statement.select_from(values).order_by(values.c.row_key)
    return statement if limit is None else statement.limit(limit)
