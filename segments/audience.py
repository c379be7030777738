"""A segment's audience: its profiles as a queryset, its size, and its rows as a stream."""

from collections.abc import Iterator

from django.db.models import QuerySet

from . import rules
from .models import Profile, Segment


def profiles_of(segment: Segment) -> QuerySet[Profile]:
    """The segment's profiles, in key order, as one database query (no Python-side filtering).

    Raises common.validation.InvalidInput when the rules no longer fit the parent's columns
    (a column was removed or retyped after the segment was saved).
    """
    parent = segment.parent_segment
    condition = rules.to_q(segment.rules, parent.columns)
    # An explicit order: Profile's default ordering joins the parent segment table.
    return Profile.objects.filter(parent_segment=parent).filter(condition).order_by("key")


def size(segment: Segment) -> int:
    """The number of matching profiles, counted by the database."""
    return profiles_of(segment).count()


def iter_rows(segment: Segment, *, chunk_size: int = 2000) -> Iterator[dict]:
    """Yield each matching profile's attributes dict, in key order, in constant memory.

    Pages by key (`key > last key seen`, which the (parent_segment, key) unique index serves)
    rather than by offset, so each page costs the same however deep into the audience it is,
    and only one page of rows is held at a time. The rules are compiled once, so a run
    straddling midnight keeps one meaning of `within_last_days`. Key order is the database's
    collation order (the same on both backends for ASCII keys).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    profiles = profiles_of(segment)
    last_key = None
    while True:
        page = profiles if last_key is None else profiles.filter(key__gt=last_key)
        chunk = list(page.values_list("key", "attributes")[:chunk_size])
        for _key, attributes in chunk:
            yield attributes
        if len(chunk) < chunk_size:
            return
        last_key = chunk[-1][0]
