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


def cells(
    output_mapping: dict,
    *,
    columns: list[dict],
    source: sql.Columns,
    context: mapping.RenderContext,
    null_value: str = "leave",
    empty_as_null: bool = False,
) -> list[sa.ColumnElement]:
    """One SQL expression per output column, in `mapping.output_columns` order.

    Validates the mapping (InvalidInput) and `null_value` (ValueError) as render_rows does.
    `empty_as_null` turns empty cells into NULL, which PostgreSQL's COPY … CSV writes
    unquoted as the csv module does (an empty string it would write as ""); it is ignored
    for a single output column, where both write a lone empty cell as "".
    """
    if null_value not in mapping.NULL_CELLS:
        raise ValueError(f"null_value must be one of: {', '.join(mapping.NULL_CELLS)}")
    mapping.validate(output_mapping, columns)
    null_cell = mapping.NULL_CELLS[null_value]
    result = []
    for _output, name, column_type in mapping._sources(output_mapping, columns):
        text = source.text(name, column_type)
        if column_type == "timestamp":
            text = salesforce_timestamp(text)
        result.append(sa.func.coalesce(text, sa.literal(null_cell, sa.String)))
    for builder in output_mapping.get("strings") or []:
        result.append(sa.literal(mapping._build_string(builder["parts"], context), sa.String))
    if empty_as_null and len(result) > 1:
        result = [sa.func.nullif(cell, "") for cell in result]
    return [cell.label(f"c{index}") for index, cell in enumerate(result)]


def select(
    rows: sql.Rows,
    output_mapping: dict,
    *,
    columns: list[dict],
    context: mapping.RenderContext,
    null_value: str = "leave",
    empty_as_null: bool = False,
    limit: int | None = None,
) -> sa.Select:
    """The SELECT of a segment's rows rendered through the mapping, in key order."""
    statement = rows.select(
        *cells(
            output_mapping,
            columns=columns,
            source=rows.source,
            context=context,
            null_value=null_value,
            empty_as_null=empty_as_null,
        )
    )
    return statement if limit is None else statement.limit(limit)
