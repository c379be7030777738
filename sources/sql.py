"""User SQL: it must parse as exactly one SELECT that reads and writes nothing.

A parser, not a pattern: sqlglot reads the statement in the source's own dialect, so a
comment, a string literal or a second statement hidden after a semicolon cannot fool it.
The database's read-only transaction (sources/access.py) is the second guard.
"""

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from common.validation import InvalidInput

# SQLAlchemy dialect names whose sqlglot dialect has another name; others are tried as is.
SQLGLOT_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "awsathena": "athena"}
WRITING_NODES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
)
MAX_QUERY_LENGTH = 100_000


def sqlglot_dialect(kind: str) -> str | None:
    name = SQLGLOT_DIALECTS.get(kind, kind)
    try:
        sqlglot.Dialect.get_or_raise(name)
    except ValueError:
        return None  # sqlglot's generic dialect
    return name


def check_select(query, kind: str, path: str = "query") -> str:
    """The query with surrounding spaces and a final semicolon removed; InvalidInput on `path`
    unless it is exactly one SELECT (UNION/INTERSECT/EXCEPT and WITH included) with no
    writing part (SELECT INTO, FOR UPDATE, a data-modifying WITH)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput({path: ["required: a SELECT statement"]})
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput({path: [f"at most {MAX_QUERY_LENGTH} characters"]})
    try:
        statements = [s for s in sqlglot.parse(query, read=sqlglot_dialect(kind)) if s]
    except ParseError as error:
        raise InvalidInput({path: [f"cannot be parsed as SQL: {_first_error(error)}"]}) from None
    except TokenError:
        # An unterminated quote or comment, before any parsing.
        raise InvalidInput(
            {path: ["cannot be parsed as SQL: a quote or comment is not closed"]}
        ) from None
    if len(statements) != 1:
        raise InvalidInput(
            {path: [f"must be exactly one SELECT statement, found {len(statements)} statements"]}
        )
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        raise InvalidInput(
            {
                path: [
                    f"must be a SELECT statement, not {statement.key.upper()}: sources are read-only"
                ]
            }
        )
    for node in statement.walk():
        if isinstance(node, WRITING_NODES):
            raise InvalidInput(
                {path: [f"must only read: it contains {node.key.upper()}; sources are read-only"]}
            )
    return query.strip().rstrip(";").strip()


def _first_error(error: ParseError) -> str:
    details = error.errors[0] if error.errors else {}
    message = details.get("description") or str(error).splitlines()[0]
    if details.get("line"):
        return f"{message} (line {details['line']}, column {details.get('col')})"
    return message
