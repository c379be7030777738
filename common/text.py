"""Text that a database can store: no NUL characters (PostgreSQL refuses them in text and
jsonb) and no lone surrogates (not encodable as UTF-8, so no database can store them)."""

from collections.abc import Iterable


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "NUL characters (\\u0000) are not allowed."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Lone surrogate characters (\\ud800-\\udfff) are not allowed."
    return None


def first_text_problem(texts: Iterable[str]) -> str | None:
    for text in texts:
        problem = text_problem(text)
        if problem:
            return problem
    return None
