"""A segment's audience: its profiles as a queryset, its size, and its rows as a stream.

OWNER: helper A2 (stub).
"""


def profiles_of(segment):
    """The segment's profiles as one database query (no Python-side filtering)."""
    raise NotImplementedError


def size(segment) -> int:
    raise NotImplementedError


def iter_rows(segment, *, chunk_size: int = 2000):
    """Yield each matching profile's attributes dict, in key order, in constant memory."""
    raise NotImplementedError
