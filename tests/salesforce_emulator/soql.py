"""A small SOQL subset: SELECT fields FROM Object [WHERE a = 'x' AND b IN (...)] [LIMIT n]."""

import re
from dataclasses import dataclass

from .schema import Schema
from .store import fold
from .values import RowError, parse_cell
from .web import ApiError

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op>!=|<=|>=|=|<|>|\(|\)|,)|(?P<word>[^\s,()=!<>']+))"
)
NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, "
    "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)


@dataclass
class Condition:
    field: dict
    operator: str  # "=", "!=", "IN", "NOT IN"
    values: list  # stored-form values (None for null)


@dataclass
class Query:
    object_name: str
    fields: list[dict]
    conditions: list[Condition]
    limit: int | None


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise malformed(f"unexpected token: {text[position : position + 20]}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse(text: str, schema: Schema) -> Query:
    """Parse a query; raises ApiError with Salesforce's codes for unknown objects/fields."""
    tokens = tokenize(text)
    words = [value.upper() if kind == "word" else value for kind, value in tokens]
    if not words or words[0] != "SELECT" or "FROM" not in words:
        raise malformed("unexpected token: expected SELECT ... FROM ...")
    from_at = words.index("FROM")
    names = [value for kind, value in tokens[1:from_at] if kind == "word"]
    if not names or from_at + 1 >= len(tokens):
        raise malformed("unexpected token: FROM")
    object_name = schema.object_name(tokens[from_at + 1][1])
    # An object the user may not query answers as if it did not exist.
    if object_name is None or not schema.allows(object_name, "queryable"):
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"sObject type '{tokens[from_at + 1][1]}' is not supported. If you are attempting "
            "to use a custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )
    fields = [resolve(schema, object_name, name) for name in names]
    rest = tokens[from_at + 2 :]
    conditions, limit = [], None
    position = 0
    if position < len(rest) and rest[position][1].upper() == "WHERE":
        position += 1
        while True:
            condition, position = parse_condition(rest, position, schema, object_name)
            conditions.append(condition)
            if position < len(rest) and rest[position][1].upper() == "AND":
                position += 1
                continue
            break
    if position < len(rest) and rest[position][1].upper() == "LIMIT":
        try:
            limit = int(rest[position + 1][1])
        except (IndexError, ValueError):
            raise malformed("unexpected token: LIMIT") from None
        position += 2
    if position != len(rest):
        raise malformed(f"unexpected token: {rest[position][1]}")
    return Query(object_name, fields, conditions, limit)


def resolve(schema: Schema, object_name: str, name: str) -> dict:
    field = schema.field(object_name, name)
    if field is None:
        raise ApiError(400, "INVALID_FIELD", NO_SUCH_COLUMN.format(name=name, object=object_name))
    return field


def parse_condition(tokens, position, schema, object_name) -> tuple[Condition, int]:
    try:
        field = resolve(schema, object_name, tokens[position][1])
        operator = tokens[position + 1][1].upper()
        position += 2
        if operator == "NOT" and tokens[position][1].upper() == "IN":
            operator, position = "NOT IN", position + 1
        if operator in ("IN", "NOT IN"):
            if tokens[position][1] != "(":
                raise malformed("unexpected token: expected (")
            values, position = [], position + 1
            while tokens[position][1] != ")":
                if tokens[position][1] != ",":
                    values.append(literal(tokens[position], field))
                position += 1
            return Condition(field, operator, values), position + 1
        if operator not in ("=", "!="):
            raise malformed(f"unsupported operator: {operator}")
        return Condition(field, operator, [literal(tokens[position], field)]), position + 1
    except IndexError:
        raise malformed("unexpected end of query") from None


def literal(token: tuple[str, str], field: dict):
    kind, value = token
    if kind == "string":
        text = re.sub(r"\\(.)", r"\1", value[1:-1])
    elif value.lower() == "null":
        return None
    else:
        text = value
    try:
        return parse_cell(text, field, column=0)
    except RowError:
        raise malformed(
            f"value of filter criterion for field '{field['name']}' must be of type {field['type']}"
        ) from None


def matches(query: Query, record: dict) -> bool:
    for condition in query.conditions:
        value = fold(record.get(condition.field["name"]), condition.field)
        wanted = [fold(item, condition.field) for item in condition.values]
        found = value in wanted
        if condition.operator in ("=", "IN") and not found:
            return False
        if condition.operator in ("!=", "NOT IN") and found:
            return False
    return True
