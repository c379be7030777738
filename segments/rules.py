"""Segment rule trees: validation against the parent's columns, and compilation to one Q.

Pure: reads no rows and writes nothing. OWNER: helper A2 (stub).
"""

from django.db.models import Q


def validate(rules: dict, columns: list[dict]) -> None:
    """Raise common.validation.InvalidInput with paths like `conditions[1].conditions[0].value`."""
    raise NotImplementedError


def to_q(rules: dict, columns: list[dict], *, today=None) -> Q:
    """A Q over segments.Profile (fields `attributes__<column>`) that selects matching rows."""
    raise NotImplementedError
