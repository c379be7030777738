"""A segment's audience: its profiles as a queryset, its size, and its rows as a stream
(read in the source for a live parent: segments/live.py; in its table for a snapshot parent:
segments/snapshots.py)."""

import datetime
import itertools
from collections.abc import Iterator

from django.db.models import QuerySet

from . import live, snapshots, sqlexec
from .models import ParentSegment, Profile, Segment


def profiles_of(segment: Segment, *, zone: datetime.tzinfo | None = None) -> QuerySet[Profile]:
    """The segment's profiles, in key order, as one database query (no Python-side filtering).

    The rules are compiled by segments.sql (`zone`, default the current time zone, sets the
    days of `within_last_days`). Raises common.validation.InvalidInput when the rules no
    longer fit the parent's columns (a column was removed or retyped after the segment was
    saved).
    """
    parent = segment.parent_segment
    condition = sqlexec.condition(parent, segment.rules, zone=zone)
    # An explicit order: Profile's default ordering joins the parent segment table.
    return Profile.objects.filter(parent_segment=parent).filter(condition).order_by("key")


def size(segment: Segment) -> int:
    """The number of matching profiles, counted by the database (a live parent's source)."""
    if live.is_live(segment.parent_segment):
        return live.size(segment)
    if snapshots.is_snapshot(segment.parent_segment):
        return sqlexec.fetch_all(sqlexec.segment_rows(segment).count())[0][0]
    return profiles_of(segment).count()


def iter_rows(
    segment: Segment, *, chunk_size: int = 2000, zone: datetime.tzinfo | None = None
) -> Iterator[dict]:
    """Yield each matching profile's attributes dict, in key order, in constant memory.

    Walks the parent's profiles in windows of `chunk_size` consecutive keys: one query finds
    the window's last key on the (parent_segment, key) unique index, a second fetches the
    window's matching rows. Each window costs the same however deep into the parent it is
    and however selective the rules are; paging the filtered rows with `key > last ORDER BY
    key LIMIT n` instead lets PostgreSQL, which cannot estimate the JSON conditions, sort all
    remaining matches for every page. At most one window of rows is held at a time. The rules
    are compiled once, so a run straddling midnight keeps one meaning of `within_last_days`.
    Key order is the database's collation order (the same on both backends for ASCII keys).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if live.is_live(segment.parent_segment):
        # One streamed SELECT in the source (segments/live.py), already in key order.
        yield from live.iter_rows(segment, zone=zone)
        return
    if snapshots.is_snapshot(segment.parent_segment):
        # One streamed SELECT over the snapshot table, in key order (its unique index).
        yield from snapshot_rows(segment.parent_segment, segment.rules, zone=zone)
        return
    matching = profiles_of(segment, zone=zone).values_list("attributes", flat=True)
    keys = (
        Profile.objects.filter(parent_segment_id=segment.parent_segment_id)
        .order_by("key")
        .values_list("key", flat=True)
    )
    last_key = None
    while True:
        if last_key is None:
            window_keys, window = keys, matching
        else:
            window_keys = keys.filter(key__gt=last_key)
            window = matching.filter(key__gt=last_key)
        window_end = list(window_keys[chunk_size - 1 : chunk_size])
        if window_end:
            window = window.filter(key__lte=window_end[0])
        yield from list(window)
        if not window_end:
            return
        last_key = window_end[0]


def sample(segment: Segment, limit: int) -> list[dict]:
    """The first `limit` matching rows in key order, read with a LIMIT where the rows are a
    table (a live source, a snapshot), by windows of keys in profiles."""
    parent = segment.parent_segment
    if live.is_live(parent):
        return list(live.rows_of(parent, segment.rules, limit=limit))
    if snapshots.is_snapshot(parent):
        return list(snapshot_rows(parent, segment.rules, limit=limit))
    return list(itertools.islice(iter_rows(segment, chunk_size=2000), limit))


def snapshot_rows(
    parent: ParentSegment,
    tree: dict,
    *,
    zone: datetime.tzinfo | None = None,
    limit: int | None = None,
) -> Iterator[dict]:
    """The rows of a snapshot parent matching `tree` (the first `limit`), as attributes."""
    rows = sqlexec.parent_rows(parent, tree, zone=zone)
    statement = live.attribute_select(rows, parent, "postgresql", limit=limit)
    numbers = [(i, c["name"]) for i, c in enumerate(parent.columns) if c["type"] == "number"]
    for values in sqlexec.stream(statement):
        row = live.as_attributes(parent, values)
        for index, name in numbers:
            row[name] = snapshots.profile_number(values[index])
        yield row
