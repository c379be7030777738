"""One reading of an object id, for every place an id arrives (URL, form, JSON, query).

`"²".isdigit()` is true but `int("²")` fails, `int("1e400")` fails, `float("1e400")` is
infinite and `10**30` overflows a 64-bit column: each of those reached a view as a 500. An id
here is a positive integer below 2**63, given as an int or as ASCII digits.
"""

MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """The id `value` names, or None when it names none (wrong type, not ASCII digits, 0,
    negative or beyond 64 bits). Booleans are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None
